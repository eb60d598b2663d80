"""Shared set-up of the systems that run inside a Django project."""

from __future__ import annotations

import os

from .. import harness
from .base import System, create_pg_database, python

SETTINGS = "benchmarks.djproject.settings"


class DjangoSystem(System):
    """A system whose client and consumer need Django configured."""

    pg_db = ""  # a wt_bench* PostgreSQL database, or "" for a SQLite file

    def env(self):
        env = {**super().env(), "DJANGO_SETTINGS_MODULE": SETTINGS}
        if self.pg_db:
            env["BENCH_PG_DB"] = self.pg_db
        return env

    def setup(self):
        harness.WORK_DIR.mkdir(parents=True, exist_ok=True)
        if self.pg_db:
            create_pg_database(self.pg_db)
        else:
            sqlite = harness.WORK_DIR / f"{self.key}.sqlite3"
            for path in harness.WORK_DIR.glob(f"{self.key}.sqlite3*"):
                path.unlink()
            assert not sqlite.exists()
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
