"""The engine never writes: a full check works as a role that can only read the catalog,
and every statement a full check sends is a read or transaction control.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from databases import admin_connection, make_engine
from report import Report, observed
from sqlalchemy.engine import URL, Engine

from schema_lsp.autogenerate import compare_metadata
from schema_lsp.check import check_drift
from schema_lsp.runtime.migration import MigrationContext

REPO = Path(__file__).resolve().parents[2]

MODELS = '''
import sqlalchemy as sa

metadata = sa.MetaData()
users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(200), nullable=False, unique=True),
    sa.Column("name", sa.String(50), server_default="anon"),
    sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_users_name", "name"),
)
orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), nullable=False),
    sa.Column("total", sa.Numeric(10, 2)),
)
reviews = sa.Table("reviews", metadata, sa.Column("id", sa.Integer, primary_key=True))
'''


def build_old_schema(engine: Engine) -> None:
    """The database side: drifted from MODELS in several ways."""
    old = sa.MetaData()
    sa.Table(
        "users",
        old,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("legacy", sa.Text),
    )
    sa.Table(
        "orders",
        old,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("total", sa.Numeric(8, 2)),
    )
    sa.Table("gone", old, sa.Column("id", sa.Integer, primary_key=True))
    old.create_all(engine)


def write_project(tmp_path: Path) -> tuple[Path, str]:
    """A project directory holding MODELS under a module name unique to this test."""
    module = f"models_{uuid.uuid4().hex[:10]}"
    project = tmp_path / "project"
    project.mkdir()
    (project / f"{module}.py").write_text(MODELS, encoding="utf-8")
    return project, f"{module}:metadata"


@pytest.fixture
def reader_url(db_url: URL) -> Iterator[URL]:
    """A role that may log in and read the catalog, nothing else, read-only by default."""
    role = f"schema_lsp_ro_{uuid.uuid4().hex[:10]}"
    secret = uuid.uuid4().hex
    with admin_connection("postgresql") as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{secret}'")
        conn.exec_driver_sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        conn.exec_driver_sql(f'REVOKE ALL ON DATABASE "{db_url.database}" FROM PUBLIC')
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{db_url.database}" TO {role}')
    try:
        yield db_url.set(username=role, password=secret)
    finally:
        with admin_connection("postgresql") as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(r)s",
                {"r": role},
            )
        engine = make_engine(db_url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(f"DROP OWNED BY {role}")
        finally:
            engine.dispose()
        with admin_connection("postgresql") as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


def stable(diffs: list[Any]) -> str:
    """The diffs' repr without object addresses."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(diffs))


def cli_json(project: Path, models: str, url: URL) -> tuple[int, Any, str]:
    done = subprocess.run(
        [sys.executable, "-m", "schema_lsp", "check", "--project", str(project),
         "--models", models, "--db", url.render_as_string(hide_password=False),
         "--format", "json", "--compare-server-default"],
        capture_output=True, text=True, timeout=120, cwd=project,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    data = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, data, done.stderr


@pytest.mark.backends("postgresql")
def test_a_catalog_only_read_only_role_gets_the_superusers_results(
    engine: Engine, reader_url: URL, tmp_path: Path, hardening: Report
) -> None:
    build_old_schema(engine)
    project, models = write_project(tmp_path)
    name = "read-only, catalog-only PostgreSQL role: same results as the superuser (API and CLI)"
    with observed(hardening, "security", name) as case:
        reader = make_engine(reader_url)
        try:
            with reader.connect() as conn:  # the role really can't read or write the tables
                with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                    conn.exec_driver_sql("SELECT * FROM users")
                conn.rollback()
                with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
                    conn.exec_driver_sql("CREATE TABLE intruder (id int)")
                conn.rollback()
            sys.path.insert(0, str(project))
            try:
                module = __import__(models.split(":")[0])
            finally:
                sys.path.remove(str(project))
            opts = {"compare_type": True, "compare_server_default": True}
            results = []
            for eng in (engine, reader):
                with eng.connect() as conn:
                    results.append(
                        list(compare_metadata(MigrationContext.configure(conn, opts=opts),
                                              module.metadata))
                    )
        finally:
            reader.dispose()
        as_admin, as_reader = results
        assert as_admin, "the scenario must drift"
        same_api = stable(as_reader) == stable(as_admin)

        admin_code, admin_out, _ = cli_json(project, models, engine.url)
        reader_code, reader_out, reader_err = cli_json(project, models, reader_url)
        masked = "***" in (reader_out or {}).pop("database", "")
        (admin_out or {}).pop("database", None)
        same_cli = admin_code == reader_code == 1 and masked and reader_out == admin_out
        case.survived = same_api and same_cli
        case.note = (
            f"{len(as_admin)} API differences, CLI exit {admin_code}/{reader_code} "
            "(superuser/role)"
        )
        assert same_api, (as_reader, as_admin)
        assert admin_code == reader_code == 1, reader_err
        assert masked and reader_out == admin_out, (reader_out, admin_out)


WRITES = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|GRANT|REVOKE|REPLACE|"
    r"LOCK|CALL|DO|COPY|VACUUM|ANALYZE|REINDEX|COMMENT|SET)\b",
    re.IGNORECASE,
)
ALLOWED_SETS = re.compile(
    r"^\s*SET\s+(SESSION\s+)?TRANSACTION\s+(READ\s+(ONLY|WRITE)|ISOLATION\s+LEVEL\s+\w+(\s+\w+)?)\s*$",
    re.IGNORECASE,
)
READS = ("SELECT", "SHOW", "WITH", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "START", "DESCRIBE",
         "EXPLAIN", "SAVEPOINT", "RELEASE")


def is_allowed(statement: str) -> bool:
    """A read, transaction control, or ``SET [SESSION] TRANSACTION ...``; a PRAGMA only reads
    or toggles ``query_only``."""
    text = statement.strip().lstrip("(").strip()
    head = text.split(None, 1)[0].upper() if text else ""
    if ALLOWED_SETS.match(text):
        return True
    if WRITES.match(text) or head not in READS:
        return False
    if head == "PRAGMA" and "=" in text:
        return bool(re.match(r"PRAGMA\s+query_only\s*=\s*[01]\s*$", text, re.IGNORECASE))
    return True


def test_the_audit_itself_rejects_writes() -> None:
    assert not is_allowed("INSERT INTO t VALUES (1)")
    assert not is_allowed("PRAGMA journal_mode = WAL")
    assert not is_allowed("SET search_path = evil")
    assert not is_allowed("  update t set a = 1")
    assert is_allowed("SET TRANSACTION READ ONLY") and is_allowed("PRAGMA query_only = 1")
    assert is_allowed("SELECT 1") and is_allowed("PRAGMA main.table_list")


def test_a_full_check_only_reads(engine: Engine, backend: str, tmp_path: Path,
                                 hardening: Report) -> None:
    build_old_schema(engine)
    project, models = write_project(tmp_path)
    statements: list[str] = []

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", before_cursor_execute)
    try:
        result = check_drift(
            models,
            engine.url.render_as_string(hide_password=False),
            project_dir=project,
            opts={"compare_type": True, "compare_server_default": True},
        )
    finally:
        sa.event.remove(Engine, "before_cursor_execute", before_cursor_execute)
        sys.modules.pop(models.split(":")[0], None)
    assert result.drift, "the scenario must drift"
    assert statements, "the audit saw nothing: the listener is not attached"
    writes = [s for s in statements if not is_allowed(s)]
    assert not writes, writes
    hardening.count(f"security: statements audited in a full check ({backend})", len(statements))
