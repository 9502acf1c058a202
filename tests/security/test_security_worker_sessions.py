"""Every database session the worker opens refuses writes, on every backend.

The worker's reads (fingerprint, reflection, ``alembic_version``, NULL row counts) run
through the real ``WarmState`` on an engine from the worker's ``make_engine``; then a
``CREATE TABLE``, an ``INSERT`` and an ``UPDATE alembic_version`` on that engine's
connections must fail with the backend's read-only error, in a transaction and in
autocommit mode, and a separate admin connection must find the database unchanged. The
session-level statement that makes each connection read-only must be in the statement
audit once per connection (PostgreSQL sets it as a connect option: nothing to audit).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from report import Report, observed
from sqlalchemy.engine import URL, Engine

from schema_lsp.reflect import read_only
from schema_lsp.server.worker.database import make_engine
from schema_lsp.server.worker.main import WarmState
from schema_lsp.server.worker.null_rows import count_null_rows
from schema_lsp.server.worker.protocol import CheckRequest
from schema_lsp.server.worker.statement_audit import ENV

#: Part of each backend's error for a write in a read-only session.
READ_ONLY_ERROR = {
    "sqlite": "attempt to write a readonly database",
    "postgresql": "read-only transaction",
    "mariadb": "READ ONLY transaction",
}

#: The statement the worker's connect listener sends to make a session read-only.
SESSION_READ_ONLY = {
    "sqlite": "PRAGMA query_only = 1",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}

WRITES = {
    "CREATE TABLE": "CREATE TABLE intruder (id INTEGER PRIMARY KEY)",
    "INSERT": "INSERT INTO users (id, name) VALUES (99, 'intruder')",
    "UPDATE alembic_version": "UPDATE alembic_version SET version_num = 'evil'",
}

NAME = (None, "users", "name")


def build(admin: Engine) -> None:
    """A migrated database: one applied revision and a table with two NULL names."""
    with admin.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"
        )
        conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES ('0001')")
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50))")
        conn.exec_driver_sql("INSERT INTO users (id, name) VALUES (1, 'a'), (2, NULL), (3, NULL)")


def snapshot(admin: Engine) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Tables, users rows and applied revisions, read on a connection of its own."""
    with admin.connect() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        users = [tuple(r) for r in conn.exec_driver_sql("SELECT id, name FROM users ORDER BY id")]
        heads = [tuple(r) for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
    return tables, users, heads


def refused(worker: Engine, statement: str, backend: str, **options: Any) -> bool:
    """Whether ``statement`` (then a commit) fails with the backend's read-only error on a
    worker connection; any other outcome is reported as not refused."""
    with worker.connect().execution_options(**options) as conn:
        try:
            conn.exec_driver_sql(statement)
            conn.commit()
        except sa.exc.DBAPIError as exc:
            conn.rollback()
            return READ_ONLY_ERROR[backend] in str(exc.orig)
    return False


def audited(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["statement"] for line in path.read_text().splitlines()]


def test_the_workers_sessions_refuse_writes_and_still_read(
    backend: str,
    db_url: URL,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hardening: Report,
) -> None:
    audit = tmp_path / "audit.jsonl"
    monkeypatch.setenv(ENV, str(audit))
    build(engine)
    before = snapshot(engine)
    url = db_url.render_as_string(hide_password=False)
    state = WarmState(out_fd=-1, url=url, engine=make_engine(url))
    connects: list[object] = []
    sa.event.listen(state.engine, "connect", lambda dbapi_conn, _rec: connects.append(dbapi_conn))
    request = CheckRequest(id=1, root=".", models=[], database_url=url)
    with observed(hardening, "security", f"worker sessions refuse writes ({backend})") as case:
        try:
            # What the worker does on every check, all on read-only sessions.
            assert state.refresh_reflection(request) is True
            assert state.fingerprint is not None, "the fingerprint query failed"
            assert state.reflected.table_names[None] == ["users"]
            assert state.heads == ["0001"]
            assert count_null_rows(state.engine, [NAME]) == {NAME: 2}

            outcome = {
                f"{name} ({mode})": refused(state.engine, sql, backend, **options)
                for name, sql in WRITES.items()
                for mode, options in (
                    ("transaction", {}),
                    ("autocommit", {"isolation_level": "AUTOCOMMIT"}),
                )
            }
            # read_only() leaves the session read-only.
            with state.engine.connect() as conn, read_only(conn):
                conn.exec_driver_sql("SELECT count(*) FROM users")
            outcome["INSERT after read_only()"] = refused(state.engine, WRITES["INSERT"], backend)
            after = snapshot(engine)
            case.survived = all(outcome.values()) and after == before
            case.note = f"{sum(outcome.values())} of {len(outcome)} writes refused"
            assert all(outcome.values()), outcome
            assert after == before

            # The same catalog: the fingerprint says so, and the reads still work.
            assert state.refresh_reflection(request) is False
            assert state.heads == ["0001"]
            assert count_null_rows(state.engine, [NAME]) == {NAME: 2}
        finally:
            state.dispose()

    statements = audited(audit)
    assert any("SELECT" in s and "users" in s for s in statements), "the audit saw no reads"
    if backend in SESSION_READ_ONLY:
        marks = [s for s in statements if s == SESSION_READ_ONLY[backend]]
        assert connects and len(marks) == len(connects), (len(marks), len(connects))
    hardening.count(f"security: worker connections made read-only ({backend})", len(connects))


@pytest.mark.backends("sqlite")
def test_a_wal_database_is_read_while_its_writer_is_open(db_url: URL, engine: Engine) -> None:
    """Committed rows still in the WAL are read; the worker writes nothing, and the
    application's own writer is not blocked by it."""
    build(engine)
    engine.dispose()
    path = str(db_url.database)
    app = sqlite3.connect(path)
    try:
        assert app.execute("PRAGMA journal_mode = WAL").fetchone() == ("wal",)
        app.execute("PRAGMA wal_autocheckpoint = 0")  # the new row stays in the WAL file
        app.execute("INSERT INTO users (id, name) VALUES (4, NULL)")
        app.commit()
        assert Path(path + "-wal").stat().st_size > 0
        url = db_url.render_as_string(hide_password=False)
        state = WarmState(out_fd=-1)
        try:
            assert state.refresh_reflection(CheckRequest(id=1, root=".", models=[],
                                                         database_url=url))
            assert state.heads == ["0001"]
            assert count_null_rows(state.engine, [NAME]) == {NAME: 3}
            assert refused(state.engine, WRITES["INSERT"], "sqlite")
        finally:
            state.dispose()
        app.execute("UPDATE users SET name = 'fixed' WHERE id = 4")
        app.commit()
        assert app.execute("SELECT count(*) FROM users").fetchone() == (4,)
    finally:
        app.close()
