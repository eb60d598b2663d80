"""A ``DatabaseQueue`` through a real PgBouncer in transaction pooling mode
(docs/deploying.rst, "PgBouncer"): every statement works with Django's
defaults, LISTEN does not, and consumers notice, say so once and poll; a
``LISTEN_CONNECTION`` that reaches PostgreSQL directly wakes them again."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from djqueue import State
from djqueue.backends.database import DatabaseQueue, pg_notify
from testproject.demo import commands

from .conftest import require_server
from .factories import make_message
from .pgbouncer import PgBouncer, require_pgbouncer
from .processes import ConsumerProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHED = "Notifications do not reach a connection that LISTENs"


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("PgBouncer pools PostgreSQL connections")


@pytest.fixture(scope="module")
def pgbouncer(tmp_path_factory):
    from django.conf import settings

    require_pgbouncer()
    upstream = settings.DATABASES["default"]
    host, port = upstream["HOST"] or "127.0.0.1", int(upstream["PORT"] or 5432)
    require_server("PostgreSQL", host, port)
    bouncer = PgBouncer(tmp_path_factory.mktemp("pgbouncer"), host, port)
    yield bouncer
    bouncer.stop()


def through_pgbouncer(pgbouncer, alias: str, **options):
    """Connect ``alias`` to the test database through PgBouncer, with these
    ``OPTIONS`` added, in this thread only (a connection made at run time,
    not in DATABASES); return its wrapper."""
    from django.db.utils import load_backend

    direct = connections["default"].settings_dict
    through = copy.deepcopy(direct)
    through.update(HOST="127.0.0.1", PORT=str(pgbouncer.port))
    through["OPTIONS"] = {**through["OPTIONS"], **options}
    wrapper = load_backend(direct["ENGINE"]).DatabaseWrapper(through, alias)
    connections[alias] = wrapper
    return wrapper


@pytest.fixture
def bouncer_alias(transactional_db, pgbouncer):
    """The alias ``bouncer``: the test database through PgBouncer, with
    Django's defaults."""
    wrapper = through_pgbouncer(pgbouncer, "bouncer")
    yield "bouncer"
    wrapper.close()
    del connections["bouncer"]


@pytest.fixture
def make_queue(bouncer_alias):
    built = []

    def make(name, **options):
        queue = DatabaseQueue(name, bouncer_alias, **options)
        built.append(queue)
        return queue

    yield make
    for queue in built:
        queue.close()
        queue.flush()


