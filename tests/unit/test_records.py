"""Records: what the classes declared with `queuectl.records.record` must do, and that the
commands' start-up stays free of `dataclasses` (and the `inspect` it pulls in)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from queuectl.records import field, fields, record


@record
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list, metadata={"note": "n"})


@record(frozen=True)
class Fixed:
    name: str
    size: int = 1


def test_fields_defaults_and_factories():
    first, second = Point(1), Point(2, 3)
    assert (first.x, first.y, second.y) == (1, 0, 3)
    first.tags.append("a")
    assert second.tags == []  # a factory makes one value per record
    assert [item.name for item in fields(Point)] == ["x", "y", "tags"]
    assert [item.type for item in fields(Point)] == ["int", "int", "list[str]"]
    assert fields(Point)[2].metadata == {"note": "n"}
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=2)  # type: ignore[call-arg]


def test_equality_and_repr_are_by_field():
    assert Point(1, 2) == Point(x=1, y=2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1) != Fixed("a")
    assert repr(Point(1)) == "Point(x=1, y=0, tags=[])"
    with pytest.raises(TypeError):
        hash(Point(1))  # mutable: unhashable, as a dataclass


def test_frozen_records_refuse_changes_and_hash_by_value():
    fixed = Fixed("a")
    with pytest.raises(AttributeError):
        fixed.size = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del fixed.name  # type: ignore[misc]
    assert hash(Fixed("a", 1)) == hash(Fixed("a"))
    assert {Fixed("a"), Fixed("a")} == {Fixed("a")}


@pytest.mark.parametrize("family", ["jobs", "workers", "dlq", "config"])
def test_command_start_up_does_not_import_dataclasses(family):
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, queuectl.cli.{family}, queuectl.service, queuectl.store.sqlite;"
            "print(sorted({'dataclasses', 'inspect'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
