"""The benchmark harness's fairness (``benchmarks/``): the systems take turns
inside each repetition, SQLite is measured with the settings ``startproject``
writes beside WAL, every system gets the same N, and the targets are issue
13's, judged on two figures of one run. The measuring itself needs the
servers and the peers, so it lives in ``./benchmarks/run``; these tests run
the harness's own logic on recorded figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import harness, main, report

ROOT = Path(__file__).resolve().parent.parent


class FakeRemote:
    """Stands in for one system's measuring process: records each request
    and answers with the next figure of its script."""

    log: list[tuple[int, str, str]] = []
    figures: dict[str, list[float]] = {}

    def __init__(self, key, n, args):
        self.key, self.n, self.asked = key, n, 0
        self.log.append((0, key, "started"))

    def ready(self):
        self.log.append((0, self.key, "ready"))
        return {"label": self.key, "store": "redis", "kind": "peer"}

    def ask(self, request):
        self.asked += 1
        depth = f":{request['depth']}" if "depth" in request else ""
        self.log.append((self.asked, self.key, request["scenario"] + depth))
        return {"value": self.figures[self.key].pop(0)}

    def close(self):
        pass


@pytest.fixture
def fake_remotes(monkeypatch):
    """Each system's process replaced by a FakeRemote; the rounds module."""
    from benchmarks import rounds

    monkeypatch.setattr(rounds, "Remote", FakeRemote)
    FakeRemote.log = []
    return rounds


def test_systems_take_turns_inside_each_repetition(fake_remotes):
    """Repetition 1 runs each scenario for A then B, then repetition 2 does;
    never all repetitions of one system before the next."""
    args = main.parse_args(["--systems", "raw-redis,djqueue-redis", "--reps", "2"])
    args.scenarios = ["enqueue", "drain"]
    FakeRemote.figures = {"raw-redis": [1, 2, 3, 4], "djqueue-redis": [5, 6, 7, 8]}
    fake_remotes.measure_all(args, lambda key: args.n)
    order = [(key, name) for asked, key, name in FakeRemote.log if asked]
    assert (
        order
        == [
            ("raw-redis", "enqueue"),
            ("djqueue-redis", "enqueue"),
            ("raw-redis", "drain"),
            ("djqueue-redis", "drain"),
        ]
        * 2
    )


def test_nothing_is_measured_before_every_system_is_set_up(fake_remotes):
    """Every system's process starts at once and sets itself up; the first
    figure waits until all have, so no set-up shares the cores with it."""
    args = main.parse_args(["--systems", "raw-redis,djqueue-redis,huey-redis"])
    args.scenarios = ["enqueue"]
    FakeRemote.figures = {key: [1.0] * args.reps for key in args.keys}
    fake_remotes.measure_all(args, lambda key: args.n)
    first = next(i for i, (asked, _, _) in enumerate(FakeRemote.log) if asked)
    assert sorted(FakeRemote.log[:first]) == sorted(
        [(0, key, "started") for key in args.keys]
        + [(0, key, "ready") for key in args.keys]
    )


def test_figures_are_medians_of_the_repetitions(fake_remotes):
    """Each figure is the median of its repetitions, every repetition kept."""
    args = main.parse_args(["--systems", "raw-pg", "--reps", "3"])
    args.scenarios = ["enqueue"]
    FakeRemote.figures = {"raw-pg": [10.0, 30.0, 20.0]}
    results = fake_remotes.measure_all(args, lambda key: args.n)
    assert results["raw-pg"]["enqueue"]["value"] == 20.0
    assert results["raw-pg"]["enqueue"]["runs"] == [10.0, 30.0, 20.0]


def test_a_raw_limit_runs_right_next_to_its_djqueue_system():
    """Whatever order --systems gives, each raw limit is taken right before
    its djqueue system, so the two figures of its ratio are measured
    together."""
    args = main.parse_args(["--systems", "djqueue-pg,huey-redis,raw-pg,raw-redis"])
    keys = args.keys
    assert keys.index("djqueue-pg") == keys.index("raw-pg") + 1


