"""A database router that puts djqueue's tables in the databases of the
``DatabaseQueue`` queues.

Add it to ``DATABASE_ROUTERS`` when a ``DatabaseQueue`` has a ``CONNECTION``
other than ``default``::

    DATABASE_ROUTERS = ["djqueue.backends.database.router.QueueRouter"]

What it answers, for the aliases that ``QUEUES`` gives its
``DatabaseQueue`` queues (``""`` is ``default``):

* Migrations: djqueue's tables (messages, consumers, run counts, periodic
  ticks) are created on each of those aliases, and on no other. So
  ``migrate --database=queue`` creates them on ``queue``, and ``migrate``
  does not create them on ``default`` unless a queue uses it. Every other
  app is kept off an alias that only queues use (one that is not
  ``default``): ``migrate --database=queue`` creates djqueue's tables and
  nothing else. A router listed before this one still decides for its own
  models.
* Reads and writes that do not name a database: the alias of the first
  ``DatabaseQueue`` in ``QUEUES``. djqueue itself always names the
  queue's alias, so with queues on several aliases each queue reads and
  writes its own database; this answer is for code of yours that reads
  djqueue's models without ``using()``.
* Relations: djqueue's models have no foreign keys; two djqueue rows may be
  related when they are in the same database.

With no ``DatabaseQueue`` at all (every queue in Redis), it has no opinion,
and Django's default (``default``, tables everywhere) applies.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from .aliases import queue_aliases

APP_LABEL = "djqueue"
#: The dotted path to list in ``DATABASE_ROUTERS``.
ROUTER_PATH = "djqueue.backends.database.router.QueueRouter"


def _is_ours(model: type[Model] | Model) -> bool:
    return model._meta.app_label == APP_LABEL


class QueueRouter:
    """Route djqueue's models to the databases of the ``DatabaseQueue``
    queues, as the module's docstring says."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self._first_alias() if _is_ours(model) else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self._first_alias() if _is_ours(model) else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        if _is_ours(obj1) and _is_ours(obj2):
            return obj1._state.db == obj2._state.db
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        aliases = queue_aliases()
        if not aliases:
            return None
        if app_label == APP_LABEL:
            return db in aliases
        if db in aliases and db != DEFAULT_DB_ALIAS:
            return False
        return None

    @staticmethod
    def _first_alias() -> str | None:
        return next(iter(queue_aliases()), None)


def check_routing() -> list[checks.CheckMessage]:
    """The system check of where djqueue's tables go, for each database
    that holds a ``DatabaseQueue``.

    ``djqueue.E013`` when the routers keep djqueue's tables off ``alias``:
    ``migrate`` never creates them there, and every call of the queue fails.
    ``djqueue.W011`` when ``alias`` is not ``default`` and no
    :class:`QueueRouter` is listed, or djqueue's models are routed to a
    database that holds no ``DatabaseQueue``: ``migrate`` creates djqueue's
    tables where no queue reads them, and on ``alias`` only by
    ``migrate --database``, with every other app's.
    """
    from django.conf import settings

    messages: list[checks.CheckMessage] = []
    for alias, names in queue_aliases().items():
        if alias in settings.DATABASES:  # or djqueue.E010
            messages.extend(_check_alias(alias, ", ".join(map(repr, names))))
    return messages


def _check_alias(alias: str, names: str) -> list[checks.CheckMessage]:
    from django.db import router

    from ...models import MessageRecord

    if not router.allow_migrate_model(alias, MessageRecord):
        return [
            checks.Error(
                f"Queue(s) {names} use the database {alias!r}, but the database "
                "routers keep djqueue's tables off it: migrate never creates "
                "them there.",
                hint=f"List {ROUTER_PATH!r} in DATABASE_ROUTERS before the "
                "router that sends djqueue's models elsewhere.",
                id="djqueue.E013",
            )
        ]
    if alias == DEFAULT_DB_ALIAS:
        return []
    routed = router.db_for_write(MessageRecord)
    if not any(isinstance(each, QueueRouter) for each in router.routers):
        problem = "no QueueRouter is in DATABASE_ROUTERS"
    elif routed not in queue_aliases():
        problem = (
            f"the database routers send djqueue's models to {routed!r}, which "
            "holds no DatabaseQueue"
        )
    else:
        return []
    return [
        checks.Warning(
            f"Queue(s) {names} use the database {alias!r}, but {problem}: "
            f"'migrate' creates djqueue's tables on {routed!r}, and on "
            f"{alias!r} only 'migrate --database={alias}' does, with every "
            "other app's.",
            hint=f"Add {ROUTER_PATH!r} to DATABASE_ROUTERS, before routers "
            "that would send djqueue's models elsewhere; then run "
            f"'manage.py migrate --database={alias}'.",
            id="djqueue.W011",
        )
    ]
