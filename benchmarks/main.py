"""Run the benchmark suite: ``./benchmarks/run [--smoke] [--memory] ...``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import report
from .done import run_id
from .harness import REPO_DIR
from .rounds import measure_all
from .systems import DEPTH, MEMORY, SMOKE, SMOKE_PEERS, SYSTEMS

SCENARIOS = ["enqueue", "bulk", "drain", "drain1", "latency"]
RESULTS_DIR = REPO_DIR / "benchmarks" / "results"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny N, for CI")
    parser.add_argument(
        "--memory", action="store_true", help="only the consumer memory scenario"
    )
    parser.add_argument(
        "--depth",
        metavar="D1,D2,...",
        help="only the drain versus queue depth scenario: fill the queue to "
        "each depth and drain N (e.g. 10000,100000,1000000)",
    )
    parser.add_argument("--systems", help="comma-separated keys (default: all)")
    parser.add_argument(
        "--scenarios",
        dest="only",
        metavar="S1,S2,...",
        help=f"only these of {','.join(SCENARIOS)} (results/partial.* by default)",
    )
    parser.add_argument(
        "--name", help="results/NAME.{json,md,png} (default: latest, memory or depth)"
    )
    parser.add_argument(
        "--report", metavar="JSON", help="only rewrite the report of a saved run"
    )
    parser.add_argument("--n", type=int, help="messages per scenario (10000)")
    parser.add_argument(
        "--peer-n",
        type=int,
        help="messages per scenario for the peers (default: N, the same as "
        "djqueue); djqueue and the raw limits always run N",
    )
    parser.add_argument("--samples", type=int, help="latency samples (200)")
    parser.add_argument("--reps", type=int, help="repetitions (3)")
    parser.add_argument(
        "--memory-n",
        default="10000,1000000",
        help="message counts at which --memory reads the consumer's RSS: "
        "SMALL,[...,]LARGE (default 10000,1000000)",
    )
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.n = args.n or (200 if smoke else 10_000)
    args.peer_n = min(args.peer_n or args.n, args.n)
    args.samples = args.samples or (10 if smoke else 200)
    args.reps = args.reps or (1 if smoke else 3)
    if smoke and args.memory:
        args.memory_n = "200,2000"
    if args.memory and args.depth:
        parser.error("--memory and --depth are separate runs")
    args.depths = sorted({int(d) for d in (args.depth or "").split(",") if d})
    if args.depth and (not args.depths or args.depths[0] <= 0):
        parser.error("--depth needs positive queue depths")
    if args.systems:
        args.keys = args.systems.split(",")
    elif args.memory:
        args.keys = MEMORY
    elif args.depth:
        args.keys = DEPTH
    else:
        args.keys = [*SMOKE, *SMOKE_PEERS] if smoke else list(SYSTEMS)
    unknown = [key for key in args.keys if key not in SYSTEMS]
    if unknown:
        parser.error(
            f"unknown systems {', '.join(unknown)}; known: {', '.join(SYSTEMS)}"
        )
    # In the order of SYSTEMS, where each raw limit is next to its djqueue.
    args.keys = [key for key in SYSTEMS if key in args.keys]
    checkpoints = sorted(int(n) for n in args.memory_n.split(","))
    if len(checkpoints) < 2 or checkpoints[0] <= 0:
        parser.error("--memory-n needs at least two positive counts")
    # The smoke run checks that every message runs once, at the default
    # concurrency only: a second drain would add little but time.
    if args.memory or args.depth:
        args.scenarios = ["memory" if args.memory else "depth"]
    else:
        args.scenarios = [s for s in SCENARIOS if s != "drain1"] if smoke else SCENARIOS
    if args.only:
        if args.memory or args.depth:
            parser.error("--scenarios is for a speed run, not --memory or --depth")
        wanted = args.only.split(",")
        if unknown := [s for s in wanted if s not in SCENARIOS]:
            parser.error(
                f"unknown scenarios {', '.join(unknown)}; known: {', '.join(SCENARIOS)}"
            )
        args.scenarios = [s for s in args.scenarios if s in wanted]
    return args


REDIS_URLS = {False: "redis://127.0.0.1:6379/15", True: "redis://127.0.0.1:6379/14"}


def _stop(signum, frame):
    """On SIGTERM, stop: the measuring child gets it too and cleans up."""
    raise SystemExit(128 + signum)


def messages(args):
    """The N of each system: the same for all unless ``--peer-n`` is lower."""
    return lambda key: args.n if key.startswith(("djqueue", "raw")) else args.peer_n


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return f"{os.cpu_count()} x {cpu}, Python {platform.python_version()}"


def commit() -> str:
    """The commit measured, marked when the work tree has changes."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--", "djqueue") else "")


def rewrite(path: str) -> int:
    """Print and rewrite the report (.md, .png) of a run saved as JSON."""
    meta, results = json.loads(Path(path).read_text())
    print(report.publish(results, meta, Path(path).with_suffix("")))
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--sustained" in argv:  # a run of its own: see benchmarks/sustained.py
        from . import sustained

        return sustained.main([arg for arg in argv if arg != "--sustained"])
    if "--consumers" in argv:  # see benchmarks/many_consumers.py
        from . import many_consumers

        return many_consumers.main([arg for arg in argv if arg != "--consumers"])
    args = parse_args(argv)
    if args.report:
        return rewrite(args.report)
    # A memory run leaves a million keys around for minutes: in a database of
    # its own, it does not slow down the SCANs of a speed run going at once.
    # A depth run's million messages go there too.
    big = bool(args.memory or args.depth)
    os.environ.setdefault("BENCH_REDIS_URL", REDIS_URLS[big])
    signal.signal(signal.SIGTERM, _stop)
    run_id()  # one id for the whole run, passed on to every system's process
    started, measured = time.monotonic(), commit()
    results = measure_all(args, messages(args))
    mode = "memory" if args.memory else "depth" if args.depth else "full"
    meta = {
        "mode": "smoke" if args.smoke else mode,
        "n": args.n,
        "peer_n": args.peer_n,
        "samples": args.samples,
        "reps": args.reps,
        "memory_n": args.memory_n if args.memory else None,
        "depths": args.depths or None,
        "scenarios": args.scenarios,
        "seconds": time.monotonic() - started,
        "machine": machine(),
        "commit": measured,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = args.name or (
        "partial" if args.only else "latest" if mode == "full" else mode
    )
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps([meta, results], indent=1))
    print(report.publish(results, meta, RESULTS_DIR / name))
    failed = report.failures(results, strict=args.smoke)
    for line in report.failures(results, strict=True):
        print(f"{'FAILED' if line in failed else 'WARNING'}: {line}", file=sys.stderr)
    if args.smoke and not (args.systems or args.only):
        # A few seconds a cell: the sustained run's checks, not its figures.
        from . import sustained

        failed += sustained.smoke()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
