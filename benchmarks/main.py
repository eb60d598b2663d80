"""Run the benchmark suite: ``./benchmarks/run [--smoke] [--memory] ...``."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

from . import report
from .harness import REPO_DIR, WORK_DIR
from .systems import SMOKE, SMOKE_PEER, SYSTEMS

SCENARIOS = ["enqueue", "bulk", "drain", "drain1", "latency"]
RESULTS_DIR = REPO_DIR / "benchmarks" / "results"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny N, for CI")
    parser.add_argument(
        "--memory", action="store_true", help="only the consumer memory scenario"
    )
    parser.add_argument("--systems", help="comma-separated keys (default: all)")
    parser.add_argument("--n", type=int, help="messages per scenario (10000)")
    parser.add_argument("--samples", type=int, help="latency samples (200)")
    parser.add_argument("--reps", type=int, help="repetitions (3)")
    parser.add_argument(
        "--memory-n", default="10000,100000", help="SMALL,LARGE for --memory"
    )
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.n = args.n or (200 if smoke else 10_000)
    args.samples = args.samples or (20 if smoke else 200)
    args.reps = args.reps or (1 if smoke else 3)
    if args.systems:
        args.keys = args.systems.split(",")
    else:
        args.keys = [*SMOKE, SMOKE_PEER] if smoke else list(SYSTEMS)
    if smoke and args.memory:
        args.memory_n = "200,2000"
    args.scenarios = ["memory"] if args.memory else SCENARIOS
    return args


def run_system(key: str, args) -> dict:
    """Measure ``key`` in its own process, bounded in time."""
    out = WORK_DIR / "results" / f"{key}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", "benchmarks.measure", key, "--out", str(out),
        "--n", str(args.n), "--samples", str(args.samples),
        "--reps", str(args.reps), "--scenarios", ",".join(args.scenarios),
        "--memory", args.memory_n,
    ]  # fmt: skip
    budget = 600 + args.reps * (args.n / 10 + args.samples * 2)
    if args.memory:
        budget = 600 + int(args.memory_n.split(",")[1]) / 20
    try:
        subprocess.run(argv, cwd=REPO_DIR, timeout=budget, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {budget:.0f}s"}
    if not out.exists():
        return {"error": "the measuring process died (see the output above)"}
    return json.loads(out.read_text())


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    results = {}
    for key in args.keys:
        print(f"== {key}", flush=True)
        results[key] = run_system(key, args)
    meta = {
        "mode": "smoke" if args.smoke else "full",
        "n": args.n,
        "samples": args.samples,
        "reps": args.reps,
        "memory_n": args.memory_n if args.memory else None,
        "scenarios": args.scenarios,
        "seconds": time.monotonic() - started,
        "machine": f"{platform.node()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = "memory" if args.memory else "latest"
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps([meta, results], indent=1))
    print(report.publish(results, meta, RESULTS_DIR / name))
    failed = report.djqueue_failures(results)
    for line in failed:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
