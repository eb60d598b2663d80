"""The typed surface names every command option.

What mypy makes of the public API is checked in CI by running it on
``tests/typing_usage.py``; these tests keep the typed signatures from
drifting from :class:`~djqueue.CommandOptions` as options are added.
"""

import dataclasses
import inspect
import typing

from djqueue import CommandOptions, QueueCommand, queue_command
from djqueue.commands.options import CommandArguments

OPTIONS = {field.name for field in dataclasses.fields(CommandOptions)}


def test_the_overload_of_queue_command_with_options_lists_every_option():
    """``@queue_command(...)`` type-checks with any option, ``name`` too."""
    *bare, with_options = typing.get_overloads(queue_command)
    assert len(bare) == 2  # async def functions, then the others
    assert all(list(inspect.signature(b).parameters) == ["func"] for b in bare)
    assert set(inspect.signature(with_options).parameters) == OPTIONS | {"name"}


def test_periodic_command_takes_every_option():
    """``@periodic_command``'s other keyword arguments are every option."""
    assert set(typing.get_type_hints(CommandArguments)) == OPTIONS | {"name"}


def test_using_takes_every_option():
    """``command.using(...)`` changes any option."""
    parameters = set(inspect.signature(QueueCommand.using).parameters)
    assert parameters == OPTIONS | {"self"}
