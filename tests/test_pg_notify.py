"""PostgreSQL wakes consumers of a DatabaseQueue with LISTEN/NOTIFY; losing
the listening connection makes the consumer poll until it is back."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from djqueue import State, get_queue
from djqueue.backends.database import DatabaseQueue, pg_notify
from djqueue.consumer import Consumer
from testproject.demo import commands

from .factories import make_message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")


@pytest.fixture
def queue():
    queue = DatabaseQueue("notify-test")
    yield queue
    queue.close()
    queue.flush()


@pytest.fixture
def observer():
    """A connection of the test's own that LISTENs on a queue's channel and
    a sentinel queue's: notifications arrive in commit order, so everything
    notified before the sentinel's came from what was done before it."""
    import psycopg

    params = connection.get_connection_params()
    conn = psycopg.connect(**params, autocommit=True)
    sentinel = DatabaseQueue("notify-sentinel")

    def listen(queue):
        conn.execute(f'LISTEN "{pg_notify.channel(queue.name)}"')
        conn.execute(f'LISTEN "{pg_notify.channel(sentinel.name)}"')

    def notified():
        """The payloads notified for the queue since the last call."""
        sentinel.write(make_message(queue=sentinel.name))
        payloads = []
        for notify in conn.notifies(timeout=60):
            if notify.payload == sentinel.name:
                return payloads
            payloads.append(notify.payload)
        raise AssertionError("the sentinel's notification never came")

    yield listen, notified
    conn.close()
    sentinel.flush()


def test_every_way_a_message_becomes_ready_notifies_its_channel(queue, observer):
    listen, notified = observer
    listen(queue)
    now = timezone.now()

    queue.write(make_message(queue=queue.name))
    assert notified() == [queue.name]

    queue.write_many([make_message(queue=queue.name) for _ in range(5)])
    assert notified() == [queue.name]  # one per transaction

    queue.write(make_message(queue=queue.name, eta=now + timedelta(seconds=1)))
    assert notified() == []  # scheduled, not ready
    assert queue.promote_due(now=now + timedelta(seconds=2)) == 1
    assert notified() == [queue.name]

    claimed = queue.claim("w", 30, limit=7)
    assert len(claimed) == 7
    assert notified() == []
    assert queue.retry_later(claimed[0], eta=now, now=now)
    assert queue.release(claimed[1:2]) == 1
    assert notified() == [queue.name, queue.name]
    assert queue.fail(claimed[2], "boom")
    assert notified() == []
    assert queue.retry(claimed[2].id)
    assert queue.reclaim_expired(now=now + timedelta(seconds=60)) == 4
    assert notified() == [queue.name, queue.name]

    with transaction.atomic():
        queue.write(make_message(queue=queue.name))
        transaction.set_rollback(True)
    assert notified() == []


def test_a_message_giving_up_its_lock_key_notifies_its_channel(queue, observer):
    """The next message of the key became claimable: consumers that found
    nothing to claim wake for it."""
    listen, notified = observer
    listen(queue)
    messages = [make_message(queue=queue.name) for _ in range(4)]
    for message in messages[:3]:
        message.lock_key = "k"
    queue.write_many(messages)
    assert notified() == [queue.name]
    holder, plain = queue.claim("w", 30, limit=4)
    assert plain.lock_key == ""

    assert queue.ack(plain, result="r", result_ttl=60)
    assert notified() == []  # it held no key
    assert queue.ack(holder, result="r", result_ttl=60)
    assert notified() == [queue.name]
    (holder,) = queue.claim("w", 30, limit=4)
    assert queue.ack(holder, result_ttl=0)  # deleted
    assert notified() == [queue.name]
    (holder,) = queue.claim("w", 30, limit=4)
    assert queue.fail(holder, "boom")
    assert notified() == [queue.name]


