from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjqueueConfig(AppConfig):
    name = "djqueue"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Queues")

    def ready(self) -> None:
        from . import checks  # registers the system checks
        from .registry import autodiscover

        checks.register_task_checks()
        autodiscover()
