"""Shared set-up of the systems that run inside a Django project."""

from __future__ import annotations

import os

from .base import System, create_pg_database, python

SETTINGS = "benchmarks.djproject.settings"


class DjangoSystem(System):
    """A system whose client and consumer need Django configured."""

    def env(self):
        env = {**super().env(), "DJANGO_SETTINGS_MODULE": SETTINGS}
        if self.pg_db:
            env["BENCH_PG_DB"] = self.pg_name
        else:
            env["BENCH_SQLITE"] = str(self.sqlite_path)
        return env

    def setup(self):
        if self.pg_db:
            create_pg_database(self.pg_name)
        os.environ.update(self.env())
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)

    def manage(self, *args: str) -> list[str]:
        return python("-m", "django", *args)

    def teardown(self):
        from django.db import connections

        connections.close_all()
        super().teardown()
