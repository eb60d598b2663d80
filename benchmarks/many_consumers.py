"""Many consumers on one queue: ``./benchmarks/run --consumers [--count 16]``.

For each store (``RedisQueue``, and ``DatabaseQueue`` on PostgreSQL),
``--count`` ``run_queue`` processes (``--workers`` thread workers each, 1
by default) serve the queue ``default``. Once every consumer holds its
connections, a producer (:func:`benchmarks.producers.priorities`) queues
``--backlog`` messages of priority 0 and then, for ``--seconds`` seconds,
``--rate`` messages a second of priority 10. Every second the run reads

* how many of each priority have run (the done list: each message records
  its argument when it runs),
* the TCP connections each consumer's process tree holds to the store,
  from ``/proc`` (:mod:`benchmarks.sockets`), and the store's own view:
  ``pg_stat_activity`` of the queue's database grouped by
  ``application_name`` (each consumer connects as ``djqueue-consumer-<i>``)
  or Redis's ``CLIENT LIST`` filtered by djqueue's client name
  ``djqueue-<prefix>``.

When the window ends and the consumers have drained the rest, every
message must have run exactly once. The report gives the connections per
consumer, how many low-priority messages ran while high ones kept coming,
and how long the high ones waited from the moment each was due to be
queued until it ran.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import time
from collections import Counter

from . import done, sockets
from .harness import (
    CheckFailed,
    percentile,
    run_dir,
    start_process,
    stop_process,
    wait_until,
)
from .pgserver import PrivateServer, pg_url
from .producers import HIGH_BASE, produced_key, started_key
from .systems.base import REDIS_URL
from .tables import markdown, rst, text_table

#: Seconds for every consumer to start and connect.
START_BUDGET = 180.0
APP_NAME = "djqueue-consumer-{}"


@dataclasses.dataclass(frozen=True)
class Store:
    key: str
    label: str
    port: int

    @property
    def database(self) -> str:
        return f"wt_bench_{done.run_id().removeprefix('wtbench-')}_many"

    def env(self, consumer: int | None = None) -> dict[str, str]:
        env = {
            "BENCH_SYSTEM": self.key,
            "BENCH_RUN": done.run_id(),
            "BENCH_DONE_URL": REDIS_URL,
            "DJANGO_SETTINGS_MODULE": "benchmarks.djproject.settings",
        }
        if self.port == 5432:
            env["BENCH_PG_DB"] = self.database
            env["BENCH_PG_PORT"] = os.environ.get("BENCH_PG_PORT", "5432")
        else:
            env["BENCH_SQLITE"] = str(run_dir() / f"{self.key}.sqlite3")
        if consumer is not None:
            env["BENCH_PG_APP"] = APP_NAME.format(consumer)
        return env

    @property
    def server_port(self) -> int:
        """The port the consumers connect to: PostgreSQL's may be the
        private server's (``BENCH_PG_PORT``)."""
        if self.port == 5432:
            return int(os.environ.get("BENCH_PG_PORT", "5432"))
        return self.port

    @property
    def client_name(self) -> str:
        """djqueue's Redis client name under the settings' prefix."""
        return f"djqueue-{done.run_id()}-{self.key}:djq"

    def setup(self) -> None:
        if self.port == 5432:
            import psycopg

            with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        proc = start_process(
            [sys.executable, "-m", "django", "migrate", "--verbosity", "0"],
            self.env(),
            f"{self.key}-setup",
        )
        if proc.wait(timeout=300) != 0:
            raise RuntimeError(f"{self.key}: migrate failed (see its log)")

    def server_view(self) -> dict[str, int]:
        """The store's own count of the queue's connections, by client."""
        if self.port == 5432:
            import psycopg

            with psycopg.connect(pg_url("postgres")) as conn:
                rows = conn.execute(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE datname = %s GROUP BY 1",
                    (self.database,),
                ).fetchall()
            return {name or "(none)": count for name, count in rows}
        return {self.client_name: len(self.redis_client_ports())}

    def redis_client_ports(self) -> set[int]:
        """The client ports of djqueue's connections to Redis, by name: the
        consumers also reach Redis for the benchmark's done list."""
        return {
            int(client["addr"].rsplit(":", 1)[1])
            for client in done.client().client_list()
            if client["name"] == self.client_name
        }

    def per_consumer(self, pids: dict[str, int]) -> dict[str, int]:
        """The queue's connections each consumer holds (from ``/proc``; on
        Redis, those of djqueue's client name only)."""
        ports = sockets.local_ports(pids, self.server_port)
        if self.port == 5432:
            return {name: len(held) for name, held in ports.items()}
        djqueue = self.redis_client_ports()
        return {name: len(held & djqueue) for name, held in ports.items()}

    def teardown(self) -> None:
        if self.port == 5432:
            import psycopg

            with psycopg.connect(pg_url("postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        for path in run_dir().glob(f"{self.key}.sqlite3*"):
            path.unlink()


STORES = {
    store.key: store
    for store in (
        Store("djqueue-redis-many", "djqueue RedisQueue", 6379),
        Store("djqueue-pg-many", "djqueue DatabaseQueue (PostgreSQL)", 5432),
    )
}


def run_store(store: Store, args) -> dict:
    os.environ.update(store.env())
    done.delete_run_keys()
    consumers: dict[str, object] = {}
    argv = [
        sys.executable,
        "-m",
        "django",
        "run_queue",
        "--concurrency",
        str(args.workers),
    ]
    try:
        for i in range(args.count):
            name = APP_NAME.format(i)
            consumers[name] = start_process(argv, store.env(i), f"{store.key}-{i}")
        pids = {name: proc.pid for name, proc in consumers.items()}
        up = wait_until(
            lambda: (
                all(store.per_consumer(pids).values())
                or any(p.poll() is not None for p in consumers.values())
            ),
            START_BUDGET,
            interval=0.5,
        )
        if not up or any(p.poll() is not None for p in consumers.values()):
            raise CheckFailed("not every consumer started and connected")
        argv_producer = [
            sys.executable, "-m", "benchmarks.producers", "priorities",
            str(args.rate), str(args.seconds), str(args.backlog),
        ]  # fmt: skip
        producer = start_process(argv_producer, store.env(), f"{store.key}-producer")
        consumers["producer"] = producer
        redis = done.client()
        if not wait_until(
            lambda: redis.exists(started_key()) or producer.poll() is not None, 120
        ) or not redis.exists(started_key()):
            raise CheckFailed("the producer's warm-up message did not run")
        started = float(redis.get(started_key()))
        samples = []
        while producer.poll() is None:
            samples.append(_sample(store, pids, started))
            time.sleep(args.interval)
        if producer.returncode != 0:
            raise CheckFailed(f"the producer exited with {producer.returncode}")
        produced_high = int(redis.get(produced_key()) or 0)
        expected = 1 + args.backlog + produced_high
        drained = wait_until(lambda: done.count() >= expected, 120, interval=0.2)
        samples.append(_sample(store, pids, started))
        time.sleep(0.5)  # a message run twice shows up here
        entries = done.entries()
    finally:
        for proc in consumers.values():
            stop_process(proc)
    return _check_and_summarize(
        store, args, entries, samples, started, drained and produced_high
    )


def _sample(store: Store, pids: dict[str, int], started: float) -> dict:
    return {
        "t": round(time.time() - started, 2),
        "done": done.count(),
        "per_consumer": store.per_consumer(pids),
        "server": store.server_view(),
    }


def _check_and_summarize(
    store, args, entries, samples, started, produced_high: int
) -> dict:
    """Check every message ran once (``produced_high`` is 0 if the drain
    timed out); the figures of the report."""
    runs = Counter(x for x, _ in entries)
    twice = sorted(x for x, n in runs.items() if n > 1)
    high = [(x - HIGH_BASE, t) for x, t in entries if x >= HIGH_BASE]
    low_times = sorted(t - started for x, t in entries if 1 <= x <= args.backlog)
    missing_low = args.backlog - len({x for x, _ in entries if 1 <= x <= args.backlog})
    missing_high = produced_high - len({x for x, _ in high})
    if twice:
        raise CheckFailed(f"{len(twice)} messages ran more than once, e.g. {twice[:5]}")
    if not produced_high or missing_low or missing_high:
        raise CheckFailed(
            f"{missing_low} low-priority and {missing_high} high-priority "
            "messages did not run"
        )
    waits = [t - (started + n / args.rate) for n, t in high]
    window = args.seconds
    per_consumer = {
        name: max(s["per_consumer"][name] for s in samples)
        for name in samples[0]["per_consumer"]
    }
    server_peak = max(sum(s["server"].values()) for s in samples)
    by_app = Counter()
    for s in samples:
        for name, count in s["server"].items():
            by_app[name] = max(by_app[name], count)
    return {
        "store": store.key,
        "messages": len(entries),
        "run_twice": 0,
        "low_in_window": sum(1 for t in low_times if t <= window),
        "low_last": low_times[-1] if low_times else None,
        "high": produced_high,
        "high_wait_p50": percentile(waits, 0.5),
        "high_wait_p99": percentile(waits, 0.99),
        "connections_min": min(per_consumer.values()),
        "connections_max": max(per_consumer.values()),
        "connections_total": sum(per_consumer.values()),
        "server_peak": server_peak,
        "server_by_client": dict(by_app),
        "samples": samples,
    }


HEAD = [
    "store", "consumers x workers", "messages run (each once)",
    "low run during the high stream",
    "last low ran at", "high waited p50 / p99", "connections per consumer",
    "all consumers (/proc)", "server's count (peak)",
]  # fmt: skip


def rows(results: dict, args) -> list[list[str]]:
    out = []
    for key, cell in results.items():
        if "error" in cell:
            out.append([key, cell["error"], *[""] * (len(HEAD) - 2)])
            continue
        low_last = "-" if cell["low_last"] is None else f"{cell['low_last']:.1f} s"
        span = cell["connections_min"], cell["connections_max"]
        each = str(span[0]) if span[0] == span[1] else f"{span[0]} to {span[1]}"
        out.append([
            key, f"{args.count} x {args.workers}", f"{cell['messages']:,}",
            f"{cell['low_in_window']:,} of {args.backlog:,}", low_last,
            f"{cell['high_wait_p50'] * 1000:.0f} / "
            f"{cell['high_wait_p99'] * 1000:.0f} ms",
            each, str(cell["connections_total"]), str(cell["server_peak"]),
        ])  # fmt: skip
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/run --consumers")
    parser.add_argument("--count", type=int, default=16, help="consumer processes")
    parser.add_argument("--workers", type=int, default=1, help="workers each")
    parser.add_argument(
        "--backlog", type=int, default=5000, help="low-priority messages"
    )
    parser.add_argument("--rate", type=float, default=500, help="high ones a second")
    parser.add_argument("--seconds", type=float, default=20, help="of high ones")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--systems", default=",".join(STORES))
    parser.add_argument("--name", default="consumers")
    parser.add_argument(
        "--server",
        choices=("private", "shared"),
        default="private",
        help="PostgreSQL: a server of the run's own (default: the consumers' "
        "connections do not count against a shared server's max_connections) "
        "or the one on 127.0.0.1:5432",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from .main import RESULTS_DIR, commit, machine

    args = parse_args(argv)
    os.environ.setdefault("BENCH_REDIS_URL", REDIS_URL)
    done.run_id()
    results = {}
    with contextlib.ExitStack() as stack:
        if args.server == "private":
            os.environ["BENCH_PG_PORT"] = str(stack.enter_context(PrivateServer()))
        for key in args.systems.split(","):
            store = STORES[key]
            print(f"== {key}: {args.count} consumers", flush=True)
            try:
                store.setup()
                results[key] = run_store(store, args)
            except CheckFailed as exc:
                results[key] = {"error": f"check failed: {exc}"}
            finally:
                os.environ.update(store.env())
                done.delete_run_keys()  # the done list, the queue's keys
                store.teardown()
    meta = {
        "args": vars(args),
        "machine": machine(),
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = RESULTS_DIR / args.name
    stem.with_suffix(".json").write_text(json.dumps([meta, results], indent=1))
    title = (
        f"{args.count} consumers on one queue: {args.backlog:,} messages of "
        f"priority 0, then {args.rate:g}/s of priority 10 for {args.seconds:g} s"
    )
    body = rows(results, args)
    stem.with_suffix(".md").write_text(f"## {title}\n\n{markdown(HEAD, body)}\n")
    stem.with_suffix(".rst").write_text(rst(title, HEAD, body))
    print(f"{title} ({meta['date']}, commit {meta['commit']})\n")
    print(text_table(HEAD, body))
    for key, cell in results.items():
        if "server_by_client" in cell:
            clients = ", ".join(
                f"{k}: {v}" for k, v in sorted(cell["server_by_client"].items())
            )
            print(f"{key} server's view, peak per client: {clients}")
    failed = [
        f"{key}: {cell['error']}" for key, cell in results.items() if "error" in cell
    ]
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
