"""Making a column NOT NULL says how many rows hold NULL, counted by the worker read-only.

The text is unit-tested; the counting runs in a real worker against a real database
(SQLite and PostgreSQL), including a mixed-case table that needs quoting, a table with no
NULLs (then the drift is not destructive), a recount after an external change, and a
count that fails (the general warning stays).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from databases import admin_connection
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Engine

from schema_lsp.autogenerate.drift import needs_null_count, not_null_loss, with_null_rows
from schema_lsp.server.worker.client import WorkerClient
from schema_lsp.server.worker.null_rows import null_count_query
from schema_lsp.server.worker.protocol import OK, CheckResult
from schema_lsp.server.worker.statement_audit import ENV

MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("email", sa.String(50), nullable=False),
)
sa.Table(
    "Accounts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("Nick", sa.String(50), nullable=False),
)
"""


def test_the_loss_says_how_many_rows_hold_null() -> None:
    assert not_null_loss("users.name", 3) == "making users.name NOT NULL fails: 3 rows hold NULL"
    assert not_null_loss("users.name", 1) == "making users.name NOT NULL fails: 1 row holds NULL"
    assert not_null_loss("users.name", 0) is None
    assert not_null_loss("users.name", None) == (
        "making users.name NOT NULL fails if any row holds NULL"
    )


def test_counted_records_decide_whether_the_change_is_destructive() -> None:
    record: dict[str, Any] = {
        "kind": "modify_nullable",
        "schema": "app",
        "table": "users",
        "name": "name",
        "model": "NOT NULL",
        "database": "NULL",
        "destructive": True,
        "loss": not_null_loss("app.users.name", None),
        "extra": {"keep": 1},
    }
    assert needs_null_count(record)
    assert not needs_null_count({**record, "model": "NULL", "database": "NOT NULL"})
    counted = with_null_rows(record, 2)
    assert counted["destructive"] and counted["extra"] == {"keep": 1, "null_rows": 2}
    assert counted["loss"] == "making app.users.name NOT NULL fails: 2 rows hold NULL"
    empty = with_null_rows(record, 0)
    assert not empty["destructive"] and empty["loss"] is None
    assert record["destructive"] and "null_rows" not in record["extra"]  # not mutated


def test_the_count_query_quotes_names_for_the_dialect() -> None:
    query = null_count_query("My Schema", "Accounts", ["Nick", "select"])
    sql = str(query.compile(dialect=postgresql.dialect()))
    assert 'FROM "My Schema"."Accounts"' in sql
    assert '"Accounts"."Nick" IS NULL' in sql and '"Accounts"."select" IS NULL' in sql
    assert sql.upper().startswith("SELECT") and sql.count("sum(") == 2


def build(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50), "
            "email VARCHAR(50))"
        )
        conn.exec_driver_sql(
            "INSERT INTO users (id, name, email) VALUES "
            "(1, NULL, 'a'), (2, NULL, NULL), (3, NULL, 'c'), (4, 'd', 'd')"
        )
        conn.exec_driver_sql(
            'CREATE TABLE "Accounts" (id INTEGER NOT NULL PRIMARY KEY, "Nick" VARCHAR(50))'
        )
        conn.exec_driver_sql("""INSERT INTO "Accounts" (id, "Nick") VALUES (1, 'x')""")


@pytest.fixture
async def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WorkerClient]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "nullmodels.py").write_text(MODELS)
    monkeypatch.setenv(ENV, str(tmp_path / "audit.jsonl"))
    client = WorkerClient(sys.executable, root)
    try:
        yield client
    finally:
        await client.stop()


async def check(worker: WorkerClient, url: URL, **overrides: object) -> CheckResult:
    fields: dict[str, object] = {
        "root": str(worker.root),
        "models": ["nullmodels:metadata"],
        "database_url": url.render_as_string(hide_password=False),
        "import_timeout": 10.0,
    }
    fields.update(overrides)
    result = await worker.check(**fields)
    assert result.status == OK, result
    return result


def nullable_drifts(result: CheckResult) -> dict[str, dict[str, Any]]:
    return {f"{d['table']}.{d['name']}": d for d in result.drifts if d["kind"] == "modify_nullable"}


def count_statements(audit: Path) -> list[str]:
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    return [e["statement"] for e in lines if "IS NULL" in e["statement"]]


@pytest.mark.backends("sqlite", "postgresql")
async def test_the_worker_counts_null_rows_once_per_reflection(
    worker: WorkerClient, engine: Engine, db_url: URL, tmp_path: Path
) -> None:
    build(engine)
    first = nullable_drifts(await check(worker, db_url))
    assert set(first) == {"users.name", "users.email", "Accounts.Nick"}
    name, email, nick = first["users.name"], first["users.email"], first["Accounts.Nick"]
    assert name["loss"] == "making users.name NOT NULL fails: 3 rows hold NULL"
    assert name["destructive"] and name["extra"]["null_rows"] == 3
    assert email["loss"] == "making users.email NOT NULL fails: 1 row holds NULL"
    assert not nick["destructive"] and nick["loss"] is None and nick["extra"]["null_rows"] == 0
    audit = tmp_path / "audit.jsonl"
    assert len(count_statements(audit)) == 2  # one query per table, both columns in one

    # Same catalog, an edited model: the counts are reused, not run again.
    await check(worker, db_url, models_changed=True)
    assert len(count_statements(audit)) == 2

    # Rows fixed and the catalog moved: counted again.
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE users SET name = 'n' WHERE name IS NULL")
        conn.exec_driver_sql("CREATE TABLE moved (id INTEGER PRIMARY KEY)")
    again = nullable_drifts(await check(worker, db_url))
    assert again["users.name"]["extra"]["null_rows"] == 0
    assert not again["users.name"]["destructive"] and again["users.email"]["destructive"]
    assert len(count_statements(audit)) == 4


@pytest.mark.backends("postgresql")
async def test_a_count_that_fails_keeps_the_general_warning(
    worker: WorkerClient, engine: Engine, db_url: URL
) -> None:
    """A role that may read the catalog but not the rows: the check still succeeds."""
    build(engine)
    role = f"schema_lsp_t_nr_{uuid.uuid4().hex[:10]}"
    with admin_connection("postgresql") as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'x'")
    try:
        drifts = nullable_drifts(await check(worker, db_url.set(username=role, password="x")))
        name = drifts["users.name"]
        assert name["loss"] == "making users.name NOT NULL fails if any row holds NULL"
        assert name["destructive"] and "null_rows" not in name["extra"]
    finally:
        await worker.stop()
        with admin_connection("postgresql") as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(r)s",
                {"r": role},
            )
            conn.exec_driver_sql(f"DROP ROLE {role}")
