"""The language server never writes: every statement of a whole editing session is a read.

The real server runs over stdio on the example project, whose old schema is built in a
fresh database, with ``SCHEMA_LSP_STATEMENT_AUDIT`` set. The session covers what sends
statements: the first check, a model edit and save, an external ALTER picked up by a
periodic check (and its undo), a code action request and the revision preview. Then the
audit file must hold only reads and transaction control from the explicit list below. On
PostgreSQL the same session, run as a role that may only connect and read the catalog,
must show the same diagnostics (codes and lines) as the superuser's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from databases import make_engine
from lspkit import MODELS, Probe, copy_example, lsp
from lsprotocol import types
from report import Report
from sqlalchemy.engine import URL
from test_security_readonly import reader_url

from schema_lsp.server.worker.statement_audit import ENV
from tests.e2e.harness import migrate

__all__ = ["reader_url"]  # the catalog-only PostgreSQL role, shared with the API/CLI audit

#: Functions and clauses that make a SELECT change something (locks, sequences, settings,
#: files): never allowed.
_SIDE_EFFECTS = (
    r"(?![\s\S]*\b(INTO|FOR\s+UPDATE|FOR\s+SHARE|LOCK\s+IN|nextval|setval|set_config|"
    r"pg_advisory\w*|GET_LOCK|lo_\w+)\b)"
)
#: The PRAGMAs that only read, as SQLite reflection, the fingerprint and ``read_only()``
#: (which asks whether ``query_only`` is on already) use them.
_READ_PRAGMAS = (
    r"query_only|schema_version|table_info|table_xinfo|table_list|index_list|index_info|"
    r"index_xinfo|foreign_key_list|database_list|collation_list"
)

#: Statements a read-only session may send, matched case-insensitively from the start.
ALLOWED = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"SELECT\b" + _SIDE_EFFECTS,
        r"SHOW\b",
        r"DESCRIBE\b",
        r"WITH\b(?![\s\S]*\b(INSERT|UPDATE|DELETE|MERGE)\b)" + _SIDE_EFFECTS + r"[\s\S]*\bSELECT\b",
        r"PRAGMA\s+(\w+\.|\"[^\"]+\"\.)?(" + _READ_PRAGMAS + r")\s*(\([^)]*\))?\s*$",
        r"PRAGMA\s+query_only\s*=\s*[01]\s*$",
        r"BEGIN\b",
        r"ROLLBACK\b",
        r"SET\s+(SESSION\s+)?TRANSACTION\s+READ\s+(ONLY|WRITE)\s*$",
        r"SET\s+SESSION\s+(lock_wait_timeout|max_statement_time|max_execution_time)\s*=\s*[\d.]+\s*$",
    )
)

#: A piece of each backend's catalog fingerprint query (schema_lsp/reflect/fingerprint.py).
FINGERPRINT = {
    "postgresql": "string_agg",
    "mariadb": "CRC32(CONCAT_WS",
    "sqlite": "PRAGMA schema_version",
}


def is_read(statement: str) -> bool:
    text = statement.strip().lstrip("(").strip()
    return any(pattern.match(text) for pattern in ALLOWED)


def test_the_allow_list_rejects_writes() -> None:
    for write in (
        "INSERT INTO t VALUES (1)",
        "  update t set a = 1",
        "WITH x AS (SELECT 1) DELETE FROM t",
        "PRAGMA journal_mode = WAL",
        "SET search_path = evil",
        "SET SESSION sql_mode = ''",
        "CREATE TABLE t (id int)",
        "COMMIT",
        "SELECT nextval('s')",
        "SELECT * FROM t FOR UPDATE",
        "SELECT set_config('search_path', 'evil', false)",
        "SELECT 1 INTO OUTFILE '/tmp/x'",
        "PRAGMA optimize",
        "PRAGMA wal_checkpoint(TRUNCATE)",
    ):
        assert not is_read(write), write
    for read in (
        "SELECT 1",
        "with t as (select 1) select * from t",
        'PRAGMA main.table_info("users")',
        "PRAGMA schema_version",
        'PRAGMA "other".schema_version',
        "PRAGMA query_only = 1",
        "PRAGMA query_only",
        "SET TRANSACTION READ ONLY",
        "SET SESSION TRANSACTION READ ONLY",
        "SELECT @@session.tx_read_only",
        "SET SESSION max_statement_time = 20.0",
    ):
        assert is_read(read), read


def build_example(project: Path, url: URL) -> None:
    """The example's old schema in ``url`` with its three users without a name (which the
    models make NOT NULL), and one more user who has a name."""
    migrate(project, url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO users (id, email, name) VALUES (4, 'u4@example.com', 'x')")
            )
    finally:
        engine.dispose()


def configure(project: Path, url: URL) -> None:
    """Point the project's ``[tool.schema-lsp]`` at ``url`` with a fast periodic check."""
    pyproject = project / "pyproject.toml"
    text = re.sub(
        r"(?m)^database_url = .*$",
        "database_url = " + json.dumps(url.render_as_string(hide_password=False)),
        pyproject.read_text(),
    )
    pyproject.write_text(text + "check_interval = 0.3\n")


