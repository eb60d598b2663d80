from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The app of docs/quickstart.rst, whose code tests/test_quickstart.py
    checks against the page and runs."""

    name = "testproject.reports"
    label = "reports"
    default_auto_field = "django.db.models.BigAutoField"
