"""`queuectl.service` imports a family's module when one of its names is first used: the
names it gives type checkers are the ones it serves, and each is the function itself, even
where a family module has the same name (`stats`, `workers`, `enqueue`)."""

from __future__ import annotations

import ast
import subprocess
import sys

import queuectl.service
from tests.conftest import ROOT


def test_the_names_for_type_checkers_are_the_names_served():
    tree = ast.parse((ROOT / "queuectl" / "service" / "__init__.py").read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If))
    imported = {
        node.module: tuple(alias.name for alias in node.names)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
    }
    assert imported == queuectl.service._HOMES


def test_every_name_is_the_one_of_its_module_whatever_was_imported_first():
    code = (
        "import importlib, sys\n"
        "import queuectl.service.stats, queuectl.service.workers, queuectl.service.enqueue\n"
        "from queuectl import service\n"
        "for module, names in service._HOMES.items():\n"
        "    for name in names:\n"
        "        assert getattr(service, name) is getattr(importlib.import_module(module), name),"
        " name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_using_one_family_does_not_import_the_others():
    code = (
        "import sys\n"
        "from queuectl import service\n"
        "service.enqueue\n"
        "assert 'queuectl.service.doctor' not in sys.modules\n"
        "assert 'queuectl.service.schedules' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
