"""The Lua programs of RedisQueue: one file each after the shared prelude,
read from disk once per process, and each one run by the Python side under
the name of its file."""

import re
from pathlib import Path

import pytest

from djqueue.backends.redis import lua

pytestmark = pytest.mark.on_redis

PACKAGE = Path(lua.__file__).parent
SCRIPTS = PACKAGE / "scripts"


def _programs() -> set[str]:
    return {path.stem for path in SCRIPTS.glob("*.lua")} - {lua.PRELUDE}


def test_a_program_is_the_prelude_then_its_own_file():
    prelude = (SCRIPTS / f"{lua.PRELUDE}.lua").read_text()
    for name in _programs():
        assert lua.source(name) == prelude + (SCRIPTS / f"{name}.lua").read_text()


def test_each_file_is_read_from_disk_once_per_process(monkeypatch):
    lua.source.cache_clear()
    lua._read.cache_clear()
    read, reads = Path.read_text, []

    def counted(path, *args, **kwargs):
        reads.append(path.name)
        return read(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)

    for name in ("claim", "ack", "claim", "ack_and_claim", "ack"):
        lua.source(name)

    assert sorted(reads) == ["ack.lua", "ack_and_claim.lua", "claim.lua", "common.lua"]


def test_the_backend_runs_exactly_the_programs_there_are():
    """A program the Python side names must have its file (else the call
    fails only when it is made), and a file no call names is dead code."""
    called = set()
    for module in PACKAGE.glob("*.py"):
        called |= set(re.findall(r'_(?:run|script)\(\s*"(\w+)"', module.read_text()))
    assert called == _programs()