@dataclass
class Observed:
    """What one session showed: (code, line) of the diagnostics after each step."""

    phases: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    nullable_message: str = ""


def seen(diagnostics: list[types.Diagnostic]) -> set[tuple[str, int]]:
    return {(str(d.code), d.range.start.line) for d in diagnostics}


def named(diagnostics: list[types.Diagnostic], name: str) -> types.Diagnostic | None:
    return next((d for d in diagnostics if (d.data or {}).get("name") == name), None)


async def session(probe: Probe, admin_url: URL) -> Observed:
    """Drive one session; ``admin_url`` makes the external changes."""
    observed = Observed()
    first = await probe.wait_diagnostics(
        lambda ds: any(d.code == "add_table" for d in ds), timeout=60
    )
    observed.phases["initial"] = seen(first)
    nullable = next(
        d for d in first if d.code == "modify_nullable" and (d.data or {}).get("table") == "users"
    )
    observed.nullable_message = nullable.message

    probe.open(MODELS)
    text = (probe.root / MODELS).read_text()
    probe.save(MODELS, text.replace("String(20), nullable=False", "String(40), nullable=False"))
    edited = await probe.wait_diagnostics(
        lambda ds: any(
            d.code == "modify_type" and (d.data or {}).get("table") == "orders" for d in ds
        )
    )
    observed.phases["edited"] = seen(edited)

    admin = make_engine(admin_url)
    try:  # changed from outside: only a periodic check can notice
        with admin.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE products ADD COLUMN legacy_code VARCHAR(10)")
        altered = await probe.wait_diagnostics(lambda ds: named(ds, "legacy_code") is not None)
        observed.phases["altered"] = seen(altered)

        target = named(altered, "legacy_code")
        assert target is not None
        actions = await probe.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=probe.uri(MODELS)),
                range=target.range,
                context=types.CodeActionContext(diagnostics=[target]),
            )
        )
        assert actions, "the drift offers no code action"
        preview = await probe.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="schemaLsp.previewRevision", arguments=[])
        )
        assert preview["count"] > 0 and "def upgrade" in preview["text"], preview

        with admin.begin() as conn:  # undone: the next session starts from the same state
            conn.exec_driver_sql("ALTER TABLE products DROP COLUMN legacy_code")
        await probe.wait_diagnostics(lambda ds: named(ds, "legacy_code") is None)
    finally:
        admin.dispose()
    return observed


def audited(path: Path) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(set(e) == {"pid", "statement"} for e in entries)
    return entries


async def audited_session(
    tmp_path: Path, name: str, url: URL, backend: str, *, admin_url: URL | None = None
) -> tuple[Observed, list[str]]:
    """One audited session as ``url``'s user; ``admin_url`` (default: ``url``) builds the
    schema (once: when it is ``url``) and makes the external changes."""
    project = copy_example(tmp_path, name)
    if admin_url is None:
        admin_url = url
        build_example(project, url)
    configure(project, url)
    audit = tmp_path / f"{name}-audit.jsonl"
    async with lsp(project, env={ENV: str(audit)}) as probe:
        observed = await session(probe, admin_url)
    statements = [e["statement"] for e in audited(audit)]
    assert statements, "the audit is empty: the worker's listener is not attached"
    writes = [s for s in statements if not is_read(s)]
    assert not writes, writes
    assert any(FINGERPRINT[backend] in s for s in statements), "no fingerprint query audited"
    assert any("IS NULL" in s for s in statements), "the NULL rows were not counted"
    return observed, statements


async def test_a_whole_server_session_only_reads(
    db_url: URL, backend: str, tmp_path: Path, hardening: Report
) -> None:
    observed, statements = await audited_session(tmp_path, "shop", db_url, backend)
    assert "making users.name NOT NULL fails: 3 rows hold NULL" in observed.nullable_message
    hardening.count(f"server: statements audited across a session ({backend})", len(statements))


@pytest.mark.backends("postgresql")
async def test_a_catalog_only_role_sees_what_the_superuser_sees(
    db_url: URL,
    reader_url: URL,
    tmp_path: Path,
    hardening: Report,
) -> None:
    admin, _ = await audited_session(tmp_path, "admin", db_url, "postgresql")
    reader, statements = await audited_session(
        tmp_path, "reader", reader_url, "postgresql", admin_url=db_url
    )
    assert admin.phases.keys() == {"initial", "edited", "altered"}
    assert reader.phases == admin.phases
    # The role may not read the rows: the count fails and the warning stays general.
    assert "fails if any row holds NULL" in reader.nullable_message
    hardening.count(
        "server: statements audited across a session (postgresql, catalog-only role)",
        len(statements),
    )
