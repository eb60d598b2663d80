"""The sustained run: what hours of steady traffic do to a PostgreSQL queue's
table, with and without a transaction held open beside it.

``./benchmarks/run --sustained [--seconds 120] [--rate 600] [--reps 2]``
(``--smoke``: a few seconds per cell, as CI runs it). For each queue and
each condition, in turn inside each repetition, a producer process
(:mod:`benchmarks.producers`) queues ``--rate`` messages a second for
``--seconds`` seconds while the queue's consumers drain, and every
``--interval`` seconds the run samples how many have run and what the
table holds (:mod:`benchmarks.pgstats`). The conditions:

* ``shipped``: the server's autovacuum as configured, nothing else;
* ``held``: a transaction opened on another connection to the queue's
  database before the producer starts (``BEGIN; SELECT txid_current();``)
  and left idle until the window ends, as a forgotten ``psql`` session or
  a stuck request would: no vacuum can remove a row version that died
  after it began;
* ``timeout`` (asked for with ``--conditions``): the same transaction on
  a session with ``idle_in_transaction_session_timeout`` at
  :data:`IDLE_TIMEOUT`, as an operator would set it: the server ends the
  session, and with it the hold, once it has been idle that long.

After the window the transaction (if any) is rolled back and the consumers
drain what is left; every message must then have run exactly once. The
queues (:data:`TARGETS`): the hand-written plain ``SKIP LOCKED`` table of
:mod:`benchmarks.skiplocked` (two consumer processes), djqueue's
``DatabaseQueue`` (one ``run_queue`` at its defaults) with every migration,
the same before migration ``0012`` (the table's storage settings and
indexes as they were before it), and djqueue keeping no results
(``QUEUE_RESULT_TTL = 0``: a done message is deleted). Each queue has a
database of its own, created for the run and dropped at its end; its table
is truncated and its counters reset before each cell.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time

from . import done, pgstats
from .harness import (
    CheckFailed,
    check_exactly_once,
    run_dir,
    start_process,
    stop_process,
    wait_until,
)
from .pgserver import pg_url
from .producers import produced_key, started_key
from .sustained_report import MIB, failures, publish
from .systems.base import REDIS_URL

CONDITIONS = ("shipped", "held", "timeout")
#: The default conditions; ``timeout`` is asked for by name.
DEFAULT_CONDITIONS = ("shipped", "held")
#: ``idle_in_transaction_session_timeout`` of the ``timeout`` condition.
IDLE_TIMEOUT = "10s"
#: Seconds to wait for the producer's warm-up message (consumer start-up).
START_BUDGET = 90.0
#: Backlog drained per second, at least, once the window ends.
DRAIN_RATE_FLOOR = 50.0


@dataclasses.dataclass(frozen=True)
class Target:
    """One queue measured: its table, how it is set up and consumed."""

    key: str
    label: str
    table: str
    kind: str  # "djqueue" or "skiplocked": which producer and consumer
    #: The last djqueue migration applied; "" for all of them.
    migration: str = ""
    #: Consumer processes (the plain queue's consumers have one worker each).
    processes: int = 1
    #: djqueue's ``QUEUE_RESULT_TTL``; None for its default (a day).
    result_ttl: float | None = None

    @property
    def database(self) -> str:
        run = done.run_id().removeprefix("wtbench-")
        return f"wt_bench_{run}_{self.key.replace('-', '_')}"

    @property
    def url(self) -> str:
        return pg_url(self.database)

    def env(self) -> dict[str, str]:
        return {
            "BENCH_SYSTEM": self.key,
            "BENCH_RUN": done.run_id(),
            "BENCH_DONE_URL": REDIS_URL,
            "BENCH_PG_URL": self.url,
            "BENCH_PG_DB": self.database,
            "BENCH_PG_PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "DJANGO_SETTINGS_MODULE": "benchmarks.djproject.settings",
            "BENCH_RESULT_TTL": "" if self.result_ttl is None else str(self.result_ttl),
        }

    def setup(self) -> None:
        import psycopg

        with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        if self.kind == "skiplocked":
            from .skiplocked import SCHEMA

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(SCHEMA)
            return
        self._manage("migrate")
        if self.migration:
            self._manage("migrate", "djqueue", self.migration)

    def _manage(self, *argv: str) -> None:
        proc = start_process(
            [sys.executable, "-m", "django", *argv, "--verbosity", "0"],
            self.env(),
            f"{self.key}-setup",
        )
        if proc.wait(timeout=300) != 0:
            raise RuntimeError(f"{self.key}: {' '.join(argv)} failed (see its log)")

    def start_consumers(self) -> list:
        if self.kind == "skiplocked":
            argv = [sys.executable, "-m", "benchmarks.skiplocked"]
        else:
            argv = [sys.executable, "-m", "django", "run_queue"]
        return [
            start_process(argv, self.env(), f"{self.key}-consumer{i}")
            for i in range(self.processes)
        ]

    def teardown(self) -> None:
        import psycopg

        with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


TARGETS = {
    target.key: target
    for target in (
        Target(
            "skiplocked",
            "plain SKIP LOCKED (hand-written baseline, 2 consumers)",
            "skiplocked_job",
            "skiplocked",
            processes=2,
        ),
        Target(
            "djqueue-pg-0011",
            "djqueue DatabaseQueue, table as before migration 0012",
            "djqueue_message",
            "djqueue",
            migration="0011_command_index",
        ),
        Target(
            "djqueue-pg-sustained",
            "djqueue DatabaseQueue (run_queue at its defaults)",
            "djqueue_message",
            "djqueue",
        ),
        Target(
            "djqueue-pg-ttl0",
            "djqueue DatabaseQueue keeping no results (QUEUE_RESULT_TTL = 0)",
            "djqueue_message",
            "djqueue",
            result_ttl=0,
        ),
    )
}
SMOKE_TARGETS = ("skiplocked", "djqueue-pg-sustained")


def run_cell(target: Target, condition: str, args) -> dict:
    """One window of one queue in one condition: its samples and summary."""
    import psycopg

    os.environ.update(target.env())
    done.delete_run_keys()
    procs, holder = [], None
    with psycopg.connect(target.url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {target.table}")
        pgstats.reset(conn, target.table)
        try:
            procs += target.start_consumers()
            if condition in ("held", "timeout"):
                holder = psycopg.connect(target.url, autocommit=True)
                if condition == "timeout":  # what an operator would set
                    holder.execute(
                        f"SET idle_in_transaction_session_timeout = '{IDLE_TIMEOUT}'"
                    )
                pgstats.xmin_held(holder)
            argv = [
                sys.executable, "-m", "benchmarks.producers", target.kind,
                str(args.rate), str(args.seconds),
            ]  # fmt: skip
            producer = start_process(argv, target.env(), f"{target.key}-producer")
            procs.append(producer)
            redis = done.client()
            began = wait_until(
                lambda: redis.exists(started_key()) or producer.poll() is not None,
                START_BUDGET,
            )
            if not began or producer.poll() is not None:
                raise CheckFailed("the producer's warm-up message did not run")
            pgstats.reset(conn, target.table)
            samples = _sample_window(conn, target, args, producer)
            if holder is not None:
                # The server may have ended it (idle_in_transaction_session_timeout).
                with contextlib.suppress(psycopg.Error):
                    holder.execute("ROLLBACK")
                holder.close()
                holder = None
            produced = int(redis.get(produced_key()) or 0)
            ended = time.monotonic()
            drained = wait_until(
                lambda: done.count() >= produced + 1,
                60 + produced / DRAIN_RATE_FLOOR,
                interval=0.2,
            )
            drain_seconds = time.monotonic() - ended
            time.sleep(0.5)  # a message run twice shows up here
            after = pgstats.sample(conn, target.table)
            entries = done.entries()
        finally:
            if holder is not None:
                holder.close()
            for proc in procs:
                stop_process(proc)
    if not drained:
        raise CheckFailed(f"{len(entries)} of {produced + 1} messages ran")
    check_exactly_once(entries, produced + 1)
    return {
        "samples": samples,
        "after_drain": after,
        "drain_seconds": drain_seconds,
        "produced": produced,
        "summary": summarize(samples, args.seconds),
    }


def _sample_window(conn, target: Target, args, producer) -> list[dict]:
    """Sample every ``args.interval`` seconds until the producer is done."""
    redis, samples = done.client(), []
    started = time.monotonic()
    next_at = started
    while True:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        elapsed = time.monotonic() - started
        samples.append({
            "t": round(elapsed, 2),
            "produced": int(redis.get(produced_key()) or 0),
            "done": done.count() - 1,  # not the warm-up message
            **pgstats.sample(conn, target.table),
        })  # fmt: skip
        if elapsed >= args.seconds or producer.poll() is not None:
            if producer.wait(timeout=30) != 0:
                raise CheckFailed(f"the producer exited with {producer.returncode}")
            return samples
        next_at += args.interval


def summarize(samples: list[dict], seconds: float) -> dict:
    """Rates over the whole window and its last third; the table at its end."""
    first, last = samples[0], samples[-1]
    tail = next(s for s in samples if s["t"] >= last["t"] * 2 / 3)
    span = max(last["t"] - first["t"], 1e-9)
    updates = max(last["updated"], 1)
    return {
        "offered": last["produced"] / span,
        "rate": (last["done"] - first["done"]) / span,
        "rate_tail": (last["done"] - tail["done"]) / max(last["t"] - tail["t"], 1e-9),
        "backlog": last["produced"] - last["done"],
        "dead": last["dead"],
        "dead_peak": max(s["dead"] for s in samples),
        "live": last["live"],
        "table_mib": last["table_bytes"] / MIB,
        "index_mib": last["index_bytes"] / MIB,
        "hot_share": last["hot_updated"] / updates if last["updated"] else None,
        "autovacuums": last["autovacuums"],
    }


def run(args) -> dict:
    """Every target in every condition, in turn inside each repetition."""
    results: dict = {key: {c: [] for c in args.conditions} for key in args.targets}
    settings: dict = {}
    targets = [TARGETS[key] for key in args.targets]
    try:
        for target in targets:
            target.setup()
            import psycopg

            with psycopg.connect(target.url, autocommit=True) as conn:
                settings[target.key] = pgstats.settings(conn, target.table)
        for rep in range(args.reps):
            for condition in args.conditions:
                for target in targets:
                    print(f"== rep {rep + 1}: {target.key} {condition}", flush=True)
                    try:
                        cell = run_cell(target, condition, args)
                    except CheckFailed as exc:
                        cell = {"error": f"check failed: {exc}"}
                    results[target.key][condition].append(cell)
                    print(f"   {_brief(cell)}", flush=True)
    finally:
        for target in targets:
            os.environ.update(target.env())
            done.delete_run_keys()  # the done list and the producer's keys
            target.teardown()
    return {"results": results, "settings": settings}


def server_settings() -> list[list[str]]:
    """The server's version and autovacuum settings, for the report."""
    import psycopg

    names = (
        "autovacuum", "autovacuum_naptime", "autovacuum_vacuum_scale_factor",
        "autovacuum_vacuum_threshold", "autovacuum_vacuum_cost_delay",
        "autovacuum_max_workers", "shared_buffers", "server_version",
    )  # fmt: skip
    with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
        return [[name, conn.execute(f"SHOW {name}").fetchone()[0]] for name in names]