def test_depth_run_drains_at_each_depth_in_turn(fake_remotes):
    """--depth fills the queue to each depth for every system in turn, and
    the depth target compares the largest depth with the smallest."""
    args = main.parse_args(["--depth", "5000,2000", "--n", "500", "--reps", "1"])
    assert args.keys == ["djqueue-redis", "raw-pg", "djqueue-pg"]
    FakeRemote.figures = {key: [600.0, 550.0] for key in args.keys}
    results = fake_remotes.measure_all(args, lambda key: args.n)
    order = [(key, name) for asked, key, name in FakeRemote.log if asked]
    assert order[:3] == [(key, "depth:2000") for key in args.keys]
    meta = {"scenarios": args.scenarios, "depths": args.depths, "n": args.n}
    rows = {row[0]: row for row in report.target_rows(results, meta)}
    (text,) = rows
    assert text.startswith("PostgreSQL: drain at 1,000,000 queued")
    assert rows[text][3:] == ["0.92x", ">= 0.9x", "met"]


def test_peers_get_the_same_n_as_djqueue():
    """Without --peer-n every system, RQ's forking worker included, enqueues
    and drains the same number of messages."""
    from benchmarks.systems import load

    args = main.parse_args(["--n", "5000"])
    n_of = main.messages(args)
    assert {n_of(key) for key in args.keys} == {5000}
    capped = [key for key in args.keys if getattr(load(key), "max_drain_n", None)]
    assert capped == []


def bench_settings(system: str, tmp_path, names, **environ) -> dict:
    """The settings ``names`` of the bench project for ``system``, read in a
    fresh interpreter (the settings read the environment at import)."""
    env = {
        **os.environ,
        "BENCH_SYSTEM": system,
        "BENCH_RUN": "wtbench-00000000",
        "BENCH_SQLITE": str(tmp_path / "db.sqlite3"),
        "BENCH_DONE_URL": "redis://127.0.0.1:6379/15",
    }
    env.pop("BENCH_PG_DB", None)
    env.update(environ)
    code = (
        "import json, sys; from benchmarks.djproject import settings; "
        "print(json.dumps({name: getattr(settings, name) for name in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *names], cwd=ROOT, env=env,
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(out.stdout)


def sqlite_databases(system: str, tmp_path) -> dict:
    """DATABASES["default"] of the bench project for ``system``."""
    return bench_settings(system, tmp_path, ["DATABASES"])["DATABASES"]["default"]


def test_stock_sqlite_is_what_startproject_writes(tmp_path):
    """djqueue-sqlite-stock runs with ENGINE and NAME only; djqueue-sqlite-wal
    with WAL, synchronous=NORMAL, IMMEDIATE transactions and a timeout."""
    stock = sqlite_databases("djqueue-sqlite-stock", tmp_path)
    assert stock == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "db.sqlite3"),
    }
    wal = sqlite_databases("djqueue-sqlite-wal", tmp_path)["OPTIONS"]
    assert "journal_mode=WAL" in wal["init_command"]
    assert "synchronous=NORMAL" in wal["init_command"]
    assert wal["transaction_mode"] == "IMMEDIATE"
    assert wal["timeout"] > 0


def row(store, kind="peer", **cells):
    return {"store": store, "kind": kind, **{k: {"value": v} for k, v in cells.items()}}


def test_sqlite_targets_compare_stock_and_wal_with_sqlitehuey():
    """The SQLite targets are judged on the stock and the WAL figures of the
    run against huey's SqliteHuey, met or missed."""
    results = {
        "djqueue-sqlite-stock": row("sqlite", "djqueue", enqueue=800, drain=300),
        "djqueue-sqlite-wal": row("sqlite", "djqueue", enqueue=4000, drain=3200),
        "huey-sqlite": row("sqlite", enqueue=4000, drain=1500),
    }
    meta = {"scenarios": ["enqueue", "drain"]}
    rows = {r[0]: r[3:] for r in report.target_rows(results, meta)}
    assert rows["SQLite, stock settings: enqueue >= huey SqliteHuey"] == [
        "0.20x",
        ">= 1x",
        "MISSED",
    ]
    assert rows["SQLite, stock settings: drain >= huey SqliteHuey"] == [
        "0.20x",
        ">= 1x",
        "MISSED",
    ]
    assert rows["SQLite, WAL: drain >= 2x huey SqliteHuey"] == ["2.13x", ">= 2x", "met"]


