"""Issue 13's targets, each a ratio of two figures measured in one run."""

from __future__ import annotations

from dataclasses import dataclass

#: The DB-backed peers on PostgreSQL.
PG_PEERS = [
    "djq2-orm", "djtasks-pg", "django-ox-pg", "procrastinate-pg", "pgqueuer-pg",
]  # fmt: skip
DRAIN_ANY = ("drain", "drain1")
#: A depth run's smallest and largest depth (``main.py`` links them).
DEPTH_MIN, DEPTH_MAX = "depth:min", "depth:max"


@dataclass(frozen=True)
class Target:
    """``ours`` relative to ``theirs`` must be at least ``factor``; with
    ``at_most``, ``ours`` over ``theirs`` must be at most ``factor`` (for
    latency and memory, where smaller is better)."""

    text: str
    ours: tuple[list[str], tuple[str, ...], str]  # systems, scenarios, field
    theirs: tuple[list[str], tuple[str, ...], str]
    factor: float
    at_most: bool = False

    @property
    def scenarios(self) -> set[str]:
        """The scenarios (without a depth) that both figures come from."""
        return {s.split(":")[0] for s in (*self.ours[1], *self.theirs[1])}


def _drain(systems, scenarios=("drain",)):
    return (systems, scenarios, "value")


def _rss(system: str) -> Target:
    return Target(
        f"all ({system}): consumer RSS after 1,000,000 messages <= 1.1x after "
        "10,000 (the run's largest and smallest --memory-n)",
        ([system], ("memory",), "value"),
        ([system], ("memory",), "small"),
        MEMORY_LIMIT,
        at_most=True,
    )


#: Consumer memory: RSS after the largest count over RSS after the smallest.
MEMORY_LIMIT = 1.10

TARGETS = [
    Target(
        "Redis: drain, run_queue at its defaults >= 2x huey with 2 process workers",
        _drain(["djqueue-redis"]),
        _drain(["huey-redis-2p"]),
        2.0,
    ),
    Target(
        "Redis: drain, run_queue at its defaults >= 1.5x dramatiq at its defaults",
        _drain(["djqueue-redis"]),
        _drain(["dramatiq-redis"]),
        1.5,
    ),
    Target(
        "Redis: drain, one worker thread >= 3x huey single worker",
        _drain(["djqueue-redis"], ("drain1",)),
        _drain(["huey-redis"], ("drain1",)),
        3.0,
    ),
    Target(
        "Redis: enqueue >= 0.8x raw LPUSH loop",
        (["djqueue-redis"], ("enqueue",), "value"),
        (["raw-redis"], ("enqueue",), "value"),
        0.8,
    ),
    Target(
        "Redis: map() >= 10x raw LPUSH loop",
        (["djqueue-redis"], ("bulk",), "value"),
        (["raw-redis"], ("enqueue",), "value"),
        10.0,
    ),
    Target(
        "Redis: idle latency p50 <= huey's",
        (["djqueue-redis"], ("latency",), "value"),
        (["huey-redis"], ("latency",), "value"),
        1.0,
        at_most=True,
    ),
    Target(
        "PostgreSQL: drain at defaults >= 2x the raw one-row claim-and-delete loop",
        _drain(["djqueue-pg"]),
        _drain(["raw-pg"]),
        2.0,
    ),
    Target(
        "PostgreSQL: drain at defaults >= 3x the fastest DB-backed peer",
        _drain(["djqueue-pg"]),
        _drain(PG_PEERS, DRAIN_ANY),
        3.0,
    ),
    Target(
        "PostgreSQL: drain at 1,000,000 queued >= 0.9x the drain at 10,000 "
        "queued (the run's largest and smallest --depth)",
        _drain(["djqueue-pg"], (DEPTH_MAX,)),
        _drain(["djqueue-pg"], (DEPTH_MIN,)),
        0.9,
    ),
    Target(
        "PostgreSQL: enqueue >= 0.8x raw autocommit INSERT",
        (["djqueue-pg"], ("enqueue",), "value"),
        (["raw-pg"], ("enqueue",), "value"),
        0.8,
    ),
    Target(
        "PostgreSQL: map() >= 10x raw autocommit INSERT",
        (["djqueue-pg"], ("bulk",), "value"),
        (["raw-pg"], ("enqueue",), "value"),
        10.0,
    ),
    Target(
        "SQLite, stock settings: enqueue >= huey SqliteHuey",
        (["djqueue-sqlite-stock"], ("enqueue",), "value"),
        (["huey-sqlite"], ("enqueue",), "value"),
        1.0,
    ),
    Target(
        "SQLite, stock settings: drain >= huey SqliteHuey",
        _drain(["djqueue-sqlite-stock"]),
        _drain(["huey-sqlite"]),
        1.0,
    ),
    Target(
        "SQLite, WAL: drain >= 2x huey SqliteHuey",
        _drain(["djqueue-sqlite-wal"]),
        _drain(["huey-sqlite"]),
        2.0,
    ),
    _rss("djqueue-redis"),
    _rss("djqueue-sqlite-wal"),
    _rss("djqueue-pg"),
]