def _brief(cell: dict) -> str:
    if "error" in cell:
        return cell["error"]
    s = cell["summary"]
    return (
        f"{s['rate']:,.0f}/s done of {s['offered']:,.0f}/s offered (last third "
        f"{s['rate_tail']:,.0f}/s), backlog {s['backlog']:,}, dead {s['dead']:,}, "
        f"table {s['table_mib']:.1f} MiB, indexes {s['index_mib']:.1f} MiB"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="benchmarks/run --sustained", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="seconds per cell, for CI")
    parser.add_argument("--seconds", type=float, help="window of each cell (120)")
    parser.add_argument("--interval", type=float, help="seconds between samples (5)")
    parser.add_argument("--rate", type=int, help="messages queued per second (600)")
    parser.add_argument("--reps", type=int, help="repetitions (1)")
    parser.add_argument("--systems", help=f"comma-separated, of {','.join(TARGETS)}")
    parser.add_argument(
        "--conditions",
        default=",".join(DEFAULT_CONDITIONS),
        help=f"of {','.join(CONDITIONS)} (default: shipped,held)",
    )
    parser.add_argument("--name", help="results/NAME.* (default: sustained)")
    parser.add_argument(
        "--server",
        choices=("private", "shared"),
        help="a PostgreSQL server of the run's own, at PostgreSQL's defaults "
        "(default), or the one on 127.0.0.1:5432 (--smoke's default)",
    )
    args = parser.parse_args(argv)
    args.server = args.server or ("shared" if args.smoke else "private")
    args.seconds = args.seconds or (3.0 if args.smoke else 120.0)
    args.interval = args.interval or (1.0 if args.smoke else 5.0)
    args.rate = args.rate or (100 if args.smoke else 600)
    args.reps = args.reps or 1
    args.targets = (
        args.systems.split(",")
        if args.systems
        else list(SMOKE_TARGETS if args.smoke else TARGETS)
    )
    args.conditions = args.conditions.split(",")
    if unknown := [k for k in args.targets if k not in TARGETS]:
        known = ", ".join(TARGETS)
        parser.error(f"unknown systems {', '.join(unknown)}; known: {known}")
    if unknown := [c for c in args.conditions if c not in CONDITIONS]:
        parser.error(f"unknown conditions {', '.join(unknown)}")
    args.name = args.name or ("sustained-smoke" if args.smoke else "sustained")
    return args


def main(argv=None) -> int:
    return 1 if measure_and_publish(parse_args(argv)) else 0


def smoke() -> list[str]:
    """The smoke run's sustained cells (``./benchmarks/run --smoke``): its
    failures."""
    return measure_and_publish(parse_args(["--smoke"]))


def measure_and_publish(args) -> list[str]:
    """Run, print and write the report; return the failures."""
    from .main import commit, machine

    os.environ.setdefault("BENCH_REDIS_URL", REDIS_URL)
    done.run_id()
    run_dir()
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.server == "private":
            from .pgserver import PrivateServer

            os.environ["BENCH_PG_PORT"] = str(stack.enter_context(PrivateServer()))
        data = run(args)
        data["server"] = server_settings()
    meta = {
        "seconds": args.seconds,
        "interval": args.interval,
        "rate": args.rate,
        "reps": args.reps,
        "conditions": args.conditions,
        "took": time.monotonic() - began,
        "machine": machine(),
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(publish(data, meta, args.name))
    failed = failures(data)
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
