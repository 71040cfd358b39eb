"""The report: the machine line, the command, every workload's tables and every target with
its verdict, as text on the console and as Markdown (docs/benchmarks.md)."""

from __future__ import annotations

import datetime
import os
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Sequence

from bench.common import ROOT, Section, Table, Target

PROFILE_MARK = "<!-- profile: write here where the time goes (py-spy or cProfile) -->"


def machine(pg_url: str | None) -> dict[str, str]:
    info = {
        "cpus": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg())
        if hasattr(os, "getloadavg")
        else "?",
        "commit": _commit(),
    }
    if pg_url:
        info["postgresql"] = _pg_version(pg_url)
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "?"
    return f"{commit}{' with uncommitted changes' if dirty else ''}" if commit else "?"


def _pg_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
    except Exception as exc:  # the version is information only
        return f"? ({type(exc).__name__})"


def machine_line(info: dict[str, str]) -> str:
    parts = [
        f"{info['cpus']} CPUs ({info['cpu']})",
        info["os"],
        info["python"],
        f"SQLite {info['sqlite']}",
    ]
    if "postgresql" in info:
        parts.append(f"PostgreSQL {info['postgresql']}")
    parts.append(info["date"])
    return "; ".join(parts)


# --- text --------------------------------------------------------------------------------


def text_table(table: Table) -> str:
    cells = [table.header] + table.rows
    cells = [[c.replace("**", "").replace("`", "") for c in row] for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(len(table.header))]
    lines = [table.title]
    for row in cells:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def text_section(section: Section) -> str:
    out = [f"== {section.number}. {_plain(section.title)} ({section.seconds:.1f} s)"]
    if section.skipped:
        out.append(f"  {section.skipped}")
    if section.error:
        out.append(f"  ERROR: {section.error}")
    out += [text_table(table) for table in section.tables]
    for target in section.targets:
        out.append(
            f"  target: {_plain(target.what)}: {_measured(target)} (goal "
            f"{target.goal()}): {_plain(target.verdict())}"
        )
    return "\n".join(out)


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def _measured(target: Target) -> str:
    return "–" if target.measured is None else target.show(target.measured)


# --- Markdown ----------------------------------------------------------------------------


def md_table(table: Table) -> str:
    lines = [
        f"**{table.title}**",
        "",
        "| " + " | ".join(table.header) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(table.header))) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)


def markdown(
    sections: Sequence[Section],
    info: dict[str, str],
    command: str,
    quick: bool,
    runs: int,
    seconds: float,
) -> str:
    targets = [t for s in sections for t in s.targets]
    out = ["# queuectl benchmarks", ""]
    if quick:
        out += [
            "> **Quick mode** (`--quick`): small N, one run, no peers, no PostgreSQL, no "
            "1,000,000-job store. This is the rot check the test suite runs; its figures "
            "are not the benchmark and its verdicts do not count.",
            "",
        ]
    out += [
        f"- **Machine:** {machine_line(info)}",
        f"- **Load average when the run started:** {info['load']} (a shared, noisy machine: "
        "absolute times drift, so every comparison is a ratio measured side by side in the "
        "same run)",
        f"- **Code:** queuectl at {info['commit']}",
        f"- **Command:** `{command}` (from the repository root; {runs} run(s) of each "
        f"measurement; the whole suite took {seconds / 60:.1f} min)",
        "",
        "How every process is timed: queuectl runs as `python -m queuectl` with the "
        "interpreter itself (`sys.executable`, never a pyenv shim, which adds a bash start-up), "
        "in a fresh temp data folder (`XDG_DATA_HOME`) and a fresh store per run (`--db`). "
        "Before anything is timed the suite runs `python -m compileall -q queuectl bench`, as "
        "`pip install` compiles bytecode, and it removes `PYTHONDONTWRITEBYTECODE` from the "
        "environment of every process it times (queuectl, the `python -c pass` baseline, the "
        "raw floor and the peers alike), so no process recompiles its sources. Figures are "
        "medians of the runs; every run is shown.",
        "",
        "## Targets",
        "",
        "| # | target | goal | measured | verdict |",
        "| ---: | --- | --- | ---: | --- |",
    ]
    for section in sections:
        for target in section.targets:
            out.append(
                f"| {section.number} | {target.what} | {target.goal()} | "
                f"{_measured(target)} | {target.verdict()} |"
            )
        if section.skipped and not section.targets:
            out.append(f"| {section.number} | {section.title} | | – | {section.skipped} |")
        if section.error:
            out.append(
                f"| {section.number} | {section.title} | | – | **ERROR**: "
                f"{section.error.splitlines()[0]} |"
            )
    missed = [t for t in targets if t.met is False]
    out += ["", "## Targets not met: where the time goes", ""]
    if quick:
        out.append("Quick mode: the verdicts above do not count, so no profile is expected.")
        missed = []
    elif not missed:
        out.append("Every measured target is met." if targets else "No target was measured.")
    for target in missed:
        out += [
            f"### {target.what}",
            "",
            f"Measured {_measured(target)}; the goal is {target.goal()}. **Not met.**",
            "",
            PROFILE_MARK,
            "_Profile: not written yet (the maintainer adds a py-spy or cProfile profile "
            "of where the time goes here)._",
            "",
        ]
    for section in sections:
        out += ["", f"## {section.number}. {section.title}", ""]
        if section.skipped:
            out += [f"_{section.skipped}._", ""]
        if section.error:
            out += ["**ERROR** while measuring:", "", "```text", section.error, "```", ""]
        if section.method:
            out += ["How it is measured:", ""] + [f"- {line}" for line in section.method]
            out.append("")
        for table in section.tables:
            out += [md_table(table), ""]
        if section.targets:
            out += [
                f"- Target: {t.what}: goal {t.goal()}, measured {_measured(t)}: {t.verdict()}"
                for t in section.targets
            ]
            out.append("")
        out += [f"- {note}" for note in section.notes]
        if section.notes:
            out.append("")
        out.append(f"_Section time: {section.seconds:.1f} s._")
    return "\n".join(out).rstrip() + "\n"
