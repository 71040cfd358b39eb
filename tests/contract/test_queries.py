"""The two SQL dialect files stay in step: the same query names, each defined once."""

from __future__ import annotations

import re
from pathlib import Path

from queuectl.store import queries

SQL = Path(queries.__file__).parent / "sql"


def _names(dialect: str) -> list[str]:
    text = (SQL / f"{dialect}.sql").read_text(encoding="utf-8")
    return re.findall(r"^--\s*name:\s*(\w+)\s*$", text, re.MULTILINE)


def test_sqlite_and_postgres_define_the_same_query_names():
    sqlite, postgres = _names("sqlite"), _names("postgres")
    assert len(sqlite) == len(set(sqlite)) and len(postgres) == len(set(postgres))
    assert sorted(sqlite) == sorted(postgres)
    assert set(queries.load("sqlite")) == set(queries.load("postgres")) == set(sqlite)
    assert {"schema_v1", "claim", "finish_job", "expired_jobs"} <= set(sqlite)


def test_postgres_queries_use_only_named_placeholders():
    """psycopg reads every percent sign as a placeholder: a stray one breaks a query."""
    for name, text in queries.load("postgres").items():
        stray = re.sub(r"%\(\w+\)s", "", text)
        assert "%" not in stray, name
        assert ":" not in re.sub(r"::\w+|--[^\n]*", "", stray), name  # no SQLite :params


def test_postgres_claim_is_a_skip_locked_cte():
    claim = queries.load("postgres")["claim"]
    code = re.sub(r"--[^\n]*", "", claim)
    assert code.lstrip().startswith("WITH next AS (")
    assert "FOR UPDATE SKIP LOCKED" in code and "ORDER BY priority DESC, run_at, seq" in code
    assert " IN (SELECT" not in code.upper()
