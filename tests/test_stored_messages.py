"""Messages that are wrong once stored fail at once, with a reason, unrun.

Each test writes a message straight into the store (through the queue, then
changed by the model, raw SQL or a Redis ``HSET``), runs a burst consumer,
and checks that the message ended ``failed`` on its first attempt, with a
reason that names what is wrong, and that its command never ran.
"""

import sys
import threading
import uuid

import pytest
from django.core import signing
from django.db import connection

from djqueue import State, get_queue
from djqueue.backends.redis.hashes import pack_options
from djqueue.consumer import Consumer
from djqueue.models import MessageRecord
from testproject.demo.models import Run

from .factories import make_message

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("backend"),
]

RECORD_RUN = "testproject.demo.commands.record_run"
redis_only = pytest.mark.parametrize("backend", ["fakeredis", "redis"], indirect=True)
database_only = pytest.mark.parametrize("backend", ["database"], indirect=True)


def drain(**options):
    """Run a burst consumer; fail the test if it does not finish in 60 s."""
    concurrency = options.pop("concurrency", 1)
    consumer = Consumer(["default"], concurrency, burst=True, **options)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    if thread.is_alive():
        consumer.stop()
        consumer.stop()
        thread.join(timeout=30)
        pytest.fail("the burst consumer did not finish within 60 s")
    return consumer


def assert_failed_unrun(message_id, *reasons):
    """The message failed on its first attempt with every reason given, and
    nothing of it ran."""
    stored = get_queue().get(message_id)
    assert stored is not None, f"message {message_id} is gone"
    assert stored.id == message_id
    assert stored.state == State.FAILED, (stored.state, stored.error)
    assert stored.attempts == 1
    for reason in reasons:
        assert reason in stored.error, stored.error
    assert not Run.objects.exists()


def signed(payload=None, options=None, command=RECORD_RUN, **kwargs):
    """A validly signed message of ``command`` with the given parts."""
    return make_message(command, payload=payload, options=options, **kwargs)


# -- Item 7: a signed payload of the wrong shape --------------------------------


@pytest.mark.parametrize(
    "payload",
    ['{"label": "x"}', "[1, 2, 3]", '[["x"]]', '"text"', '[["x"], 5]', "[{}, []]"],
)
def test_a_signed_payload_that_is_not_an_args_kwargs_pair_fails_at_once(payload):
    message = signed(payload, max_attempts=3)
    get_queue().write(message)

    drain()

    assert_failed_unrun(message.id, "not an [args, kwargs] pair", "expected a list")


# -- Item 8: the options are signed, and steer nothing unsigned -----------------


def _tamper_options(message, options):
    """Replace a stored message's options, keeping its signature."""
    queue = get_queue()
    if hasattr(queue, "client"):
        stored = pack_options(options)
        queue.client.hset(queue.key(f"m:{message.id}"), "options", stored)
    elif hasattr(queue, "store"):  # a MemoryQueue
        with queue.store.lock:
            queue.store.messages[message.id].options = dict(options)
    else:
        MessageRecord.objects.filter(id=message.id).update(options=options)


@pytest.mark.parametrize(
    "options",
    [
        {"result_ttl": 60, "retries": 5},
        {"result_ttl": 999, "retries": 0},
        {"result_ttl": 60, "retries": 0, "django_task": "default"},
        {},
    ],
)
def test_options_changed_in_the_store_fail_the_signature(options):
    message = signed(payload='[["tampered"], {}]')
    get_queue().write(message)
    _tamper_options(message, options)

    drain()

    assert_failed_unrun(message.id, "signature does not match")