def test_redis_targets_name_huey_two_processes_and_dramatiq():
    """The Redis drain at run_queue's defaults is judged against huey with
    two process workers and against dramatiq at its defaults, and latency
    must be at most huey's."""
    results = {
        "djqueue-redis": row("redis", "djqueue", drain=6000, latency=0.001),
        "huey-redis": row("redis", drain=1600, latency=0.0012),
        "huey-redis-2p": row("redis", drain=2900),
        "dramatiq-redis": row("redis", drain=3800),
    }
    meta = {"scenarios": ["drain", "latency"]}
    rows = {r[0]: r[3:] for r in report.target_rows(results, meta)}
    two = "Redis: drain, run_queue at its defaults >= 2x huey with 2 process workers"
    dramatiq = (
        "Redis: drain, run_queue at its defaults >= 1.5x dramatiq at its defaults"
    )
    assert rows[two] == ["2.07x", ">= 2x", "met"]
    assert rows[dramatiq] == ["1.58x", ">= 1.5x", "met"]
    assert rows["Redis: idle latency p50 <= huey's"] == ["0.83x", "<= 1x", "met"]


def test_a_message_run_twice_fails_the_depth_check():
    """The depth drain stops early, so not every message runs, but none may
    run twice or be one that was never queued."""
    check = harness.check_at_most_once
    check([(0, 1.0), (3, 2.0)], 5)
    with pytest.raises(harness.CheckFailed, match="1 messages run more than once"):
        check([(0, 1.0), (0, 2.0)], 5)
    with pytest.raises(harness.CheckFailed, match="1 unexpected"):
        check([(7, 1.0)], 5)


def test_threadmill_keys_carry_the_run_prefix(tmp_path, monkeypatch):
    """Threadmill names its Redis keys after the backend's alias, so the
    alias is the run's key prefix (which a reset deletes), its Redis is the
    done list's, and the worker is started on that alias."""
    from benchmarks.systems import load

    prefix = "wtbench-00000000-threadmill-redis"
    names = ["TASKS", "BENCH_TASKS_ALIAS", "INSTALLED_APPS"]
    found = bench_settings("threadmill-redis", tmp_path, names)
    assert found["TASKS"] == {
        prefix: {
            "BACKEND": "threadmill.backends.redis.RedisTaskBackend",
            "REDIS_URL": "redis://127.0.0.1:6379/15",
        }
    }
    assert found["BENCH_TASKS_ALIAS"] == prefix
    assert "threadmill" in found["INSTALLED_APPS"]
    monkeypatch.setenv("BENCH_RUN", "wtbench-00000000")
    monkeypatch.setenv("BENCH_SYSTEM", "threadmill-redis")
    system = load("threadmill-redis")
    worker = ["threadmill", "worker", "--backend", prefix]
    assert system.consumer_argv(None)[-4:] == worker
    assert system.consumer_argv(1)[-2:] == ["--workers", "1"]
    assert system.store == "redis"
    assert system.bulk_enqueue is None


