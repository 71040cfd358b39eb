"""The command line: parse the arguments, call a service function, print the result as
text or (with --json) as JSON.

``parser`` builds the argument tree, ``common`` finds the store, ``output`` prints, and
one module per command family (``jobs``, ``workers``, ``dlq``, ``config``, ``dashboard``,
``completion``) holds its commands. So that `queuectl run` starts quickly, a family's
module is imported only when one of its commands runs, and a module only some commands
need is imported inside them."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence

from queuectl.cli.output import say
from queuectl.cli.parser import build_parser
from queuectl.errors import QueuectlError, UserError, quote

__all__ = ["build_parser", "collect_garbage_as_usual", "main"]

# A command's start-up makes tens of thousands of objects (modules, functions, classes) that
# live to its end, and next to no garbage: the collections of generation 0 that they set
# off, every 700 objects, found nothing and cost `queuectl run` 7 % of its instructions.
START_UP_THRESHOLD = 100_000
_USUAL_THRESHOLD = gc.get_threshold()


def _check_text(args: argparse.Namespace) -> None:
    """Arguments that are not valid UTF-8 (undecodable bytes in argv) cannot name anything
    in the store: say so, instead of failing somewhere deeper."""
    for name, value in vars(args).items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise UserError(
                        f"{name.replace('_', ' ')}: {quote(text)} is not valid UTF-8"
                    ) from None


def main(argv: Sequence[str] | None = None) -> int:
    gc.set_threshold(START_UP_THRESHOLD, *_USUAL_THRESHOLD[1:])
    args = build_parser(lazy=True).parse_args(argv)
    # The modules and the parser live to the exit: frozen out of the collection there,
    # which walks every object left. What the command makes is not frozen: a store's
    # sqlite3 connection is in a cycle (with its statement cache), closed (its WAL
    # checkpointed and removed) only when that collection frees it.
    gc.freeze()
    return _command(args)


def collect_garbage_as_usual() -> None:
    """For a command that runs for long (a worker pool, the dashboard): its garbage is
    collected as often as any program's."""
    gc.set_threshold(*_USUAL_THRESHOLD)


def _command(args: argparse.Namespace) -> int:
    try:
        _check_text(args)
        return args.handler(args) or 0
    except QueuectlError as exc:
        say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `queuectl list | head`
        sys.stderr.close()
        return 0
