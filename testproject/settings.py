"""Settings of the demo and test project.

The environment chooses the parts: ``DJQUEUE_DB`` is ``sqlite`` (default),
``sqlite-stock`` (what ``startproject`` writes: ENGINE and NAME only),
``postgres`` or ``mysql``; ``DJQUEUE_DB_NAME`` overrides the database name (the
tests use it to point ``run_queue`` processes at the test database);
``DJQUEUE_BACKEND`` is ``database`` (default) or ``redis``, with
``DJQUEUE_REDIS_URL`` (any string form of a RedisQueue's ``CONNECTION``,
``redis+sentinel://`` and ``redis+cluster://`` among them) and
``DJQUEUE_REDIS_PREFIX``;
``DJQUEUE_LEASE`` sets the lease in seconds; ``DJQUEUE_TASKS`` replaces
``TASKS`` with the JSON it holds (the tests use it for bad settings);
``DJQUEUE_SQLITE_TUNING=0`` sets ``QUEUE_SQLITE_TUNING = False``.

A second database of the same kind, ``queue``, is always configured (its
name is ``DJQUEUE_QUEUE_DB_NAME``, or the default database's with
``_queue`` added); ``DJQUEUE_QUEUE_ALIAS=queue`` puts the ``default`` queue
there, with djqueue's router, as docs/deploying.rst says ("A queue database
of its own").
"""

import json
import os
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJQUEUE_SECRET_KEY", "djqueue-testproject-not-secret")
SECRET_KEY_FALLBACKS = ["djqueue-testproject-previous-key"]
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "djqueue",
    "testproject.demo",
    "testproject.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "testproject.urls"
STATIC_URL = "static/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database(kind: str) -> dict:
    name = os.environ.get("DJQUEUE_DB_NAME")
    if kind == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name or "test",
            "HOST": os.environ.get("DJQUEUE_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("DJQUEUE_PG_PORT", "5432"),
            "USER": os.environ.get("DJQUEUE_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("DJQUEUE_PG_PASSWORD", ""),
        }
    if kind == "mysql":
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": name or "test",
            "HOST": os.environ.get("DJQUEUE_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("DJQUEUE_MYSQL_PORT", "3306"),
            "USER": os.environ.get("DJQUEUE_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("DJQUEUE_MYSQL_PASSWORD", ""),
            "OPTIONS": {"charset": "utf8mb4"},
        }
    # A file, never memory, so run_queue processes share it with the tests.
    test_name = Path(tempfile.gettempdir()) / f"djqueue-test-{os.getpid()}.sqlite3"
    if kind == "sqlite-stock":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name or BASE_DIR / "db.sqlite3",
            "TEST": {"NAME": str(test_name)},
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name or BASE_DIR / "db.sqlite3",
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
        "TEST": {"NAME": str(test_name)},
    }


def _queue_database(kind: str) -> dict:
    """The ``queue`` database: the default one's settings under another name."""
    database = _database(kind)
    name = os.environ.get("DJQUEUE_QUEUE_DB_NAME")
    if database["ENGINE"].endswith("sqlite3"):
        test_name = Path(database["TEST"]["NAME"])
        database["TEST"] = {"NAME": str(test_name.with_stem(f"{test_name.stem}-queue"))}
        database["NAME"] = name or BASE_DIR / "queue.sqlite3"
    else:
        database["NAME"] = name or f"{database['NAME']}_queue"
    return database


DATABASES = {
    "default": _database(os.environ.get("DJQUEUE_DB", "sqlite")),
    "queue": _queue_database(os.environ.get("DJQUEUE_DB", "sqlite")),
}

if os.environ.get("DJQUEUE_BACKEND", "database") == "redis":
    QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.redis.RedisQueue",
            "CONNECTION": os.environ.get(
                "DJQUEUE_REDIS_URL", "redis://127.0.0.1:6379/0"
            ),
            "OPTIONS": {"PREFIX": os.environ.get("DJQUEUE_REDIS_PREFIX", "djqueue")},
        }
    }

elif queue_alias := os.environ.get("DJQUEUE_QUEUE_ALIAS"):
    QUEUES = {
        "default": {
            "BACKEND": "djqueue.backends.database.DatabaseQueue",
            "CONNECTION": queue_alias,
        }
    }
    DATABASE_ROUTERS = ["djqueue.backends.database.router.QueueRouter"]

QUEUE_LEASE_SECONDS = float(os.environ.get("DJQUEUE_LEASE", "30"))
QUEUE_SQLITE_TUNING = os.environ.get("DJQUEUE_SQLITE_TUNING", "1") != "0"

# Django 6's tasks framework on djqueue (ignored by Django 5.2).
TASKS = json.loads(os.environ.get("DJQUEUE_TASKS", "null")) or {
    "default": {
        "BACKEND": "djqueue.contrib.tasks.DjqueueBackend",
        "QUEUES": ["default"],
        "OPTIONS": {"retries": 1},
    }
}