def test_django_ox_runs_ox_worker_on_its_own_database(tmp_path, monkeypatch):
    """django-ox is OxBackend on the run's own PostgreSQL database, run by
    ox_worker (one task at a time unless told), with its bulk API."""
    from benchmarks.systems import load

    names = ["TASKS", "BENCH_TASKS_ALIAS", "INSTALLED_APPS", "DATABASES"]
    found = bench_settings(
        "django-ox-pg", tmp_path, names, BENCH_PG_DB="wt_bench_00000000_djox"
    )
    assert found["TASKS"] == {"default": {"BACKEND": "django_ox.backend.OxBackend"}}
    assert found["BENCH_TASKS_ALIAS"] == "default"
    assert "django_ox" in found["INSTALLED_APPS"]
    database = found["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "wt_bench_00000000_djox"
    monkeypatch.setenv("BENCH_RUN", "wtbench-00000000")
    system = load("django-ox-pg")
    assert system.pg_name == "wt_bench_00000000_djox"
    assert system.consumer_argv(None)[-1] == "ox_worker"
    assert system.consumer_argv(2)[-3:] == ["ox_worker", "--concurrency", "2"]
    assert system.store == "postgres"
    assert system.bulk_enqueue is not None


def test_the_fastest_db_backed_peer_may_be_django_ox():
    """The PostgreSQL target against the fastest DB-backed peer counts
    django-ox among the peers."""
    results = {
        "djqueue-pg": row("postgres", "djqueue", drain=3000),
        "djtasks-pg": row("postgres", drain=120),
        "django-ox-pg": row("postgres", drain=900),
    }
    meta = {"scenarios": ["drain", "drain1"]}
    rows = {r[0]: r[2:] for r in report.target_rows(results, meta)}
    fastest = rows["PostgreSQL: drain at defaults >= 3x the fastest DB-backed peer"]
    assert "django-ox-pg" in fastest[0]
    assert fastest[1:] == ["3.33x", ">= 3x", "met"]


def test_every_djqueue_system_on_redis_uses_redis():
    """A djqueue system is measured on the store it names: a variant such
    as djqueue-redis-2p ran DatabaseQueue on SQLite while the settings
    chose Redis for the key djqueue-redis alone."""
    from benchmarks.systems import SYSTEMS, load

    keys = [
        key
        for key in SYSTEMS
        if key.startswith("djqueue") and load(key).store == "redis"
    ]
    assert "djqueue-redis-2p" in keys
    script = (
        "import importlib, os, sys\n"
        "for key in sys.argv[1:]:\n"
        "    os.environ['BENCH_SYSTEM'] = key\n"
        "    sys.modules.pop('benchmarks.djproject.settings', None)\n"
        "    s = importlib.import_module('benchmarks.djproject.settings')\n"
        "    print(key, getattr(s, 'QUEUES', {}).get('default', {}).get('BACKEND'))\n"
    )
    env = {
        **os.environ,
        "BENCH_DONE_URL": "redis://127.0.0.1:1/0",
        "BENCH_SQLITE": "/nonexistent.sqlite3",
    }
    out = subprocess.run(
        [sys.executable, "-c", script, *keys],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.split() == [
        word for key in keys for word in (key, "djqueue.backends.redis.RedisQueue")
    ]


BURN_THEN_WAIT = """
import subprocess, sys, time
if sys.argv[1] == "parent":
    child = subprocess.Popen([sys.executable, "-c", sys.argv[2], "child", ""])
    child.wait()
else:
    while time.process_time() < 0.3:
        pass
    print("burnt", flush=True)
    sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="CPU times come from /proc")
def test_a_consumers_cpu_time_counts_its_whole_process_tree():
    """A grandchild that burns 0.3 s of CPU counts in its root's figure."""
    from benchmarks import cpu

    argv = [sys.executable, "-c", BURN_THEN_WAIT, "parent", BURN_THEN_WAIT]
    root = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        before = cpu.snapshot(os.getpid())
        assert root.stdout.readline() == "burnt\n"
        taken = cpu.snapshot(root.pid)
        assert taken.consumer >= 0.3
        start = cpu.Snapshot(0.0, taken.servers)
        figures = cpu.per_message(start, taken, messages=3)
        assert figures["consumer_us"] == pytest.approx(taken.consumer / 3 * 1e6)
        assert figures["servers_us"] == 0.0
        assert cpu.per_message(before, None, 3) == {}
    finally:
        root.stdin.close()
        root.wait(10)


def test_drain_cpu_figures_are_medians_and_get_a_table():
    """The CPU per message of each drain repetition goes into the figure as
    a median, and the report shows it with the cores each side kept busy."""
    from benchmarks import scenarios

    cells = [
        {"value": 2000.0, "consumer_us": 300.0, "servers_us": 100.0},
        {"value": 1000.0, "consumer_us": 500.0, "servers_us": 200.0},
        {"value": 1500.0, "consumer_us": 400.0, "servers_us": 150.0},
    ]
    combined = scenarios.combine(cells)
    assert (combined["consumer_us"], combined["servers_us"]) == (400.0, 150.0)
    results = {"djqueue-redis": {"kind": "djqueue", "store": "redis"}}
    results["djqueue-redis"]["drain"] = combined
    titles = [
        title for title, _, _ in report.sections(results, {"scenarios": ["drain"]})
    ]
    assert report.CPU_TITLE in titles
    assert report.cpu_rows(results) == [
        ["djqueue-redis", "default", "1,500", "400", "150", "0.60", "0.23"]
    ]


def test_a_run_can_measure_some_scenarios_only():
    """``--scenarios`` keeps the run's order and refuses a name it does not
    know, naming the ones it does."""
    args = main.parse_args(["--scenarios", "drain1,drain"])
    assert args.scenarios == ["drain", "drain1"]
    assert main.parse_args([]).scenarios == main.SCENARIOS
    with pytest.raises(SystemExit):
        main.parse_args(["--scenarios", "drain,draining"])


def _window(done_counts, dead=0, step=5.0):
    """Samples of a sustained window: ``done_counts`` at every ``step`` s,
    600 queued a second."""
    return [
        {
            "t": i * step, "produced": int(600 * i * step), "done": count,
            "dead": dead * i, "live": 10, "table_bytes": 2**20 * i,
            "index_bytes": 2**19 * i, "updated": 0, "hot_updated": 0,
            "autovacuums": 0,
        }
        for i, count in enumerate(done_counts)
    ]  # fmt: skip


def test_a_sustained_window_reports_its_whole_rate_and_its_last_third():
    from benchmarks import sustained

    summary = sustained.summarize(_window([0, 3000, 6000, 7000]), 15)
    assert summary["offered"] == 600
    assert summary["rate"] == pytest.approx(7000 / 15)
    assert summary["rate_tail"] == pytest.approx(1000 / 5)  # from 10 s to 15 s
    assert summary["backlog"] == 9000 - 7000
    assert summary["hot_share"] is None  # no updates at all


def test_the_held_transaction_is_compared_with_none_for_each_queue():
    from benchmarks import sustained, sustained_report

    def cell(counts, dead):
        samples = _window(counts, dead)
        return {"samples": samples, "summary": sustained.summarize(samples, 15)}

    data = {
        "results": {
            "skiplocked": {
                "shipped": [cell([0, 3000, 6000, 9000], 100)],
                "held": [cell([0, 3000, 4000, 4500], 1400)],
            }
        },
        "settings": {"skiplocked": []},
    }
    (row,) = sustained_report.ratio_rows(data)
    assert row == ["skiplocked", "0.17x", "0.50x", "14.00x", "1.00x"]


def test_the_smoke_runs_sustained_cells_of_seconds():
    from benchmarks import sustained

    args = sustained.parse_args(["--smoke"])
    assert args.seconds * len(args.targets) * len(args.conditions) <= 15
    assert set(args.targets) == {"skiplocked", "djqueue-pg-sustained"}
    assert args.conditions == ["shipped", "held"]


def _many_samples():
    return [{"t": 1.0, "done": 4, "per_consumer": {"c0": 3}, "server": {"c0": 3}}]


def test_the_many_consumers_run_fails_on_a_message_run_twice():
    from argparse import Namespace

    from benchmarks import many_consumers
    from benchmarks.producers import HIGH_BASE

    store = many_consumers.STORES["djqueue-pg-many"]
    args = Namespace(backlog=2, rate=10.0, seconds=1.0)
    once = [(0, 1.0), (1, 1.1), (2, 2.5), (HIGH_BASE, 1.3)]
    summary = many_consumers._check_and_summarize(
        store, args, once, _many_samples(), 1.0, 1
    )
    assert summary["messages"] == 4
    assert summary["low_in_window"] == 1  # the other ran after the window
    assert summary["connections_max"] == 3
    with pytest.raises(harness.CheckFailed, match="1 messages ran more than once"):
        many_consumers._check_and_summarize(
            store, args, [*once, (1, 1.4)], _many_samples(), 1.0, 1
        )
    with pytest.raises(harness.CheckFailed, match="1 high-priority"):
        many_consumers._check_and_summarize(
            store, args, once[:3], _many_samples(), 1.0, 1
        )
