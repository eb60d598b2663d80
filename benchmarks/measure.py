"""Measure one system in this process: ``python -m benchmarks.measure KEY ...``.

Each system runs in its own process so that its client library (and, for the
Django-based ones, its settings) cannot leak into another's. The results are
written as JSON to ``--out``: per scenario either numbers or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback

from . import scenarios
from .harness import CheckFailed
from .systems import load


def run_scenario(system, name: str, args) -> dict:
    if name == "enqueue":
        return scenarios.enqueue_rate(system, args.n, args.reps)
    if name == "bulk":
        if system.bulk_enqueue is None:
            return {"na": system.bulk_note}
        return scenarios.enqueue_rate(system, args.n, args.reps, bulk=True)
    if name in ("drain", "drain1"):
        if name == "drain1" and system.default_concurrency == 1:
            return {"same": "drain", "na": "one worker is its default"}
        concurrency = 1 if name == "drain1" else None
        return scenarios.drain_rate(system, args.n, args.reps, concurrency)
    if name == "latency":
        return scenarios.idle_latency(system, args.samples, args.reps)
    if name == "memory":
        return scenarios.memory(system, args.memory)
    raise ValueError(f"unknown scenario {name!r}")


def measure(key: str, args) -> dict:
    system = load(key)
    os.environ["BENCH_SYSTEM"] = key  # the key prefixes name the system
    os.environ.update(system.env())
    results = {"label": system.label, "store": system.store, "kind": system.kind}
    results["_n"], results["_samples"] = args.n, args.samples
    try:
        system.setup()
    except Exception as exc:
        return {**results, "error": f"set-up failed: {exc!r}"}
    try:
        for name in args.scenarios:
            began = time.monotonic()
            try:
                results[name] = run_scenario(system, name, args)
            except CheckFailed as exc:
                results[name] = {"error": f"check failed: {exc}", "check": True}
            except Exception as exc:
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            took = time.monotonic() - began
            print(f"  {key} {name} ({took:.1f}s): {results[name]}", flush=True)
    finally:
        system.reset()
        system.teardown()
    return results


def main() -> None:
    # SIGTERM unwinds (consumers stopped, keys deleted, databases dropped).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser()
    parser.add_argument("system")
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--scenarios", type=lambda s: s.split(","), required=True)
    parser.add_argument(
        "--memory", type=lambda s: sorted(map(int, s.split(","))), default=[]
    )
    args = parser.parse_args()
    results = measure(args.system, args)
    with open(args.out, "w") as out:
        json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
