"""The command line: parse the arguments, call a service function, print the result as
text or (with --json) as JSON.

``parser`` builds the argument tree, ``common`` finds the store, ``output`` prints, and
one module per command family (``jobs``, ``workers``, ``dlq``, ``config``, ``dashboard``,
``completion``) holds its commands. So that `queuectl run` starts quickly, a family's
module is imported only when one of its commands runs, and a module only some commands
need is imported inside them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from queuectl.cli.output import say
from queuectl.cli.parser import build_parser
from queuectl.errors import QueuectlError, UserError, quote

__all__ = ["build_parser", "main"]


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
    args = build_parser(lazy=True).parse_args(argv)
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