def test_wait_for_messages_returns_when_a_write_commits(queue):
    assert queue.supports_wakeup
    # The first wait connects; what was written before it was not notified.
    assert queue.wait_for_messages(0) is True
    writer = threading.Timer(0.05, queue.write, [make_message(queue=queue.name)])
    writer.start()

    woken = queue.wait_for_messages(60)

    writer.join()
    assert woken is True
    assert queue.wait_for_messages(0) is False  # the notification was used up


def test_a_listener_that_cannot_connect_polls_and_tries_again(queue, monkeypatch):
    import psycopg

    def refuse(*args, **kwargs):
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(psycopg, "connect", refuse)
    assert queue.wait_for_messages(0) is False
    assert not queue._listener.listening
    monkeypatch.undo()
    queue._listener._retry_at = 0  # skip the backoff
    assert queue.wait_for_messages(0) is True
    assert queue._listener.listening


class Waits:
    """Record what the queue's wait_for_messages() returns."""

    def __init__(self, queue, monkeypatch):
        self.results = []
        self.condition = threading.Condition()
        original = queue.wait_for_messages

        def wait(timeout):
            woken = original(timeout)
            with self.condition:
                self.results.append(woken)
                self.condition.notify_all()
            return woken

        monkeypatch.setattr(queue, "wait_for_messages", wait)

    def until(self, predicate):
        """Wait until ``predicate(results)`` holds; return how many waits
        returned by then."""
        with self.condition:
            assert self.condition.wait_for(lambda: predicate(self.results), 60)
            return len(self.results)


def _consume(**options):
    consumer = Consumer(["default"], 2, **options)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    return consumer, thread


def test_an_idle_consumer_is_woken_by_the_notification(monkeypatch):
    queue = get_queue()
    waits = Waits(queue, monkeypatch)
    consumer, thread = _consume()
    try:
        # The first wait connects (True: claim what came before), then the
        # consumer is idle and its waits time out.
        waits.until(lambda results: results[:1] == [True] and False in results)
        idle = waits.until(lambda results: True)
        result = commands.add(2, 3)
        waits.until(lambda results: True in results[idle:])
        assert result.get(timeout=30) == 5
    finally:
        consumer.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert queue._listener is None  # closed at shutdown


def test_a_consumer_whose_listener_is_killed_goes_on(monkeypatch, caplog):
    queue = get_queue()
    waits = Waits(queue, monkeypatch)
    consumer, thread = _consume()
    try:
        waits.until(lambda results: results)
        listener = queue._listener
        pid = listener._connection.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone() == (True,)
        first = [commands.add(i, i) for i in range(5)]
        assert [r.get(timeout=30) for r in first] == [0, 2, 4, 6, 8]
        # It connects again after a short delay.
        waits.until(
            lambda results: (
                listener.listening and listener._connection.info.backend_pid != pid
            )
        )
        assert commands.add(10, 10).get(timeout=30) == 20
    finally:
        consumer.stop()
        thread.join(30)
    assert not thread.is_alive()
    assert "Lost the connection that listens" in caplog.text
    assert get_queue().counts()[State.FAILED] == 0


@pytest.mark.django_db(databases=["default", "queue"], transaction=True)
def test_a_listen_connection_to_another_database_is_noticed(caplog, monkeypatch):
    """The probe's NOTIFY goes where the queue writes: a LISTEN_CONNECTION
    on another database never hears it, and the consumer polls."""
    monkeypatch.setattr(pg_notify, "PROBE_TIMEOUT", 0.2)  # it never comes here
    queue = DatabaseQueue("notify-elsewhere", LISTEN_CONNECTION="queue")
    try:
        assert queue.wait_for_messages(0) is False
        assert not queue._listener.listening
    finally:
        queue.close()
    assert "LISTENs on database 'queue': it is not the database of 'default'" in (
        caplog.text
    )


def test_a_listener_made_inside_a_transaction_is_proven_all_the_same(queue):
    """The probe's NOTIFY would wait for the caller's commit on its Django
    connection: it goes through a connection of its own then."""
    with transaction.atomic():
        assert queue.wait_for_messages(0) is True
    assert queue._listener.listening