def _write_django_task(command, alias="default", payload="[[], {}]"):
    """A django.tasks message as a project holding the key could sign it."""
    message = signed(payload, options={"django_task": alias}, command=command)
    get_queue().write(message)
    return message


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("os.system", "not in a module of an installed app"),
        ("tests.outside_tasks.record", "not in a module of an installed app"),
        (RECORD_RUN, "is not a django.tasks Task"),
        ("testproject.demo.no_such_module.task", "cannot import the module"),
    ],
)
def test_the_django_tasks_path_runs_only_tasks_the_project_defines(command, reason):
    pytest.importorskip("tests.tasks_framework", reason="needs the tasks framework")
    message = _write_django_task(command, payload='[["echo ran"], {}]')

    drain()

    assert_failed_unrun(message.id, reason)
    assert "tests.outside_tasks" not in sys.modules


def test_a_django_tasks_message_fails_at_once_without_the_tasks_framework(
    monkeypatch,
):
    """As on Django 5.2 without the django-tasks backport."""
    for name in ("djqueue.contrib.tasks.backend", "django.tasks", "django_tasks"):
        monkeypatch.setitem(sys.modules, name, None)
    message = _write_django_task(
        "testproject.demo.tasks.multiply", payload="[[6, 7], {}]"
    )

    drain()

    assert_failed_unrun(message.id, "enqueued through django.tasks", "django-tasks")


# -- Item 9: options of the wrong type or range --------------------------------


BAD_OPTIONS = [
    ("result_ttl", "abc"),
    ("result_ttl", -5),
    ("result_ttl", 1e300),
    ("retries", "x"),
    ("retries", 2.5),
    ("retries", True),
    ("timeout", "soon"),
    ("timeout", 0),
    ("retry_delay", "x"),
    ("retry_delay", []),
    ("retry_delay", {"first": 0, "cap": 1, "jitter": True}),
    ("retry_delay", {"first": 5, "cap": 1, "jitter": True}),
    ("retry_on", "ValueError"),
    ("retry_on", [1]),
    ("django_task", 5),
]


@pytest.mark.parametrize(("name", "value"), BAD_OPTIONS)
def test_a_stored_option_of_the_wrong_type_fails_before_running(name, value):
    message = signed(payload='[["bad option"], {}]', options={name: value})
    get_queue().write(message)

    drain()

    assert_failed_unrun(message.id, f"cannot run: {name} must")


@database_only
def test_a_process_worker_fails_a_bad_timeout_before_running():
    from functools import partial

    from djqueue.consumer.runners import ProcessRunner

    message = signed(payload='[["bad timeout"], {}]', options={"timeout": "soon"})
    get_queue().write(message)

    drain(runner_factory=partial(ProcessRunner, None, None), worker_type="process")

    assert_failed_unrun(message.id, "cannot run: timeout must")


# -- Item 10: hashes and rows that cannot be made into a message ---------------


def _hset(message_id, fields, score=0):
    queue = get_queue()
    queue.client.hset(queue.key(f"m:{message_id}"), mapping=fields)
    queue.client.zadd(queue.key("ready"), {message_id: score})


HASH_FIELDS = {
    "command": RECORD_RUN,
    "state": "queued",
    "eta": "1700000000.0",
    "priority": "0",
    "attempts": "0",
    "max_attempts": "3",
}


@redis_only
@pytest.mark.parametrize(
    "fields",
    [
        HASH_FIELDS,
        {**HASH_FIELDS, "payload": "{{{", "signature": "x"},
        {**HASH_FIELDS, "payload": "[[], {}]", "options": "x"},
        {**HASH_FIELDS, "options": "[1, 2]", "attempts": "many", "eta": "soon"},
        {"payload": "", "state": "nonsense", "max_attempts": "x"},
    ],
    ids=["no-payload", "payload-not-json", "options-not-json", "all-garbage",
         "almost-empty"],
)  # fmt: skip
def test_a_hash_that_is_no_message_fails_at_once_under_its_id(fields):
    message_id = str(uuid.uuid4())
    _hset(message_id, fields)

    drain()

    assert_failed_unrun(message_id, "signature does not match")
    assert get_queue().counts()[State.RUNNING] == 0


