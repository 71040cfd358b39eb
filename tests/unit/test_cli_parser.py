"""The parser names each command's function by module and name, imported when it runs:
a name that does not resolve must fail here, not when a user runs the command."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from queuectl.cli.parser import Command, build_parser


def handlers(parser: argparse.ArgumentParser, prefix: str = "queuectl") -> Iterator[tuple]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub.get_default("handler")
                yield from handlers(sub, f"{prefix} {name}")


def test_every_command_names_a_function_that_exists():
    found = {
        command: handler
        for command, handler in handlers(build_parser())
        if isinstance(handler, Command)
    }
    assert len(found) >= 18
    assert not [command for command, handler in found.items() if not callable(handler.load())]


def test_every_command_has_a_handler():
    assert all(handler is not None for _, handler in handlers(build_parser()))
