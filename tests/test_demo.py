"""The POSIX demo runs for real; its PowerShell twin (which cannot run here) must run the
same queuectl commands in the same order."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# "q" is the demos' queuectl function: q <command> [<sub-command>] ...
_CALL = re.compile(r"(?<![\w$-])q\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?")


def queuectl_calls(path) -> list:
    calls = []
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        calls += [
            " ".join(part for part in match.groups() if part) for match in _CALL.finditer(line)
        ]
    return calls


def test_the_two_demos_run_the_same_commands_in_the_same_order():
    posix = queuectl_calls(ROOT / "demo_test.sh")
    windows = queuectl_calls(ROOT / "demo_test.ps1")
    assert len(posix) > 20
    assert posix == windows


@pytest.mark.skipif(sys.platform == "win32" or not shutil.which("bash"), reason="POSIX demo")
def test_posix_demo_passes(tmp_path):
    env = {
        **os.environ,
        "QUEUECTL": f"{sys.executable} -m queuectl",
        "TMPDIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("QUEUECTL_DB", None)
    result = subprocess.run(
        ["bash", str(ROOT / "demo_test.sh")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "DEMO PASSED" in result.stdout
