"""The layers of the README's Architecture part, kept true: each module imports only from
its own layer and the layers below it, as read from its import statements."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "queuectl"

# Lowest first. A module belongs to the first layer whose prefix it has.
LAYERS = {
    "core": (
        "queuectl.errors",
        "queuectl.records",
        "queuectl.inputs",
        "queuectl.durations",
        "queuectl.cron",
        "queuectl.model",
        "queuectl.config",
        "queuectl.policy",
        "queuectl.hooks",
        "queuectl.names",
        "queuectl.jobspec",
        "queuectl.lifecycle",
        "queuectl.visible",
        "queuectl.logs",
    ),
    "platform": ("queuectl.platform",),
    "store": ("queuectl.store",),
    "worker": ("queuectl.worker",),
    "service": ("queuectl.service",),
    "ui": ("queuectl.cli", "queuectl.dashboard", "queuectl.__main__"),
}
# Which layers each may import, beyond its own.
ALLOWED = {
    "core": set(),
    "platform": {"core"},
    "store": {"core", "platform"},
    "worker": {"core", "platform", "store"},
    "service": {"core", "platform", "store", "worker"},
    "ui": {"core", "platform", "service", "worker"},
}
# The worker loop knows nothing of SQL: of the store it sees the interface, and the one
# function that opens a location.
WORKER_MAY_USE = ("queuectl.store.base", "queuectl.store")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    for layer, prefixes in LAYERS.items():
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return layer
    return None  # the package itself


def _run_time_nodes(tree: ast.AST):
    """Every node but those under `if TYPE_CHECKING:` (imports for annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            continue
        yield node
        yield from _run_time_nodes(node)


def imported(path: Path) -> set[str]:
    """Every queuectl module `path` imports when it runs, `from queuectl import x` counted
    as x."""
    found = set()
    for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("queuectl")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("queuectl")
        ):
            if node.module == "queuectl":
                found |= {f"queuectl.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


def test_every_import_goes_down_the_layers():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        layer = layer_of(module)
        for target in imported(path):
            target_layer = layer_of(target)
            if layer is None or target_layer in (None, layer):
                continue
            if target_layer not in ALLOWED[layer]:
                wrong.append(f"{module} ({layer}) imports {target} ({target_layer})")
            elif layer == "worker" and target_layer == "store" and target not in WORKER_MAY_USE:
                wrong.append(f"{module} (worker) imports the store's innards: {target}")
    assert not wrong, "\n".join(wrong)


def test_every_module_has_a_layer():
    assert [
        module_name(path) for path in PACKAGE.rglob("*.py") if layer_of(module_name(path)) is None
    ] == ["queuectl"]


def test_the_check_sees_every_way_of_importing(tmp_path):
    module = tmp_path / "ui.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport queuectl.store.sqlite\n"
        "from queuectl import store\nfrom queuectl.store.base import Store\n"
        "def f():\n    from queuectl.service import open_location\n"
        "if TYPE_CHECKING:\n    from queuectl.store.postgres import PostgresStore\n"
    )
    assert imported(module) == {
        "queuectl.store.sqlite",
        "queuectl.store",
        "queuectl.store.base",
        "queuectl.service",
    }
