"""The README's two set-up commands, as written: the first works on a fresh copy (in a
virtual environment of its own, as Debian's and Ubuntu's Python require), and CI runs the
second one exactly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.test_docs import FENCED


def set_up_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    part = readme[readme.index("## Set-up: two commands") :]
    part = part[: part.index("\n## ", 1)]
    return [block.strip() for block in FENCED.findall(part)]


def test_the_set_up_part_has_two_commands_and_ci_runs_the_second():
    install_and_run, run_tests = set_up_commands()
    assert install_and_run.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert run_tests.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == run_tests


@pytest.mark.skipif(sys.platform == "win32" or not shutil.which("bash"), reason="POSIX shell")
def test_the_first_command_installs_and_says_hello_world(tmp_path):
    checkout = tmp_path / "queuectl"
    # A fresh copy has no caches; those that tests on other xdist workers write meanwhile
    # (ruff's, mypy's, pytest's) could also change under copytree.
    caches = ("__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis")
    shutil.copytree(
        ROOT,
        checkout,
        ignore=shutil.ignore_patterns(".git", ".venv", *caches, "*.egg-info", "*.db*"),
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "QUEUECTL_DB", "PYTHONHOME")
    }
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), PIP_NO_CACHE_DIR="1")
    install_and_run = set_up_commands()[0]
    try:
        result = subprocess.run(
            ["bash", "-c", install_and_run],
            cwd=checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "Hello World" in result.stdout.splitlines()
    finally:
        queuectl = checkout / ".venv" / "bin" / "queuectl"
        if queuectl.exists():
            subprocess.run(
                [str(queuectl), "worker", "stop", "--wait", "--timeout", "30"],
                cwd=checkout,
                env=env,
                capture_output=True,
                timeout=60,
            )
