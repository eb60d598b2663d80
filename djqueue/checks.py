"""System checks: a wrong setting is reported by ``manage.py check``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.apps import AppConfig

    from .commands.command import QueueCommand
    from .conf import QueueConfig

    Need = tuple[str, Callable[[QueueCommand[..., Any]], bool], str, str, str, str]

from importlib import import_module
from importlib.util import find_spec

from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .backends.database.router import check_routing
from .backends.database.sqlite_tuning import check_databases
from .backends.handler import load_backend
from .commands.registry import registry
from .conf import queue_configs, settings
from .envelope.serializers import load_serializer

#: The modules that register the system check of the tasks framework's
#: backends: Django's own (6.0+), then the django-tasks backport's.
TASK_CHECK_MODULES = ("django.tasks.checks", "django_tasks.checks")


def register_task_checks() -> None:
    """Make ``manage.py check`` run the checks of djqueue's ``TASKS``
    backends (``djqueue.E030``, ``djqueue.E031``) whatever was imported
    first.

    The tasks framework registers the check that runs every backend's
    ``check()`` only when ``django.tasks`` is imported (the backport: when
    its app is installed), which a project need not do before ``check`` or
    ``run_queue``. Called from ``AppConfig.ready()`` when ``TASKS`` names
    a djqueue backend; importing the module registers its check once.
    """
    try:
        from .contrib.tasks.backend import DjqueueBackend
    except ImportError:  # no tasks framework: no djqueue backend to check
        return
    entries = getattr(django_settings, "TASKS", None)
    if not isinstance(entries, dict) or not any(
        _is_djqueue_backend(entry, DjqueueBackend) for entry in entries.values()
    ):
        return
    for name in TASK_CHECK_MODULES:
        try:
            import_module(name)
        except ImportError:
            continue
        return


def _is_djqueue_backend(entry: Any, backend_class: type) -> bool:
    try:
        backend = import_string(entry["BACKEND"])
    except (ImportError, KeyError, TypeError):
        return False
    return isinstance(backend, type) and issubclass(backend, backend_class)


@checks.register("djqueue")
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors = _check_numbers() + _check_metrics_token() + _check_integrations()
    try:
        configs = queue_configs()
    except ImproperlyConfigured as exc:
        return [*errors, checks.Error(str(exc), id="djqueue.E001")]
    for config in configs.values():
        errors.extend(_check_queue(config))
    errors.extend(_check_commands(set(configs)))
    errors.extend(_check_backend_support(configs))
    errors.extend(check_databases())
    errors.extend(check_routing())
    return errors


def _check_metrics_token() -> list[checks.CheckMessage]:
    token = settings.QUEUE_METRICS_TOKEN
    if token is None or isinstance(token, str):
        return []
    return [
        checks.Error(
            f"QUEUE_METRICS_TOKEN must be a string or None, not {token!r}.",
            hint="Read the token from the environment, for example "
            "os.environ.get('DJQUEUE_METRICS_TOKEN').",
            id="djqueue.E008",
        )
    ]


def _check_integrations() -> list[checks.CheckMessage]:
    """An integration turned on needs its package."""
    errors: list[checks.CheckMessage] = []
    if settings.QUEUE_OPENTELEMETRY and find_spec("opentelemetry") is None:
        errors.append(
            checks.Error(
                "QUEUE_OPENTELEMETRY is on, but OpenTelemetry is not installed.",
                hint="Install djqueue[opentelemetry], or turn QUEUE_OPENTELEMETRY off.",
                id="djqueue.E040",
            )
        )
    if settings.QUEUE_SENTRY and find_spec("sentry_sdk") is None:
        errors.append(
            checks.Error(
                "QUEUE_SENTRY is on, but sentry-sdk is not installed.",
                hint="Install djqueue[sentry], or turn QUEUE_SENTRY off.",
                id="djqueue.E041",
            )
        )
    return errors


def _check_numbers() -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for name, allow_none in (
        ("QUEUE_RESULT_TTL", False),
        ("QUEUE_FAILED_TTL", True),
        ("QUEUE_LEASE_SECONDS", False),
        ("QUEUE_ACK_INTERVAL", False),
    ):
        value = getattr(settings, name)
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            errors.append(
                checks.Error(
                    f"{name} must be a number of seconds ≥ 0, not {value!r}.",
                    hint="None is allowed only for QUEUE_FAILED_TTL (keep for ever).",
                    id="djqueue.E005",
                )
            )
    redeliveries = settings.QUEUE_REDELIVERIES
    if (
        isinstance(redeliveries, bool)
        or not isinstance(redeliveries, int)
        or redeliveries < 0
    ):
        errors.append(
            checks.Error(
                f"QUEUE_REDELIVERIES must be an integer ≥ 0, not {redeliveries!r}.",
                id="djqueue.E005",
            )
        )
    if settings.QUEUE_LEASE_SECONDS == 0:
        errors.append(
            checks.Error(
                "QUEUE_LEASE_SECONDS must be positive.",
                hint="Use a few times the longest pause you expect in a worker; "
                "30 is the default.",
                id="djqueue.E005",
            )
        )
    interval, lease = settings.QUEUE_ACK_INTERVAL, settings.QUEUE_LEASE_SECONDS
    if not errors and interval * 10 > lease:
        errors.append(
            checks.Error(
                f"QUEUE_ACK_INTERVAL ({interval!r}) must be well inside the lease: "
                f"at most a tenth of QUEUE_LEASE_SECONDS ({lease!r}).",
                hint="The default, 0.005, stores acknowledgements within 5 ms.",
                id="djqueue.E005",
            )
        )
    return errors


def _check_queue(config: QueueConfig) -> list[checks.CheckMessage]:
    try:
        backend = load_backend(config.backend)
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                str(exc),
                hint="Use 'djqueue.backends.database.DatabaseQueue', "
                "'djqueue.backends.redis.RedisQueue' or the dotted path of a "
                "BaseQueue subclass.",
                obj=config.name,
                id="djqueue.E002",
            )
        ]
    errors = list(backend.check_config(config.name, config.connection, config.options))
    try:
        load_serializer(config.serializer)
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), obj=config.name, id="djqueue.E003"))
    return errors


def _check_commands(queue_names: set[str]) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"Command {command.name!r} uses the queue {command.options.queue!r}, "
            "which is not configured.",
            hint=f"Configure it in QUEUES or use one of {sorted(queue_names)}.",
            obj=command.name,
            id="djqueue.E004",
        )
        for command in registry
        if command.options.queue not in queue_names
    ]


#: What a command may need of its queue's backend: the flag that grants it,
#: whether the command needs it, the check id, what the message says the
#: command has and the backend lacks, and what to remove instead.
_NEEDS: tuple[
    tuple[str, Callable[[QueueCommand[..., Any]], bool], str, str, str, str], ...
] = (
    (
        "supports_lock_keys",
        lambda command: command.options.lock_key is not None,
        "djqueue.E009",
        "has a lock_key",
        "lock keys",
        "the lock_key",
    ),
    (
        "supports_unique",
        lambda command: bool(command.options.unique or command.options.unique_key),
        "djqueue.E011",
        "is unique",
        "unique keys",
        "unique and unique_key",
    ),
    (
        "supports_expiry",
        lambda command: command.options.expires is not None,
        "djqueue.E015",
        "expires",
        "deadlines by which messages must start",
        "expires",
    ),
    (
        "supports_periodic",
        lambda command: command.name in _periodic_names(),
        "djqueue.E012",
        "is periodic",
        "periodic ticks",
        "its schedule",
    ),
)


def _periodic_names() -> set[str]:
    from .commands.periodic import periodic_commands

    return {entry.command.name for entry in periodic_commands()}


def _check_backend_support(
    configs: Mapping[str, QueueConfig],
) -> list[checks.CheckMessage]:
    """A command's lock key, unique key or schedule needs a backend that
    supports it."""
    errors: list[checks.CheckMessage] = []
    for command in registry:
        config = configs.get(command.options.queue)
        if config is None:
            continue
        try:
            backend = load_backend(config.backend)
        except ImproperlyConfigured:
            continue  # djqueue.E002
        for flag, needs, check_id, has, part, remove in _NEEDS:
            if needs(command) and not getattr(backend, flag):
                errors.append(
                    checks.Error(
                        f"Command {command.name!r} {has}, but its queue "
                        f"{config.name!r} uses {backend.__name__}, which does "
                        f"not support {part}.",
                        hint="Use a backend that does (DatabaseQueue, "
                        f"RedisQueue), or remove {remove}.",
                        obj=command.name,
                        id=check_id,
                    )
                )
    return errors
