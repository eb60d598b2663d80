from django.apps import AppConfig


class BenchAppConfig(AppConfig):
    name = "benchmarks.djproject.benchapp"
    label = "benchapp"
