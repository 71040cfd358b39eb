"""The benchmark suite's quick mode runs end to end, so the benchmarks cannot rot (issue 6).
This checks that every workload reports, never how fast anything is: speed is shown by
`python -m bench`, not by timed assertions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.__main__ import WORKLOADS
from tests.conftest import ROOT, one_at_a_time

pytestmark = one_at_a_time  # it runs every workload: the machine is busy meanwhile


def test_quick_mode_reports_every_workload(tmp_path: Path):
    report_path = tmp_path / "b.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(report_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    report = report_path.read_text()
    assert report.startswith("# queuectl benchmarks")
    assert "**Machine:**" in report and "**Command:**" in report
    for module in WORKLOADS:
        assert f"\n## {module.NUMBER}. {module.TITLE}\n" in report, module.KEY
    assert "ERROR" not in report
    # Workloads 1-6 run in quick mode: each of their targets got a measured figure.
    rows = re.findall(r"^\| ([1-6]) \| (.+)$", report, flags=re.MULTILINE)
    assert len(rows) >= 10
    assert not [row for row in rows if "not measured" in row[1]]
    # Peers and PostgreSQL are skipped with a message in quick mode.
    assert "skipped in quick mode" in report
