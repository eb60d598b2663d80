"""The registry of commands, filled by autodiscovery of ``commands.py``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..exceptions import CommandNotFound, DuplicateCommand

if TYPE_CHECKING:
    from ..envelope.message import Message
    from .command import QueueCommand


def _origin(command: QueueCommand[Any, Any]) -> str:
    func = command.func
    return f"{func.__module__}.{func.__qualname__}"


class CommandRegistry:
    """Commands by their stable name.

    Registering a second, different function under a name that is taken
    raises ``DuplicateCommand`` naming both; registering the same function
    again (a module imported twice, a reload) replaces the entry.

    Messages of another origin (the django.tasks backend's) carry an option
    that says so, and run the command that the resolver registered for that
    option returns, never a registered one.
    """

    def __init__(self) -> None:
        self._commands: dict[str, QueueCommand[Any, Any]] = {}
        self._resolvers: dict[str, Callable[[Message], QueueCommand[Any, Any]]] = {}
        self._lock = threading.Lock()

    def add_resolver(
        self, option: str, resolver: Callable[[Message], QueueCommand[Any, Any]]
    ) -> None:
        """Run the messages whose options hold ``option`` with the command
        ``resolver(message)`` returns (or raises ``CommandNotFound`` for)."""
        self._resolvers[option] = resolver

    def resolve(self, option: str, message: Message) -> QueueCommand[Any, Any]:
        """The command that runs ``message``, marked with ``option``."""
        resolver = self._resolvers.get(option)
        if resolver is None:
            raise CommandNotFound(
                f"the message is marked {option!r}, and nothing here resolves "
                "such messages: is djqueue in INSTALLED_APPS?"
            )
        return resolver(message)

    def register(self, command: QueueCommand[Any, Any]) -> None:
        with self._lock:
            existing = self._commands.get(command.name)
            if existing is not None and _origin(existing) != _origin(command):
                raise DuplicateCommand(
                    f"Two commands are registered as {command.name!r}: "
                    f"{_origin(existing)} and {_origin(command)}. Give one of "
                    "them another name with @queue_command(name=...)."
                )
            self._commands[command.name] = command

    def unregister(self, name: str) -> None:
        with self._lock:
            self._commands.pop(name, None)

    def get(self, name: str) -> QueueCommand[Any, Any]:
        try:
            return self._commands[name]
        except KeyError:
            raise CommandNotFound(
                f"no command is registered as {name!r}: is its app in "
                "INSTALLED_APPS, and is the function decorated with "
                "@queue_command in the app's commands.py?"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._commands

    def __iter__(self) -> Iterator[QueueCommand[Any, Any]]:
        return iter(sorted(self._commands.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._commands)


registry = CommandRegistry()


def autodiscover() -> None:
    """Import the ``commands`` module of every installed app, if it has one."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("commands")
