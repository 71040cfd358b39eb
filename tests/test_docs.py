"""The README documents every command and every config key (sqlite-utils' idea)."""

from __future__ import annotations

import argparse

from queuectl.cli import build_parser
from queuectl.config import SETTINGS
from tests.conftest import ROOT


def commands(parser: argparse.ArgumentParser, prefix: str = "queuectl") -> list:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = commands(sub, f"{prefix} {name}")
                found += nested or [f"{prefix} {name}"]
    return found


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    listed = commands(build_parser())
    assert len(listed) >= 18
    missing = [command for command in listed if command not in readme]
    assert not missing, f"README does not show: {missing}"


def test_every_config_key_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert not [key for key in SETTINGS if f"`{key}`" not in readme]


def test_every_command_has_help():
    parser = build_parser()
    for command in commands(parser):
        words = command.split()[1:]
        sub = parser
        for word in words:
            action = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
            sub = action.choices[word]
        assert sub.description, command


def test_version_is_the_same_in_the_package_and_pyproject():
    import queuectl

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{queuectl.__version__}"' in pyproject
