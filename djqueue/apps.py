from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .commands.command import QueueCommand
    from .envelope.message import Message


class DjqueueConfig(AppConfig):
    name = "djqueue"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Queues")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import checks  # registers the system checks
        from .backends.database.sqlite_tuning import tune_connection
        from .commands.enqueue import install_inline_runner
        from .commands.registry import autodiscover, registry
        from .consumer.immediate import run_inline

        checks.register_task_checks()
        connection_created.connect(tune_connection, dispatch_uid="djqueue.sqlite")
        # The caller's and the consumer's sides import neither immediate mode
        # nor the django.tasks backend, which sit above them.
        install_inline_runner(run_inline)
        registry.add_resolver("django_task", resolve_django_task)
        install_integrations()
        autodiscover()


def install_integrations() -> None:
    """Install the integrations that settings turn on (read once, here)."""
    from .conf import settings

    if settings.QUEUE_OPENTELEMETRY:
        try:
            from .contrib.opentelemetry import install
        except ImportError:
            pass  # djqueue.E040 says so
        else:
            install()
    if settings.QUEUE_SENTRY:
        try:
            from .contrib.sentry import install as install_sentry
        except ImportError:
            pass  # djqueue.E041 says so
        else:
            install_sentry()


def resolve_django_task(message: Message) -> QueueCommand[Any, Any]:
    """The command that runs a message enqueued through django.tasks; its
    module is imported only when such a message runs."""
    from .exceptions import CommandNotFound, describe

    try:
        from .contrib.tasks.backend import resolve
    except ImportError as exc:
        raise CommandNotFound(
            f"the message was enqueued through django.tasks, which cannot be "
            f"loaded here ({describe(exc)}): install django-tasks on Django "
            "5.2, or use Django 6.0 or later"
        ) from None
    return resolve(message)
