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


def test_a_lazy_parser_builds_only_the_commands_it_parses():
    parser = build_parser(lazy=True)
    parser.parse_args(["worker", "stop", "--wait"])
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    built = [name for name, sub in top.choices.items() if isinstance(sub, argparse.ArgumentParser)]
    assert built == ["worker"]
    worker = top.choices["worker"]
    nested = next(a for a in worker._actions if isinstance(a, argparse._SubParsersAction))
    assert [n for n, sub in nested.choices.items() if isinstance(sub, argparse.ArgumentParser)] == [
        "stop"
    ]


def test_a_lazy_parser_shows_the_same_help_as_the_whole_tree():
    full = build_parser()
    paths = [command.split()[1:] for command, _ in handlers(full)]
    for words in [[], *paths]:
        lazy, whole = build_parser(lazy=True), full
        for word in words:
            lazy = next(
                a for a in lazy._actions if isinstance(a, argparse._SubParsersAction)
            ).parser(word)
            whole = next(
                a for a in whole._actions if isinstance(a, argparse._SubParsersAction)
            ).choices[word]
        assert lazy.format_help() == whole.format_help(), words
