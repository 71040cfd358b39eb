"""`queuectl export` and `queuectl import`: a store as JSON lines, and back (SPEC §10)."""

from __future__ import annotations

import argparse
import io
import sys

from queuectl import service
from queuectl.cli.common import open_store
from queuectl.cli.output import say
from queuectl.errors import UserError


def cmd_export(args: argparse.Namespace) -> int:
    store = open_store(args, only_reads=True)
    lines = service.export_lines(store, args.state, args.group, args.with_output)
    sys.stdout.writelines(line + "\n" for line in lines)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    store = open_store(args)
    if args.file == "-":
        # Read it all first: the import's transaction holds the store's writers up, and a
        # pipe may be slow to fill.
        lines = io.BytesIO(sys.stdin.buffer.read())
        counts = service.import_lines(store, lines)
    else:
        try:
            with open(args.file, "rb") as source:
                counts = service.import_lines(store, source)
        except OSError as exc:
            raise UserError(f"cannot read {args.file}: {exc.strerror}") from None
    say(
        f"imported {counts['jobs']} job(s) with {counts['attempts']} attempt(s), "
        f"{counts['gates']} gate(s) and {counts['schedules']} schedule(s)"
    )
    return 0