@redis_only
def test_a_signed_hash_copied_under_another_id_does_not_run():
    queue = get_queue()
    original = signed(payload='[["copied"], {}]')
    queue.write(original)
    stored = queue.client.hgetall(queue.key(f"m:{original.id}"))
    queue.client.delete(queue.key(f"m:{original.id}"))
    queue.client.zrem(queue.key("ready"), original.id)
    copy_id = str(uuid.uuid4())
    _hset(copy_id, stored)

    drain()

    assert_failed_unrun(copy_id, "signature does not match")


def _raw_update(message_id, **columns):
    """UPDATE the message's row in SQL, bypassing the model's checks."""
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(name)} = %s" for name in columns)
    key = MessageRecord._meta.pk.get_db_prep_value(
        uuid.UUID(message_id), connection, prepared=False
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE djqueue_message SET {assignments} WHERE id = %s",
            [*columns.values(), key],
        )
        assert cursor.rowcount == 1


@database_only
@pytest.mark.parametrize(
    "columns",
    [
        {"options": "[1, 2]"},
        {"options": '"garbage"'},
        {"options": "null"},
        {"options": "{}", "signature": ""},
        {"payload": "", "serializer": "nonsense"},
    ],
)
def test_a_row_changed_by_raw_sql_fails_at_once(columns):
    message = signed(payload='[["raw"], {}]')
    get_queue().write(message)
    _raw_update(message.id, **columns)

    drain()

    assert_failed_unrun(message.id)


@database_only
@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"eta": "soon", "priority": "high"}, "priority, eta hold values"),
        (
            {"enqueued_at": "yesterday", "max_attempts": "x"},
            "enqueued_at, max_attempts",
        ),
    ],
)
def test_garbage_text_in_typed_sqlite_columns_fails_at_once(columns, reason):
    """SQLite keeps any text in any column; a claim that meets such a row
    neither raises nor holds back the rows it claimed with it."""
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite keeps text in typed columns")
    message = signed(payload='[["garbage"], {}]')
    good = signed(payload='[["good"], {}]')
    get_queue().write_many([message, good])
    _raw_update(message.id, **columns)

    drain(concurrency=2)

    stored = get_queue().get(message.id)
    assert stored.state == State.FAILED
    assert stored.attempts == 1
    assert reason in stored.error, stored.error
    assert list(Run.objects.values_list("message_id", flat=True)) == [good.id]


@database_only
def test_a_row_inserted_through_the_model_with_garbage_fails_at_once():
    """A row signed for its payload, inserted with options that are no object."""
    good = signed(payload='[["inserted"], {}]')
    record = MessageRecord.objects.create(
        id=uuid.UUID(good.id),
        queue="default",
        command=RECORD_RUN,
        state=State.QUEUED,
        eta="2020-01-01T00:00:00Z",
        enqueued_at="2020-01-01T00:00:00Z",
        max_attempts=3,
        serializer="json",
        payload=good.payload,
        signature=good.signature,
        options=[good.options],
    )

    drain()

    assert_failed_unrun(str(record.id), "signature does not match")


def test_a_message_signed_the_old_way_fails_the_signature():
    """Signatures made before the options were signed covered four parts."""
    message = signed(payload='[["old"], {}]')
    parts = (message.id, RECORD_RUN, "json", message.payload)
    message.signature = signing.Signer(salt="djqueue.payload").signature(
        "\x1f".join(parts)
    )
    get_queue().write(message)

    drain()

    assert_failed_unrun(message.id, "signature does not match")


def test_a_message_signed_with_a_fallback_key_still_runs(settings):
    """Options are signed with the payload under SECRET_KEY_FALLBACKS too."""
    settings.SECRET_KEY = "djqueue-the-old-key-" + "x" * 40
    message = signed(payload='[["rotated"], {}]', options={"retries": 1})
    settings.SECRET_KEY = "djqueue-the-new-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = ["djqueue-the-old-key-" + "x" * 40]
    get_queue().write(message)

    drain()

    assert get_queue().get(message.id).state == State.DONE
    assert list(Run.objects.values_list("label", flat=True)) == ["rotated"]
