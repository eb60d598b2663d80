"""Settings of the Django-based systems; ``BENCH_SYSTEM`` picks the parts."""

import os

from benchmarks.done import run_prefix

SYSTEM = os.environ.get("BENCH_SYSTEM", "djqueue-sqlite-wal")
REDIS = "redis://127.0.0.1:6379/{}"

SECRET_KEY = "djqueue-benchmarks-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "benchmarks.djproject.benchapp",
]


#: Persistent connections, as a deployment of a consumer would have them: with
#: Django's default (0), a consumer that closes connections as Django does
#: after a request reconnects after each message. BENCH_CONN_MAX_AGE=0
#: measures Django's default.
CONN_MAX_AGE = int(os.environ.get("BENCH_CONN_MAX_AGE", "600"))


def _database() -> dict:
    pg_name = os.environ.get("BENCH_PG_DB")
    if pg_name:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": pg_name,
            "HOST": "127.0.0.1",
            # The sustained run's private server has a port of its own.
            "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "USER": "postgres",
            "CONN_MAX_AGE": CONN_MAX_AGE,
            # Each consumer of the many consumers' run names its connections.
            "OPTIONS": {"application_name": os.environ.get("BENCH_PG_APP", "")},
        }
    if SYSTEM == "djqueue-sqlite-stock":
        # Exactly what ``startproject`` writes: Django's own SQLite defaults.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["BENCH_SQLITE"],
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BENCH_SQLITE"],
        "CONN_MAX_AGE": CONN_MAX_AGE,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
    }


DATABASES = {"default": _database()}

#: The sustained run measures djqueue keeping no results too.
if os.environ.get("BENCH_RESULT_TTL"):
    QUEUE_RESULT_TTL = float(os.environ["BENCH_RESULT_TTL"])

if SYSTEM.startswith("djqueue"):
    INSTALLED_APPS.append("djqueue")
if SYSTEM.startswith("djqueue-redis"):  # djqueue-redis-2p too
    QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": os.environ["BENCH_DONE_URL"],
            "OPTIONS": {"PREFIX": f"{run_prefix()}:djq"},
        }
    }
if SYSTEM.startswith("djq2"):
    INSTALLED_APPS.append("django_q")
    Q_CLUSTER = {"name": run_prefix(), "timeout": 60, "retry": 120}
    if SYSTEM == "djq2-redis":
        Q_CLUSTER["redis"] = os.environ["BENCH_DONE_URL"]
    else:
        Q_CLUSTER["orm"] = "default"
    if os.environ.get("BENCH_CONCURRENCY"):
        Q_CLUSTER["workers"] = int(os.environ["BENCH_CONCURRENCY"])
if SYSTEM == "djtasks-pg":
    INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# The django.tasks backends of Django 6. Threadmill's Redis keys are named
# after the backend's alias, so the alias is the run's key prefix.
BENCH_TASKS_ALIAS = run_prefix() if SYSTEM == "threadmill-redis" else "default"
if SYSTEM == "django-ox-pg":
    INSTALLED_APPS.append("django_ox")
    TASKS = {BENCH_TASKS_ALIAS: {"BACKEND": "django_ox.backend.OxBackend"}}
if SYSTEM == "threadmill-redis":
    INSTALLED_APPS.append("threadmill")
    TASKS = {
        BENCH_TASKS_ALIAS: {
            "BACKEND": "threadmill.backends.redis.RedisTaskBackend",
            "REDIS_URL": os.environ["BENCH_DONE_URL"],
        }
    }
