from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjqueueConfig(AppConfig):
    name = "djqueue"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Queues")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import checks  # registers the system checks
        from .backends.database.sqlite_tuning import tune_connection
        from .registry import autodiscover

        checks.register_task_checks()
        connection_created.connect(tune_connection, dispatch_uid="djqueue.sqlite")
        autodiscover()
