"""The django.tasks backend (Django 6.0+): ``TASKS = {"default": {"BACKEND":
"djqueue.contrib.tasks.DjqueueBackend"}}``; see :mod:`.backend`."""

from .backend import DjqueueBackend

__all__ = ["DjqueueBackend"]
