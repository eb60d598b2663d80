"""The systems taken in turn: each repetition measures every system once
(rep 1: A, B, C; rep 2: A, B, C), so that drift on a shared machine falls on
every system alike, and a djqueue figure and its raw limit are measured
minutes apart at most, not a whole run."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time

from .harness import REPO_DIR
from .scenarios import combine

#: Seconds a system gets to set itself up (create a database, migrate).
SETUP_BUDGET = 600.0


class Remote:
    """One system measured in its own process (``benchmarks.measure``),
    asked for one repetition of one scenario at a time, every wait bounded."""

    def __init__(self, key: str, n: int, args):
        self.key, self.n, self.args = key, n, args
        argv = [
            sys.executable, "-m", "benchmarks.measure", key, "--n", str(n),
            "--samples", str(args.samples), "--memory", args.memory_n,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, cwd=REPO_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.buffer = b""
        self.about: dict | None = None  # label, store, kind; or an error

    def ready(self) -> dict:
        """Wait for the set-up; return the system's label, store and kind."""
        if self.about is None:
            try:
                self.about = self._read(SETUP_BUDGET)
            except (TimeoutError, EOFError) as exc:
                self.about = {"error": f"set-up: {exc}"}
        return self.about

    def ask(self, request: dict) -> dict:
        """Measure one repetition of ``request``'s scenario; return its cell."""
        if "error" in self.ready() or self.proc.poll() is not None:
            return {"error": self.about.get("error", "the measuring process died")}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        try:
            return self._read(self.budget(request))["cell"]
        except (TimeoutError, EOFError) as exc:
            self.close()
            self.about = {**self.about, "error": str(exc)}
            return {"error": str(exc)}

    def budget(self, request: dict) -> float:
        n, args = self.n, self.args
        if request["scenario"] == "memory":
            # At least 50 messages a second; a stall fails sooner on its own.
            return 600 + max(int(c) for c in args.memory_n.split(",")) / 50
        if request["scenario"] == "depth":
            return 600 + request["depth"] / 500 + n / 20
        return 300 + n / 10 + args.samples * 2

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {timeout:.0f}s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError("the measuring process died (see the output above)")
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        """End of input: the process tears its system down and exits; SIGTERM
        it if it does not, so that it still drops its databases."""
        if not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        proc = self.proc
        for stop, wait in ((None, 120), (proc.terminate, 60), (proc.kill, 10)):
            if proc.poll() is not None:
                break
            if stop:
                stop()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)


def requests(args) -> list[dict]:
    """The requests of one repetition, in order; every system gets each."""
    if "depth" in args.scenarios:
        return [{"scenario": "depth", "depth": depth} for depth in args.depths]
    return [{"scenario": name} for name in args.scenarios]


def cell_name(request: dict) -> str:
    return request["scenario"] + (f":{request['depth']}" if "depth" in request else "")


def measure_all(args, n_of) -> dict:
    """Every system of ``args.keys`` in every scenario, the systems in turn
    inside each repetition; return the results by key."""
    remotes = {key: Remote(key, n_of(key), args) for key in args.keys}
    cells: dict[str, dict[str, list]] = {key: {} for key in args.keys}
    seconds = dict.fromkeys(args.keys, 0.0)
    try:
        # Every system sets itself up at once (databases, migrations,
        # imports); nothing is measured until all have, or the first figures
        # of the run would share the cores with the others' set-up.
        for remote in remotes.values():
            remote.ready()
        for rep in range(1 if args.memory else args.reps):
            for request in requests(args):
                for key, remote in remotes.items():
                    name, began = cell_name(request), time.monotonic()
                    done = cells[key].setdefault(name, [])
                    if done and "error" in done[-1]:
                        continue  # a failed scenario is not measured again
                    print(f"== rep {rep + 1}: {key} {name}", flush=True)
                    done.append(remote.ask(request))
                    seconds[key] += time.monotonic() - began
    finally:
        for remote in remotes.values():
            remote.close()
    results = {}
    for key, remote in remotes.items():
        row = {**remote.ready(), "_n": remote.n, "_samples": args.samples}
        row.update((name, combine(runs)) for name, runs in cells[key].items())
        if args.depths:  # what the depth target compares
            row["depth:min"] = {"same": f"depth:{args.depths[0]}"}
            row["depth:max"] = {"same": f"depth:{args.depths[-1]}"}
        row["_seconds"] = round(seconds[key], 1)
        results[key] = row
    return results
