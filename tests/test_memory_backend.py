"""MemoryQueue beyond the contract suite (which runs on it as ``memory``):
a project whose QUEUES are in memory runs its commands with
``run_enqueued()`` and no database at all, a consumer thread waiting on it
is woken by a write in the same process, queues of one connection share
their storage, and a claim at any depth looks at the head of its index
only."""

from __future__ import annotations

import threading
import uuid

import pytest

from djqueue import get_queue
from djqueue.backends.memory import MemoryQueue
from djqueue.states import State
from djqueue.testing import run_enqueued
from testproject.demo.commands import add, fail

from .factories import make_message

BACKEND = "djqueue.backends.memory.MemoryQueue"
#: The longest any test here waits for another thread.
PATIENCE = 10.0


@pytest.fixture
def memory_queues(settings):
    """The test project's default queue in memory, on a connection of its own."""
    settings.QUEUES = {
        "default": {"BACKEND": BACKEND, "CONNECTION": f"test-{uuid.uuid4().hex}"}
    }
    yield
    get_queue().flush()


def test_run_enqueued_runs_a_memory_queue_without_a_database(memory_queues):
    """No ``db`` fixture: any query would raise. Enqueueing, running,
    retries' failures and results all stay in the process."""
    assert isinstance(get_queue(), MemoryQueue)
    result = add(2, 3)
    failing = fail("no")

    ran = run_enqueued()

    assert [(m.id, m.state) for m in ran] == [
        (result.id, State.DONE),
        (failing.id, State.FAILED),
    ]
    assert result.get(timeout=0) == 5
    assert "no" in get_queue().get(failing.id).error
    assert get_queue().counts()[State.FAILED] == 1


def test_a_waiting_consumer_thread_is_woken_by_a_write():
    """wait_for_messages() returns True as soon as another thread writes,
    well before its timeout; with nothing written it returns False."""
    queue = MemoryQueue(f"wake-{uuid.uuid4().hex[:8]}")
    assert queue.wait_for_messages(0.01) is False
    waiting = threading.Event()
    answers: list[bool] = []

    def wait() -> None:
        waiting.set()
        answers.append(queue.wait_for_messages(PATIENCE))

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert waiting.wait(PATIENCE)
    queue.write(make_message())
    waiter.join(PATIENCE)

    assert not waiter.is_alive()
    assert answers == [True]
    queue.flush()


def test_a_blocking_claim_takes_what_another_thread_writes():
    queue = MemoryQueue(f"block-{uuid.uuid4().hex[:8]}")
    message = make_message()
    claimed: list[list] = []
    started = threading.Event()

    def claim() -> None:
        started.set()
        claimed.append(queue.claim("w", 30, limit=5, timeout=PATIENCE))

    claimer = threading.Thread(target=claim)
    claimer.start()
    assert started.wait(PATIENCE)
    queue.write(message)
    claimer.join(PATIENCE)

    assert not claimer.is_alive()
    assert [[m.id for m in batch] for batch in claimed] == [[message.id]]
    queue.flush()


def test_queues_of_one_name_and_connection_share_their_messages():
    name, connection = f"shared-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    writer = MemoryQueue(name, connection)
    reader = MemoryQueue(name, connection)
    apart = MemoryQueue(name, f"{connection}-other")
    sibling = MemoryQueue(f"{name}-sibling", connection)
    message = make_message()

    writer.write(message)

    assert reader.get(message.id).id == message.id
    assert apart.get(message.id) is None
    assert sibling.locate(message.id) == name
    assert apart.locate(message.id) is None
    writer.flush()
    assert reader.get(message.id) is None


def test_a_claim_does_not_examine_the_messages_behind_the_head():
    """10,000 ready messages: claiming the first sorts nothing and reads
    only the ones it takes (counted through the stored messages' dict)."""
    queue = MemoryQueue(f"deep-{uuid.uuid4().hex[:8]}")
    queue.write_many([make_message() for _ in range(10_000)])
    high = make_message(priority=9)
    queue.write(high)
    reads = []

    class Counting(dict):
        def __getitem__(self, key):
            reads.append(key)
            return super().__getitem__(key)

    queue.store.messages = Counting(queue.store.messages)

    (claimed,) = queue.claim("w", 30)

    assert claimed.id == high.id
    assert reads == [high.id]
    queue.flush()


def test_run_queue_warns_that_it_runs_only_what_its_own_process_enqueues(caplog):
    """Whatever DEBUG is: the warning names the queue and its backend; a
    queue that other processes share is not named."""
    from djqueue.backends.database import DatabaseQueue
    from djqueue.management.running import warn_of_queues_in_this_process

    queues = [MemoryQueue("in-memory"), DatabaseQueue("on-disk")]

    with caplog.at_level("WARNING", logger="djqueue.management.running"):
        warn_of_queues_in_this_process(queues)

    assert [record.getMessage() for record in caplog.records] == [
        "Queue 'in-memory' is a MemoryQueue: its messages stay in the process "
        "that enqueued them, so this run_queue runs only what it enqueues "
        "itself (periodic ticks, commands its runs enqueue), never what other "
        "processes enqueue."
    ]
