"""Periodic commands: schedules, tick claiming, and consumers side by side."""

import itertools
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from djqueue import State, get_queue, registry
from djqueue.commands.periodic import (
    PeriodicTicker,
    Schedule,
    _periodic,
    periodic_command,
)
from testproject.demo.models import Run

from .processes import ConsumerProcess, wait_until


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_intervals_count_from_the_epoch():
    schedule = Schedule(every=timedelta(minutes=5))
    assert schedule.latest(at("2026-11-24 04:33:20")) == at("2026-11-24 04:30:00")
    assert schedule.latest(at("2026-11-24 04:35:00")) == at("2026-11-24 04:35:00")
    assert schedule.next(at("2026-11-24 04:35:00")) == at("2026-11-24 04:40:00")


def test_cron_is_read_in_its_time_zone():
    schedule = Schedule(cron="0 3 * * *", timezone="Europe/Paris")
    assert schedule.latest(at("2026-11-24 04:00:00")) == at("2026-11-24 02:00:00")
    assert schedule.next(at("2026-11-24 04:00:00")) == at("2026-11-25 02:00:00")
    assert schedule.latest(at("2026-11-24 02:00:00")) == at("2026-11-24 02:00:00")


@pytest.mark.parametrize(
    "arguments",
    [{}, {"every": timedelta(seconds=5), "cron": "* * * * *"}, {"every": timedelta(0)}],
)
def test_a_schedule_needs_one_sensible_rule(arguments):
    with pytest.raises((TypeError, ValueError)):
        Schedule(**arguments)


def test_a_bad_cron_expression_is_refused():
    with pytest.raises(ValueError, match="is not a cron expression"):
        Schedule(cron="every tuesday")
    with pytest.raises(KeyError):  # zoneinfo's ZoneInfoNotFoundError
        Schedule(every=timedelta(seconds=5), timezone="Mars/Olympus")


def test_periodic_commands_cannot_take_required_arguments():
    def needs(x):
        pass

    with pytest.raises(TypeError, match="cannot take required arguments"):
        periodic_command(every=timedelta(seconds=5), name="tests.needs")(needs)
    registry.unregister("tests.needs")


@pytest.fixture
def every_ten_seconds():
    def heartbeat():
        return "beat"

    command = periodic_command(every=timedelta(seconds=10), name="tests.heartbeat")(
        heartbeat
    )
    yield command
    _periodic.pop(command.name)
    registry.unregister(command.name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_two_tickers_write_each_tick_once_and_skip_missed_ones(every_ten_seconds):
    queue = get_queue()
    start = at("2026-11-24 04:00:03")
    first, second = PeriodicTicker([queue]), PeriodicTicker([queue])

    assert first.write(start) == second.write(start) == 0  # 04:00:00 was missed
    assert first.write(start + timedelta(seconds=7)) == 1  # 04:00:10
    assert second.write(start + timedelta(seconds=8)) == 0
    assert second.write(start + timedelta(seconds=17)) == 1  # 04:00:20
    assert first.write(start + timedelta(seconds=18)) == 0

    etas = sorted(m.eta for m in queue.list_messages(State.QUEUED))
    assert etas == [at("2026-11-24 04:00:10"), at("2026-11-24 04:00:20")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("backend")
def test_catch_up_runs_the_latest_missed_tick_once():
    def report():
        pass

    command = periodic_command(
        every=timedelta(hours=1), catch_up=True, name="tests.catch_up"
    )(report)
    try:
        ticker = PeriodicTicker([get_queue()])
        assert ticker.write(at("2026-11-24 04:59:00")) == 1
        assert ticker.write(at("2026-11-24 04:59:30")) == 0
    finally:
        _periodic.pop(command.name)
        registry.unregister(command.name)
    (message,) = get_queue().list_messages(State.QUEUED)
    assert message.eta == at("2026-11-24 04:00:00")


def test_periodic_commands_lists_the_next_run(every_ten_seconds, capsys):
    call_command("periodic_commands")
    output = capsys.readouterr().out
    assert "tests.heartbeat" in output
    assert "every 0:00:10" in output
    assert "next run" in output


@pytest.mark.process
@pytest.mark.django_db(transaction=True)
def test_three_consumers_run_each_tick_exactly_once(server_backend, tmp_path):
    # Three-second ticks: ten chances to run one twice in 30 seconds, and a
    # tick is only skipped if all three consumers stall for a whole period.
    period = 3
    seconds = 30 if (connection.vendor != "sqlite" or server_backend) else 15
    env = {**server_backend, "DJQUEUE_DEMO_TICK_SECONDS": str(period)}
    procs = [
        ConsumerProcess(tmp_path / f"c{i}.log", "-c", "2", env=env) for i in range(3)
    ]
    started = datetime.now(UTC)
    try:
        wait_until(
            lambda: (datetime.now(UTC) - started).total_seconds() > seconds,
            seconds + 30,
            f"{seconds} seconds of ticks",
            *procs,
        )
        for proc in procs:
            proc.signal(signal.SIGTERM)
        assert [proc.wait(30) for proc in procs] == [0, 0, 0]
    finally:
        for proc in procs:
            proc.stop()

    ticks = Counter(Run.objects.values_list("label", flat=True))
    assert set(ticks.values()) == {1}, ticks
    assert len(ticks) >= seconds // period - 2
    times = sorted(datetime.fromisoformat(t) for t in ticks)
    assert all(
        (b - a) == timedelta(seconds=period) for a, b in itertools.pairwise(times)
    )
    # Each tick ran as one first attempt in one of these consumers.
    runs = list(Run.objects.values_list("pid", "attempt", "message_id"))
    assert {pid for pid, _, _ in runs} <= {proc.pid for proc in procs}
    assert {attempt for _, attempt, _ in runs} == {1}
    assert len({message_id for _, _, message_id in runs}) == len(ticks)
