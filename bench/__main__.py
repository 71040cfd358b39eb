"""``python -m bench [--quick] [--only NAME ...] [--runs N] [--output FILE]``: run the
benchmark workloads of issue 6, print each table as it is measured, and write the Markdown
report. Exit 0 when every selected workload was measured (met targets or not: this is a
measurement, not a gate), 1 when one failed with an error."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import (
    dashboard,
    enqueue,
    flow,
    joblog,
    latency,
    memory,
    peers,
    pg,
    porting,
    scale,
    storeapi,
    throughput,
    workflows,
)
from bench.common import Settings, prepare_process_environment
from bench.report import machine, machine_line, markdown, text_section

WORKLOADS = [
    throughput,
    storeapi,
    enqueue,
    latency,
    scale,
    memory,
    peers,
    pg,
    dashboard,
    workflows,
    flow,
    joblog,
    porting,
]
NAMES = [module.KEY for module in WORKLOADS]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="queuectl's benchmark suite (issue 6): runs the workloads, prints each "
        "table as it goes and writes the Markdown report with --output.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small N, one run, no peers, no PostgreSQL, no 1M store "
        "(the test suite's rot check; under 30 s)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=NAMES,
        metavar="NAME",
        help=f"run only these workloads: {', '.join(NAMES)}",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs of every measurement (default 3; 1 with --quick)",
    )
    parser.add_argument("--output", metavar="FILE", help="write the Markdown report here")
    parser.add_argument(
        "--pg",
        metavar="URL",
        default=os.environ.get("QUEUECTL_BENCH_PG") or os.environ.get("QUEUECTL_TEST_PG"),
        help="PostgreSQL server URL for workload 8 (default: "
        "$QUEUECTL_BENCH_PG, else $QUEUECTL_TEST_PG)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    started = time.perf_counter()
    prepare_process_environment()
    tmp = Path(tempfile.mkdtemp(prefix="queuectl-bench-"))
    settings = Settings(
        quick=args.quick, runs=args.runs, tmp=tmp, pg_url=args.pg, explicit=args.only or ()
    )
    selected = [m for m in WORKLOADS if not args.only or m.KEY in args.only]
    info = machine(args.pg if pg in selected and not pg.unavailable(settings) else None)
    command = "python -m bench" + ("" if not argv else " " + shlex.join(argv))
    settings.log(f"machine: {machine_line(info)}")
    settings.log(f"command: {command}  (load average {info['load']}; temp folder {tmp})")
    sections = []
    try:
        for module in selected:
            settings.log(f"\n-- {module.NUMBER}. {module.TITLE}")
            begin = time.perf_counter()
            try:
                section = module.run(settings)
            except Exception as exc:  # record it, go on with the other workloads
                section = _failed(module, exc)
            section.seconds = time.perf_counter() - begin
            sections.append(section)
            settings.log(text_section(section))
    finally:
        if args.keep:
            settings.log(f"temp folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - started
    missed = [t for s in sections for t in s.targets if t.met is False]
    settings.log(
        f"\n{len(sections)} workload(s) in {seconds:.1f} s; "
        f"{sum(t.met is True for s in sections for t in s.targets)} target(s) met, "
        f"{len(missed)} not met" + (": " + "; ".join(t.what for t in missed) if missed else "")
    )
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown(sections, info, command, args.quick, args.runs, seconds))
        settings.log(f"report written to {path}")
    return 1 if any(s.error for s in sections) else 0


def _failed(module, exc: Exception):
    from bench.common import Section

    section = Section(module.NUMBER, module.KEY, module.TITLE)
    section.error = f"{type(exc).__name__}: {exc}\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:]
    )
    return section


if __name__ == "__main__":
    sys.exit(main())
