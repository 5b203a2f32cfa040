from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_every_lua_script(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("hotsync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    scripts = {p.relative_to(ROOT / "lua").as_posix() for p in (ROOT / "lua").glob("**/*.lua")}
    assert scripts and any(s.startswith("lib/") for s in scripts)  # the shared parts too
    assert {f"hotsync/lua/{s}" for s in scripts} <= names
    assert "hotsync/__init__.py" in names


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    marker = "TEST_COMMAND="
    line = next(l for l in ci.splitlines() if l.startswith(marker))
    command = line[len(marker):].strip().strip("'\"")
    assert command in readme
    assert "hotsync demo" in readme
