"""djqueue's pages in the Django admin, built on the inspection API.

Importing this module (Django's admin autodiscovery does) registers them on
the default admin site; see :mod:`djqueue.admin.model_admin`.
"""

from django.contrib import admin

from ..models import MessageRecord
from .model_admin import QueueAdmin

admin.site.register(MessageRecord, QueueAdmin)

__all__ = ["QueueAdmin"]
