"""The issue's targets, each a ratio of two figures measured in one run."""

from __future__ import annotations

from dataclasses import dataclass

REDIS_PEERS = [
    "huey-redis", "rq-fork", "rq-simple", "celery-redis", "dramatiq-redis",
    "djq2-redis",
]  # fmt: skip
PG_PEERS = ["djq2-orm", "djtasks-pg", "procrastinate-pg"]
DRAIN_ANY = ("drain", "drain1")


@dataclass(frozen=True)
class Target:
    """``ours`` relative to ``theirs`` must be at least ``factor`` (ratios are
    oriented so that above 1 is better: faster, quicker or smaller)."""

    text: str
    ours: tuple[list[str], tuple[str, ...], str]  # systems, scenarios, field
    theirs: tuple[list[str], tuple[str, ...], str]
    factor: float
    higher_better: bool = True


TARGETS = [
    Target(
        "RedisQueue enqueue >= 0.8x raw LPUSH loop",
        (["djqueue-redis"], ("enqueue",), "value"),
        (["raw-redis"], ("enqueue",), "value"),
        0.8,
    ),
    Target(
        "RedisQueue bulk enqueue >= 10x raw single-LPUSH loop",
        (["djqueue-redis"], ("bulk",), "value"),
        (["raw-redis"], ("enqueue",), "value"),
        10.0,
    ),
    Target(
        "RedisQueue drain, one consumer (default workers) >= 3x huey single worker",
        (["djqueue-redis"], ("drain",), "value"),
        (["huey-redis"], ("drain1",), "value"),
        3.0,
    ),
    Target(
        "RedisQueue drain, one worker >= 3x huey single worker",
        (["djqueue-redis"], ("drain1",), "value"),
        (["huey-redis"], ("drain1",), "value"),
        3.0,
    ),
    Target(
        "RedisQueue drain >= fastest Redis peer (any concurrency)",
        (["djqueue-redis"], DRAIN_ANY, "value"),
        (REDIS_PEERS, DRAIN_ANY, "value"),
        1.0,
    ),
    Target(
        "RedisQueue idle latency p50 <= huey's",
        (["djqueue-redis"], ("latency",), "value"),
        (["huey-redis"], ("latency",), "value"),
        1.0,
        higher_better=False,
    ),
    Target(
        "DatabaseQueue (PostgreSQL) idle latency p50 <= procrastinate's",
        (["djqueue-pg"], ("latency",), "value"),
        (["procrastinate-pg"], ("latency",), "value"),
        1.0,
        higher_better=False,
    ),
    Target(
        "DatabaseQueue (PostgreSQL) drain >= 2x fastest DB-backed peer",
        (["djqueue-pg"], DRAIN_ANY, "value"),
        (PG_PEERS, DRAIN_ANY, "value"),
        2.0,
    ),
    Target(
        "DatabaseQueue (PostgreSQL) drain >= raw psycopg claim-and-delete loop",
        (["djqueue-pg"], DRAIN_ANY, "value"),
        (["raw-pg"], ("drain",), "value"),
        1.0,
    ),
    Target(
        "DatabaseQueue (SQLite) drain >= huey SqliteHuey",
        (["djqueue-sqlite"], DRAIN_ANY, "value"),
        (["huey-sqlite"], DRAIN_ANY, "value"),
        1.0,
    ),
]
#: Consumer memory: RSS after the largest count over RSS after the smallest.
MEMORY_LIMIT = 1.10
