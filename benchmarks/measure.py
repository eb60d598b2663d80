"""Measure one system in this process: ``python -m benchmarks.measure KEY ...``.

Each system runs in its own process so that its client library (and, for the
Django-based ones, its settings) cannot leak into another's. The process sets
the system up once, then measures one repetition of one scenario for each
request it reads from standard input (a JSON line, ``{"scenario": "drain"}``
or ``{"scenario": "depth", "depth": 100000}``) and answers on standard
output with a JSON line (``{"cell": {...}}``), so that ``main.py`` can take
the systems in turn inside each repetition. The first line it writes says
whether the set-up worked; end of input tears the system down.
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


def run_scenario(system, request: dict, args) -> dict:
    name = request["scenario"]
    if name == "enqueue":
        return scenarios.enqueue_rate(system, args.n)
    if name == "bulk":
        if system.bulk_enqueue is None:
            return {"na": system.bulk_note}
        return scenarios.enqueue_rate(system, args.n, bulk=True)
    if name in ("drain", "drain1"):
        if name == "drain1" and system.drain1_note:
            return {"na": system.drain1_note}
        if name == "drain1" and system.default_concurrency == 1:
            return {"same": "drain", "na": "one worker is its default"}
        concurrency = 1 if name == "drain1" else None
        return scenarios.drain_rate(system, args.n, concurrency)
    if name == "depth":
        return scenarios.depth_rate(system, request["depth"], args.n)
    if name == "latency":
        return scenarios.idle_latency(system, args.samples)
    if name == "memory":
        return scenarios.memory(system, args.memory)
    raise ValueError(f"unknown scenario {name!r}")


def measure(system, request: dict, args) -> dict:
    """One repetition of one scenario: its figures or its error."""
    try:
        return run_scenario(system, request, args)
    except CheckFailed as exc:
        return {"error": f"check failed: {exc}", "check": True}
    except Exception as exc:
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def serve(key: str, args, answer) -> None:
    """Set ``key`` up, answer each request of standard input, tear it down."""
    system = load(key)
    os.environ["BENCH_SYSTEM"] = key  # the key prefixes name the system
    os.environ.update(system.env())
    about = {"label": system.label, "store": system.store, "kind": system.kind}
    try:
        system.setup()
    except Exception as exc:
        traceback.print_exc()
        answer({**about, "error": f"set-up failed: {exc!r}"})
        return
    answer(about)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            began = time.monotonic()
            cell = measure(system, request, args)
            took = time.monotonic() - began
            what = request["scenario"] + (
                f" at {request['depth']:,}" if "depth" in request else ""
            )
            print(f"  {key} {what} ({took:.1f}s): {cell}", file=sys.stderr, flush=True)
            answer({"cell": cell})
    finally:
        system.reset()
        system.teardown()


def main() -> None:
    # SIGTERM unwinds (consumers stopped, keys deleted, databases dropped).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    parser = argparse.ArgumentParser()
    parser.add_argument("system")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument(
        "--memory", type=lambda s: sorted(map(int, s.split(","))), default=[]
    )
    args = parser.parse_args()
    # The answers get standard output to themselves: whatever a library
    # prints goes to standard error.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def answer(data: dict) -> None:
        channel.write(json.dumps(data) + "\n")

    serve(args.system, args, answer)


if __name__ == "__main__":
    main()
