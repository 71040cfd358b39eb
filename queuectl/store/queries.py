"""Named SQL, one file per dialect: ``-- name: claim`` starts the query called ``claim``.
Flags after the name (``-- name: get_job :repeatable :lookup``) are facts about that query,
read with it; `Query` says what each one means.

Every dialect file defines the same names (a test checks), so the backends stay in step.
Its migrations are ``schema_v1`` to ``schema_vN``, each a script of statements that ends
lines with ``;``: N is the version of the schema that file builds.
"""

from __future__ import annotations

import os
import re
from functools import cache

from queuectl.records import fields, record

# A name line, found after the newline that precedes it: a pattern that starts with text is
# searched for by that text, one that starts with ^ is tried at every character of the file
# (0.1 ms more of every command that opens a store).
_NAME = re.compile(r"\n--[ \t]*name:[ \t]*(\w+)(.*)")
_MIGRATION = re.compile(r"schema_v([0-9]+)")


@record(frozen=True)
class Query:
    text: str
    # The flags. A query without one is treated with caution, so that a flag forgotten on a
    # new query costs a retry or an error message, never a change that silently is not made.
    #
    # :repeatable: running it twice does what running it once does (a read, an upsert, a
    # delete by key), so it may be sent again, once, on a new connection when the old one
    # turns out to be broken. Unmarked, that breaks the operation.
    repeatable: bool = False
    # :lookup: its parameters only find rows; it stores none of them. A text value that no
    # row can hold (PostgreSQL text holds no NUL and no lone surrogate) may then be taken to
    # match nothing. Unmarked, every parameter goes to the server as given, and one that it
    # cannot store fails the statement: a write whose parameter was dropped would silently
    # do nothing.
    lookup: bool = False


_FLAGS = tuple(item.name for item in fields(Query) if item.name != "text")


@cache
def load(dialect: str) -> dict[str, Query]:
    path = os.path.join(os.path.dirname(__file__), "sql", f"{dialect}.sql")
    with open(path, encoding="utf-8") as handle:
        return parse(handle.read(), path)


def parse(text: str, path: str) -> dict[str, Query]:
    """The queries of one dialect file's `text`; ValueError (naming `path`) if a name comes
    twice, a flag is unknown or a migration is missing."""
    parts = _NAME.split("\n" + text)  # [preamble, name, flags, body, name, flags, body, ...]
    names = parts[1::3]
    if len(set(names)) < len(names):  # only then the walk, which is quadratic, for the first
        twice = next(name for index, name in enumerate(names) if name in names[:index])
        raise ValueError(f"{path}: query {twice} is defined twice")
    loaded = {
        name: Query(body.strip().rstrip(";"), **_flags(path, name, flags))
        for name, flags, body in zip(names, parts[2::3], parts[3::3])
    }
    _check_migrations(path, loaded)
    return loaded


def _flags(path: str, name: str, given: str) -> dict[str, bool]:
    words = given.split()
    unknown = [word for word in words if word[:1] != ":" or word[1:] not in _FLAGS]
    if unknown:  # a flag mistyped would be a fact lost
        raise ValueError(
            f"{path}: query {name}: unknown flag {unknown[0]!r}; flags: "
            + ", ".join(f":{flag}" for flag in _FLAGS)
        )
    return {word[1:]: True for word in words}


def _check_migrations(path: str, loaded: dict[str, Query]) -> None:
    versions = sorted(int(found.group(1)) for found in map(_MIGRATION.fullmatch, loaded) if found)
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(
            f"{path}: the migrations must be schema_v1 to schema_vN with no "
            f"gap; found versions {versions}"
        )


def schema_version(dialect: str) -> int:
    """The version of the schema that the dialect's migrations build: N of ``schema_vN``."""
    return sum(1 for name in load(dialect) if _MIGRATION.fullmatch(name))


def upgrade(dialect: str, version: int) -> list[str]:
    """The statements that take a store of schema `version` to `schema_version(dialect)`,
    in order."""
    loaded = load(dialect)
    return [
        statement
        for step in range(version + 1, schema_version(dialect) + 1)
        for statement in _statements(loaded[f"schema_v{step}"].text)
    ]


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";\n") if part.strip()]