def test_every_statement_of_a_queue_works_through_transaction_pooling(
    make_queue, pgbouncer
):
    """Each statement runs more often than psycopg's prepare threshold (5):
    nothing is prepared on the server, and nothing assumes a session."""
    open_server_connections(pgbouncer, 3)
    queue = make_queue("bouncer-statements")
    server_pids = set()
    now = timezone.now()
    for round_ in range(7):
        with connections["bouncer"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            server_pids.add(cursor.fetchone()[0])
        queue.write(make_message(queue=queue.name))
        queue.write_many([make_message(queue=queue.name) for _ in range(3)])
        first, second, third = queue.claim(f"w{round_}", 30, limit=3)
        assert queue.extend([first], 60)
        assert queue.ack(first, result="r", result_ttl=60)
        assert queue.fail(second, "boom")
        assert queue.retry(second.id)
        assert queue.retry_later(third, eta=now + timedelta(hours=1), now=now)
        assert queue.release(queue.claim(f"w{round_}", 30, limit=99)) == 2 * round_ + 2
        assert queue.promote_due(now=now) == 0
        assert queue.reclaim_expired(now=now) == 0

    counts = queue.counts()
    assert (counts[State.QUEUED], counts[State.SCHEDULED]) == (14, 7)
    assert counts[State.DONE] == 7
    assert len(queue.list_messages(State.QUEUED, 0, 100)) == 14
    assert went_through(pgbouncer)
    assert len(server_pids) > 1  # the queue's session hopped between servers


def test_server_side_prepared_statements_break_there(pgbouncer, transactional_db):
    """What docs/deploying.rst says not to set: server-side binding with a
    prepare threshold. A statement prepared on one server connection is
    run on another, which does not know it."""
    from django.db import ProgrammingError

    open_server_connections(pgbouncer, 3)
    wrapper = through_pgbouncer(
        pgbouncer, "prepared", server_side_binding=True, prepare_threshold=0
    )
    queue = DatabaseQueue("bouncer-prepared", "prepared")

    def write_and_claim_a_few_times():
        for _ in range(7):
            queue.write(make_message(queue=queue.name))
            assert queue.claim("w", 30, limit=1)

    try:
        with pytest.raises(ProgrammingError, match="prepared statement"):
            write_and_claim_a_few_times()
    finally:
        wrapper.close()
        del connections["prepared"]


def open_server_connections(pgbouncer, count: int) -> None:
    """Make PgBouncer open ``count`` server connections (clients in a
    transaction at once), which it then hands out in turn
    (``server_round_robin``): a session's next transaction runs on another."""
    import psycopg

    params = {**connections["default"].get_connection_params()}
    params.update(host="127.0.0.1", port=pgbouncer.port, prepare_threshold=None)
    clients = [psycopg.connect(**params) for _ in range(count)]
    try:
        for client in clients:
            client.execute("SELECT 1")  # each holds a server connection
        for client in clients:
            client.commit()  # which goes back to the pool clean
    finally:
        for client in clients:
            client.close()


def went_through(pgbouncer) -> bool:
    """Whether PgBouncer logged a login to the test database."""
    return f"login attempt: db={connection.settings_dict['NAME']} " in pgbouncer.log()


def test_a_listener_through_transaction_pooling_warns_once_and_polls(
    make_queue, caplog, monkeypatch
):
    monkeypatch.setattr(pg_notify, "PROBE_TIMEOUT", 0.2)  # it never comes here
    queue = make_queue("bouncer-listen")
    assert queue.supports_wakeup

    with caplog.at_level(logging.WARNING, logger="djqueue.consumer"):
        assert queue.wait_for_messages(0) is False
        queue.write(make_message(queue=queue.name))
        assert queue.wait_for_messages(0.05) is False  # polling: not woken
        queue._listener._retry_at = 0  # the next try, PROBE_RETRY later
        assert queue.wait_for_messages(0) is False

    assert not queue._listener.listening
    warnings = [r.getMessage() for r in caplog.records if UNREACHED in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert "'bouncer'" in warnings[0]
    assert "pool_mode = transaction" in warnings[0]
    assert "LISTEN_CONNECTION" in warnings[0]


def test_a_direct_listen_connection_wakes_consumers_of_a_pooled_queue(
    make_queue, caplog
):
    queue = make_queue("bouncer-direct", LISTEN_CONNECTION="default")
    assert queue.wait_for_messages(0) is True  # listening: claim what came before
    assert queue.wait_for_messages(0) is False  # nothing was notified

    queue.write(make_message(queue=queue.name))  # through PgBouncer

    assert queue.wait_for_messages(60) is True
    assert queue._listener.listening
    assert UNREACHED not in caplog.text


def test_run_queue_through_pgbouncer_drains_the_queue_by_polling(
    pgbouncer, transactional_db, tmp_path
):
    """A real consumer whose every connection goes through PgBouncer: it
    warns once that LISTEN cannot work, and runs what was enqueued before
    it started and while it waited."""
    before = [commands.add(n, 1) for n in range(5)]
    proc = ConsumerProcess(
        tmp_path / "consumer.log",
        "--concurrency",
        "2",
        env={"DJQUEUE_PG_HOST": "127.0.0.1", "DJQUEUE_PG_PORT": str(pgbouncer.port)},
    )
    try:
        wait_until(lambda: UNREACHED in proc.log(), 30, "the warning", proc)
        wait_until(
            lambda: all(r.refresh() or r.status == State.DONE for r in before),
            30,
            "the messages enqueued before it started",
            proc,
        )
        while_waiting = [commands.add(n, 2) for n in range(5)]
        wait_until(
            lambda: all(r.refresh() or r.status == State.DONE for r in while_waiting),
            30,
            "the messages enqueued while it waited",
            proc,
        )
    finally:
        proc.stop()
    assert [r.result for r in before + while_waiting] == [
        *(n + 1 for n in range(5)),
        *(n + 2 for n in range(5)),
    ]
    assert proc.log().count(UNREACHED) == 1
    assert went_through(pgbouncer)
    assert pg_notify.PROBE_RETRY >= 60  # so no second warning came in the run
