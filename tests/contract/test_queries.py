"""The SQL dialect files stay in step: the same query names, each defined once, the same
migrations; the facts after a name are ones the loader knows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from queuectl.store import queries

SQL = Path(queries.__file__).parent / "sql"
DIALECTS = sorted(path.stem for path in SQL.glob("*.sql"))


def test_every_dialect_defines_the_same_query_names_and_migrations():
    assert {"sqlite", "postgres"} <= set(DIALECTS)
    names = {dialect: set(queries.load(dialect)) for dialect in DIALECTS}
    assert all(found == names["sqlite"] for found in names.values()), names
    assert {"schema_v1", "claim", "finish_job", "expired_jobs"} <= names["sqlite"]
    assert {queries.schema_version(dialect) for dialect in DIALECTS} == {
        queries.schema_version("sqlite")
    } and queries.schema_version("sqlite") >= 3


@pytest.mark.parametrize(
    "text, error",
    [
        ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n", "query a is defined twice"),
        ("-- name: a :repeatble\nSELECT 1\n", "unknown flag ':repeatble'"),
        ("-- name: a repeatable\nSELECT 1\n", "unknown flag 'repeatable'"),
        ("-- name: schema_v1\nSELECT 1\n-- name: schema_v3\nSELECT 3\n", "found versions [1, 3]"),
    ],
)
def test_a_file_the_loader_would_misread_is_refused(text, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        queries.parse(text, "test.sql")


def test_flags_are_read_with_their_query_and_migrations_counted():
    loaded = queries.parse(
        "-- name: schema_v1\nCREATE TABLE t (x INT);\nCREATE INDEX i ON t (x)"
        "\n-- name: get :lookup  :repeatable\nSELECT 1\n-- name: put\n"
        "INSERT INTO t VALUES (1);\n",
        "test.sql",
    )
    assert loaded["get"] == queries.Query("SELECT 1", repeatable=True, lookup=True)
    assert loaded["put"] == queries.Query("INSERT INTO t VALUES (1)")  # cautious: no flags
    assert loaded["schema_v1"].text.startswith("CREATE TABLE")


def test_migrations_upgrade_from_any_version_in_order():
    newest = queries.schema_version("sqlite")
    assert queries.upgrade("sqlite", newest) == []
    everything = queries.upgrade("sqlite", 0)
    assert everything[0].startswith("CREATE TABLE jobs")
    assert queries.upgrade("sqlite", 1) == everything[-len(queries.upgrade("sqlite", 1)) :]


def test_no_statement_that_stores_a_parameter_is_a_lookup():
    """A :lookup may have a parameter left out (PostgreSQL): in a write, that would be a
    write that silently does nothing. A lookup's UPDATE may set times only."""
    for dialect in DIALECTS:
        for name, query in queries.load(dialect).items():
            code = re.sub(r"--[^\n]*", "", query.text).strip()
            if query.lookup:
                assert not code.upper().startswith("INSERT"), (dialect, name)
                assert _set_parameters(code) <= {"now", "lease_until"}, (dialect, name)


def _set_parameters(code: str) -> set[str]:
    """The parameters (`:name` or `%(name)s`) an UPDATE's SET clause stores."""
    found = re.search(r"\bSET\b(.*?)(\bWHERE\b|$)", code, re.DOTALL | re.IGNORECASE)
    return set(re.findall(r"(?:%\(|(?<![:\w]):)(\w+)", found.group(1))) if found else set()


def test_postgres_queries_use_only_named_placeholders():
    """psycopg reads every percent sign as a placeholder: a stray one breaks a query."""
    for name, query in queries.load("postgres").items():
        stray = re.sub(r"%\(\w+\)s", "", query.text)
        assert "%" not in stray, name
        # no SQLite :params (a colon in a string literal, as in 'queue:', is none)
        assert ":" not in re.sub(r"::\w+|--[^\n]*|'[^']*'", "", stray), name


def test_postgres_claim_is_a_skip_locked_cte():
    claim = queries.load("postgres")["claim"].text
    code = re.sub(r"--[^\n]*", "", claim)
    assert code.lstrip().startswith("WITH plain AS (")
    assert "FOR UPDATE SKIP LOCKED" in code and "ORDER BY priority DESC, run_at, seq" in code
    assert " IN (SELECT" not in code.upper()
