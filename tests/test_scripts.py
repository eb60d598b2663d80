"""scripts/system-packages and scripts/test on a fresh machine, imitated with
stub commands on PATH (``pkg-config`` that finds nothing, ``apt-get`` that
records its calls, ``id`` for a user who is not root) and a stub virtualenv,
so nothing is installed or removed on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PACKAGES = ROOT / "scripts" / "system-packages"
INSTALL = "install -y -qq libmariadb-dev pkg-config"


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def fresh(tmp_path):
    """A PATH on which the MariaDB headers are missing until the stub
    apt-get installs them, and the calls apt-get received."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    installed, calls = tmp_path / "installed", tmp_path / "apt-calls"
    stub(bin_dir, "pkg-config", f'[ -e "{installed}" ]')
    stub(
        bin_dir,
        "apt-get",
        f'echo "$*" >> "{calls}"; echo "apt chatter"\n'
        f'case "$*" in *install*) touch "{installed}";; esac',
    )
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DJQUEUE_APT_LOG": str(tmp_path / "apt.log"),
    }
    env.pop("CI", None)

    def apt_calls() -> list[str]:
        return calls.read_text().splitlines() if calls.exists() else []

    return env, bin_dir, apt_calls


def run(command, env, cwd=ROOT):
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_missing_headers_are_installed_with_apt_get_as_root(fresh):
    env, bin_dir, apt_calls = fresh
    stub(bin_dir, "id", "echo 0")

    done = run([SYSTEM_PACKAGES, "mysql-headers"], env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert apt_calls() == ["update -qq", INSTALL]
    assert "apt chatter" not in done.stdout + done.stderr
    assert "apt chatter" in Path(env["DJQUEUE_APT_LOG"]).read_text()


def test_without_root_it_says_why_and_the_command_and_installs_nothing(fresh):
    env, bin_dir, apt_calls = fresh
    stub(bin_dir, "id", "echo 1000")

    done = run([SYSTEM_PACKAGES, "mysql-headers"], env)

    assert done.returncode == 1
    assert done.stdout == (
        "the MariaDB client headers that mysqlclient builds against are missing, "
        "and installing it needs root: run "
        "'sudo apt-get install -y libmariadb-dev pkg-config'.\n"
    )
    assert apt_calls() == []


def test_a_failing_apt_get_is_reported_with_its_log(fresh):
    env, bin_dir, _ = fresh
    stub(bin_dir, "id", "echo 0")
    stub(bin_dir, "apt-get", 'echo "E: Unable to locate package"; exit 100')

    done = run([SYSTEM_PACKAGES, "mysql-headers"], env)

    assert done.returncode == 1
    assert f"failed (its output is in {env['DJQUEUE_APT_LOG']})" in done.stdout
    assert "Unable to locate" not in done.stdout + done.stderr


def test_present_packages_need_nothing(fresh, tmp_path):
    env, bin_dir, apt_calls = fresh
    stub(bin_dir, "pkg-config", "exit 0")
    chromium = tmp_path / "chromium"
    stub(tmp_path, "chromium", "exit 0")
    pgbouncer = tmp_path / "pgbouncer"
    stub(tmp_path, "pgbouncer", "exit 0")

    done = run(
        [SYSTEM_PACKAGES, "mysql-headers", "chromium", "pgbouncer"],
        {**env, "DJQUEUE_CHROMIUM": str(chromium), "DJQUEUE_PGBOUNCER": str(pgbouncer)},
    )

    assert (done.returncode, done.stdout, apt_calls()) == (0, "", [])


def test_a_missing_pgbouncer_is_installed_from_its_debian_package(fresh, tmp_path):
    env, bin_dir, apt_calls = fresh
    stub(bin_dir, "id", "echo 0")
    pgbouncer = tmp_path / "pgbouncer"
    stub(
        bin_dir,
        "apt-get",
        f'echo "$*" >> "{tmp_path / "apt-calls"}"\n'
        f'case "$*" in *install*) printf "#!/bin/sh\\n" > "{pgbouncer}";'
        f' chmod +x "{pgbouncer}";; esac',
    )

    done = run(
        [SYSTEM_PACKAGES, "pgbouncer"], {**env, "DJQUEUE_PGBOUNCER": str(pgbouncer)}
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert apt_calls() == ["update -qq", "install -y -qq pgbouncer"]


@pytest.fixture
def stub_venv(tmp_path):
    """A virtualenv whose python is this one, except that MySQLdb is not
    importable and ``pip install`` fails with a traceback."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    stub(
        venv / "bin",
        "python",
        'case "$*" in\n'
        '  "-c import MySQLdb") exit 1;;\n'
        '  *"-m pip install"*) echo "Traceback (most recent call last):" >&2;'
        ' echo "  error: mysql_config not found" >&2; exit 1;;\n'
        "esac\n"
        f'exec "{sys.executable}" "$@"',
    )
    # What scripts/test compares: $(cat setup.cfg) drops the final newline.
    wanted = (ROOT / "setup.cfg").read_text().rstrip("\n") + " Django>=5.2"
    (venv / ".djqueue-installed").write_text(wanted)
    return venv


def scripts_test(env, venv, tmp_path):
    """Run scripts/test for the mysql pass alone, Chromium present."""
    chromium = tmp_path / "chromium"
    stub(tmp_path, "chromium", "exit 0")
    return run(
        [ROOT / "scripts" / "test"],
        {
            **env,
            "DJQUEUE_VENV": str(venv),
            "DJQUEUE_DATABASES": "mysql",
            "DJQUEUE_CHROMIUM": str(chromium),
            # Django >= 6 would fetch its tasks tests first; not needed here.
            "DJQUEUE_DJANGO": "Django>=5.2",
        },
    )


def test_scripts_test_skips_mysql_with_the_command_to_get_it(
    fresh, stub_venv, tmp_path
):
    from .conftest import require_server

    require_server("MariaDB", "127.0.0.1", 3306)
    env, bin_dir, apt_calls = fresh
    stub(bin_dir, "id", "echo 1000")

    done = scripts_test(env, stub_venv, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "SKIPPED: the mysql run: the MariaDB client headers that mysqlclient "
        "builds against are missing, and installing it needs root: run "
        "'sudo apt-get install -y libmariadb-dev pkg-config'. "
        "Then run ./scripts/test again\n"
    ) in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert apt_calls() == []

    in_ci = scripts_test({**env, "CI": "1"}, stub_venv, tmp_path)
    assert in_ci.returncode == 1
    assert "FAILED: the mysql run: the MariaDB client headers" in in_ci.stderr


def test_scripts_test_installs_the_headers_and_names_pips_log(
    fresh, stub_venv, tmp_path
):
    from .conftest import require_server

    require_server("MariaDB", "127.0.0.1", 3306)
    env, bin_dir, apt_calls = fresh
    stub(bin_dir, "id", "echo 0")

    done = scripts_test(env, stub_venv, tmp_path)

    log = stub_venv / "mysqlclient-install.log"
    assert apt_calls() == ["update -qq", INSTALL]
    assert (
        "SKIPPED: the mysql run: pip could not install mysqlclient although the "
        f"client headers are there; its output is in {log}\n"
    ) in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert "mysql_config not found" in log.read_text()
