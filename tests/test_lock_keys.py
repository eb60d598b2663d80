"""Lock keys end to end: the option at the call site, and the classic
``churn_data`` example run by a consumer at its default concurrency.

``churn_data`` reads a report, adds ``words * 1.5`` to ``churned`` and saves
it. Five runs on one report must add up to 30; with a lock key per report
they do, however many workers and consumers run them.
"""

import pytest

from djqueue import State, get_queue, queue_command
from djqueue.backends.database import DatabaseQueue
from djqueue.consumer import Consumer
from testproject.demo import commands
from testproject.demo.models import Report

from .processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class WithoutLockKeys(DatabaseQueue):
    supports_lock_keys = False


@queue_command(name="tests.locked_by_name", lock_key=lambda name, n: f"name:{name}")
def locked_by_name(name, n):
    return n


def per_report(report, factor=None):
    return f"report:{report.pk}"


def churn_five_times(report):
    locked = commands.churn_data.using(lock_key=per_report)
    return [locked(report) for _ in range(5)]


def all_done(results):
    return lambda: all(result.status == State.DONE for result in results)


def stored():
    return sum(get_queue().counts().values())


def test_a_lock_key_travels_with_the_message(backend):
    fixed = commands.add.using(lock_key="reports")(1, 2)
    computed = locked_by_name("alice", 1)
    plain = commands.add(1, 2)

    assert get_queue().get(fixed.id).lock_key == "reports"
    assert get_queue().get(computed.id).lock_key == "name:alice"
    assert get_queue().get(plain.id).lock_key == ""


@pytest.mark.parametrize("key", ["", "x" * 201, 5])
def test_a_bad_lock_key_is_refused_where_it_is_given(key):
    with pytest.raises(TypeError, match="lock_key must be a string of 1 to 200"):
        commands.add.using(lock_key=key)
    with pytest.raises(TypeError, match="lock_key must be a string of 1 to 200"):
        queue_command(name="tests.never", lock_key=key)


@pytest.mark.parametrize("returned", [None, "", "x" * 201, 7])
def test_a_lock_key_callable_returning_no_key_stores_nothing(returned):
    command = commands.add.using(lock_key=lambda a, b: returned)

    with pytest.raises(TypeError, match="its lock_key callable returned"):
        command(1, 2)

    assert stored() == 0


def test_a_lock_key_callable_that_does_not_fit_the_call_stores_nothing():
    command = commands.add.using(lock_key=lambda a: f"a:{a}")

    with pytest.raises(TypeError, match="lock_key callable cannot take the call"):
        command(1, 2)

    assert stored() == 0


def test_a_backend_without_lock_keys_refuses_them_at_enqueue(settings):
    settings.QUEUES = {
        "default": {"BACKEND": f"{__name__}.WithoutLockKeys"},
    }

    with pytest.raises(NotImplementedError, match="does not support lock keys"):
        commands.add.using(lock_key="k")(1, 2)

    assert stored() == 0
    assert commands.add(1, 2).status == State.QUEUED


def test_check_reports_a_command_with_a_lock_key_on_a_backend_without(settings):
    from djqueue.checks import check_settings

    assert not [e for e in check_settings() if e.id == "djqueue.E009"]
    settings.QUEUES = {"default": {"BACKEND": f"{__name__}.WithoutLockKeys"}}

    (error,) = [e for e in check_settings() if e.id == "djqueue.E009"]

    assert error.obj == "tests.locked_by_name"
    assert "does not support lock keys" in error.msg


def test_a_consumer_with_four_workers_runs_one_report_one_at_a_time(backend):
    report = Report.objects.create(title="seed", words=4)
    results = churn_five_times(report)

    Consumer(["default"], 4, burst=True).run()

    report.refresh_from_db()
    assert report.churned == 30
    assert all(result.status == State.DONE for result in results)


def test_without_a_lock_key_overlapping_runs_lose_an_update(backend):
    """The overlap is real: two runs that both load the report before either
    saves it (they wait for each other) add 6 once, not twice."""
    report = Report.objects.create(title="seed", words=4)
    results = [commands.churn_data_meeting(report, 2) for _ in range(2)]

    Consumer(["default"], 4, burst=True).run()

    report.refresh_from_db()
    assert all(result.status == State.DONE for result in results)
    assert report.churned == 6


def test_with_a_lock_key_the_same_runs_do_not_overlap(backend):
    """With a lock key the second run starts after the first saved: the
    first one waits for it in vain (for its short patience), and both
    additions count."""
    report = Report.objects.create(title="seed", words=4)
    locked = commands.churn_data_meeting.using(lock_key=f"report:{report.pk}")
    results = [locked(report, 2, patience=0.5) for _ in range(2)]

    Consumer(["default"], 4, burst=True).run()

    report.refresh_from_db()
    assert all(result.status == State.DONE for result in results)
    assert report.churned == 12


@pytest.mark.parametrize(
    "command", [commands.churn_data_with_f, commands.churn_data_for_update]
)
def test_the_documented_safe_forms_add_up_without_a_lock_key(command):
    """F() and select_for_update() in transaction.atomic() (on SQLite, a
    transaction_mode of IMMEDIATE, as the test project sets) need no lock."""
    report = Report.objects.create(title="seed", words=4)
    results = [command(report) for _ in range(5)]

    Consumer(["default"], 4, burst=True).run()

    report.refresh_from_db()
    assert report.churned == 30
    assert all(result.status == State.DONE for result in results)


@pytest.mark.process
def test_five_runs_on_one_report_add_up_at_the_default_concurrency(start_consumer):
    report = Report.objects.create(title="seed", words=4)
    results = churn_five_times(report)
    assert {result.message.lock_key for result in results} == {f"report:{report.pk}"}
    consumer = start_consumer()  # 4 worker threads

    wait_until(all_done(results), 60, "five churn_data runs", consumer)

    report.refresh_from_db()
    assert report.churned == 30
    assert sorted(result.get(timeout=0)["churned"] for result in results) == [
        6,
        12,
        18,
        24,
        30,
    ]


@pytest.mark.process
def test_two_consumers_at_once_add_up_too(start_consumer):
    reports = [Report.objects.create(title=f"seed {n}", words=4) for n in range(3)]
    results = [result for report in reports for result in churn_five_times(report)]
    consumers = [start_consumer(), start_consumer()]

    wait_until(all_done(results), 60, "fifteen churn_data runs", *consumers)

    assert [report.churned for report in Report.objects.order_by("pk")] == [30] * 3
