"""The README documents every command and every config key (sqlite-utils' idea)."""

from __future__ import annotations

import argparse
import re

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


FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def code_of(markdown: str) -> list[str]:
    """Where a README shows commands: its fenced blocks and its inline code spans."""
    return FENCED.findall(markdown) + [
        span for _, span in CODE_SPAN.findall(FENCED.sub("", markdown))
    ]


def shows(code: str, command: str) -> bool:
    """Whether `command` appears whole: `queuectl run` is not in `queuectl runs` or in
    `queuectl run-all`."""
    return re.search(rf"(?<![\w-]){re.escape(command)}(?![\w-])", code) is not None


def test_a_command_is_matched_whole():
    assert shows("$ queuectl worker start --count 2", "queuectl worker start")
    assert shows("queuectl dlq list", "queuectl dlq list")
    assert not shows("queuectl worker started", "queuectl worker start")
    assert not shows("queuectl run-all", "queuectl run")
    assert code_of("Run `queuectl list`, not queuectl stats.\n") == ["queuectl list"]


def test_every_command_is_in_the_readme():
    code = code_of((ROOT / "README.md").read_text())
    listed = commands(build_parser())
    assert len(listed) >= 18
    missing = [command for command in listed if not any(shows(part, command) for part in code)]
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


def test_every_explain_code_is_in_the_readme():
    from queuectl.service import REASONS

    readme = (ROOT / "README.md").read_text()
    assert not [code for code in REASONS if f"| `{code}` |" not in readme]
