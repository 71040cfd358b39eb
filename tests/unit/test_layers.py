"""The user interfaces reach the store only through service.py: a use case written in one
UI is one the other UI does differently (STYLE.md, "A UI is a formatter")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

UI_MODULES = sorted((ROOT / "queuectl" / "cli").glob("*.py")) + \
    sorted((ROOT / "queuectl" / "dashboard").glob("*.py"))


class _Imports(ast.NodeVisitor):
    """The modules a file imports when it runs: not those under `if TYPE_CHECKING:`."""

    def __init__(self) -> None:
        self.modules: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.modules += [alias.name for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        # `from queuectl import store` imports queuectl.store as surely as its own name.
        module = node.module or ""  # a relative import (queuectl has none) may have no name
        self.modules += [module] + [f"{module}.{alias.name}" for alias in node.names]


def runtime_imports(path: Path) -> list[str]:
    visitor = _Imports()
    visitor.visit(ast.parse(path.read_text(), str(path)))
    return visitor.modules


@pytest.mark.parametrize("path", UI_MODULES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_a_ui_module_does_not_import_the_store(path):
    assert not [name for name in runtime_imports(path)
                if name == "queuectl.store" or name.startswith("queuectl.store.")]


def test_the_check_sees_every_way_of_importing_it(tmp_path):
    module = tmp_path / "ui.py"
    module.write_text("from typing import TYPE_CHECKING\nimport queuectl.store.sqlite\n"
                      "from queuectl import store\nfrom queuectl.store.base import Store\n"
                      "def f():\n    from queuectl.store import open_store\n"
                      "if TYPE_CHECKING:\n    from queuectl.store.postgres import PostgresStore\n")
    found = [name for name in runtime_imports(module) if name.startswith("queuectl.store")]
    assert found == ["queuectl.store.sqlite", "queuectl.store", "queuectl.store.base",
                     "queuectl.store.base.Store", "queuectl.store", "queuectl.store.open_store"]
