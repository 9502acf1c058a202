"""End to end over stdio: configuration changed mid-session applies without a restart.

``pyproject.toml`` and ``alembic.ini`` are edited on disk and announced with
``workspace/didChangeWatchedFiles``, as an editor's file watcher does; editor settings
change with ``workspace/didChangeConfiguration``. Broken files are reported once, by
file and line, while the server keeps checking with its last good configuration.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import Session, lsp_session, migrate
from lsprotocol import types
from sqlalchemy.engine import URL

from tests.databases import make_engine

MODELS = "shop/models.py"
QUIET = {"checkInterval": 3600}
UNSET = "SCHEMA_LSP_TEST_NEVER_SET_URL"


Check = Callable[[list[types.Diagnostic]], bool]


def has(code: str, table: str | None = None) -> Check:
    def check(diagnostics: list[types.Diagnostic]) -> bool:
        return any(
            d.code == code and (table is None or (d.data or {}).get("table") == table)
            for d in diagnostics
        )

    return check


def lacks(code: str, table: str | None = None) -> Check:
    def check(diagnostics: list[types.Diagnostic]) -> bool:
        return not has(code, table)(diagnostics)

    return check


def changed_on_disk(session: Session, relative: str) -> None:
    session.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=session.uri(relative), type=types.FileChangeType.Changed)]
        )
    )


def write_pyproject(
    shop: Path, extra: str, *, database_url: str | None = "sqlite:///shop.db"
) -> None:
    """The example's ``[tool.schema-lsp]`` plus ``extra`` lines."""
    url = f'database_url = "{database_url}"\n' if database_url is not None else ""
    (shop / "pyproject.toml").write_text(
        '[project]\nname = "shop"\nversion = "0.1.0"\n\n'
        f'[tool.schema-lsp]\nmodels = ["shop.models:Base"]\n{url}migrations = "migrations"\n'
        + extra,
        encoding="utf-8",
    )


def errors(session: Session) -> list[str]:
    return [m.message for m in session.client.messages if m.type == types.MessageType.Error]


def copy_with_legacy_column(shop: Path, name: str) -> Path:
    """A copy of the shop's database that also has ``products.legacy_code``."""
    target = shop / name
    shutil.copy(shop / "shop.db", target)
    with sqlite3.connect(target) as conn:
        conn.execute("ALTER TABLE products ADD COLUMN legacy_code VARCHAR(10)")
    return target


def legacy(diagnostics: list[types.Diagnostic]) -> bool:
    return any((d.data or {}).get("name") == "legacy_code" for d in diagnostics)


async def test_pyproject_edits_apply_without_a_restart(shop: Path) -> None:
    write_pyproject(shop, "")
    async with lsp_session(shop, settings=QUIET) as session:
        await session.wait_diagnostics(MODELS, has("add_table", "reviews"), 60)

        write_pyproject(shop, 'exclude_tables = ["reviews"]\n')
        changed_on_disk(session, "pyproject.toml")
        diagnostics = await session.wait_diagnostics(MODELS, lacks("add_table", "reviews"))
        assert has("add_column", "users")(diagnostics), "only the excluded table went away"
        assert {d.severity for d in diagnostics} == {types.DiagnosticSeverity.Warning}

        write_pyproject(shop, 'exclude_tables = ["reviews"]\nseverity = { add_column = "error" }\n')
        changed_on_disk(session, "pyproject.toml")
        diagnostics = await session.wait_diagnostics(
            MODELS,
            lambda ds: any(
                d.code == "add_column" and d.severity == types.DiagnosticSeverity.Error for d in ds
            ),
        )
        others = {d.severity for d in diagnostics if d.code != "add_column"}
        assert others == {types.DiagnosticSeverity.Warning}
        assert lacks("add_table", "reviews")(diagnostics)
        assert errors(session) == []


@pytest.mark.backends("sqlite", "postgresql")
async def test_database_url_in_pyproject_moves_to_another_database(shop: Path, db_url: URL) -> None:
    """From the bundled SQLite file to a fresh database with the old schema plus a column."""
    write_pyproject(shop, "")
    async with lsp_session(shop, settings=QUIET) as session:
        before = await session.wait_diagnostics(MODELS, has("add_table", "reviews"), 60)
        assert not legacy(before)
        migrate(shop, db_url)
        engine = make_engine(db_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE products ADD COLUMN legacy_code VARCHAR(10)"))
        finally:
            engine.dispose()
        rendered = db_url.render_as_string(hide_password=False)
        write_pyproject(shop, "", database_url=rendered)
        count = len(session.statuses)
        changed_on_disk(session, "pyproject.toml")
        after = await session.wait_diagnostics(MODELS, legacy)
        assert has("add_table", "reviews")(after), "the models' own drift is still there"
        status = await session.wait_status(lambda s: s["state"] == "connected", after=count)
        assert status["root"] == shop.as_uri()


async def test_alembic_ini_url_edit_applies(shop: Path) -> None:
    write_pyproject(shop, "", database_url=None)  # the URL comes from alembic.ini
    copy_with_legacy_column(shop, "other.db")
    async with lsp_session(shop, settings=QUIET) as session:
        before = await session.wait_diagnostics(MODELS, has("add_table", "reviews"), 60)
        assert not legacy(before)
        ini = shop / "alembic.ini"
        ini.write_text(
            ini.read_text().replace(
                "sqlalchemy.url = sqlite:///shop.db", "sqlalchemy.url = sqlite:///other.db"
            )
        )
        changed_on_disk(session, "alembic.ini")
        await session.wait_diagnostics(MODELS, legacy)


async def test_did_change_configuration_applies(shop: Path) -> None:
    async with lsp_session(shop, settings=QUIET) as session:
        await session.wait_diagnostics(MODELS, has("add_table", "reviews"), 60)
        new = {**QUIET, "excludeTables": ["reviews"], "severity": {"default": "hint"}}
        session.client.set_configuration(new, section="schemaLsp")
        session.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"schemaLsp": new})
        )
        diagnostics = await session.wait_diagnostics(MODELS, lacks("add_table", "reviews"))
        assert diagnostics and {d.severity for d in diagnostics} == {types.DiagnosticSeverity.Hint}


async def test_broken_pyproject_keeps_the_last_good_configuration(shop: Path) -> None:
    write_pyproject(shop, "")
    async with lsp_session(shop, settings=QUIET) as session:
        good = await session.wait_diagnostics(MODELS, has("add_table", "reviews"), 60)

        write_pyproject(shop, 'severity = { add_column = "error"\nexclude_tables = ["reviews"]\n')
        lines = (shop / "pyproject.toml").read_text().splitlines()
        bad_line = next(i for i, line in enumerate(lines, 1) if line.startswith("severity"))
        changed_on_disk(session, "pyproject.toml")
        await session.wait_until(types.WINDOW_SHOW_MESSAGE, lambda: bool(errors(session)))
        [message] = errors(session)
        assert str(shop / "pyproject.toml") in message and f"line {bad_line}" in message
        assert "not valid TOML" in message

        # The last good configuration still checks: a model save is answered as before.
        session.open(MODELS)
        text = (shop / MODELS).read_text()
        session.save(MODELS, text.replace("String(200)", "String(100)"))
        kept = await session.wait_diagnostics(MODELS, lacks("modify_type"))
        assert has("add_table", "reviews")(kept) and not any("stale" in d.message for d in kept)
        assert len(kept) == len(good) - 1
        changed_on_disk(session, "pyproject.toml")  # saved again, still broken: no new message
        session.save(MODELS, text)
        await session.wait_diagnostics(MODELS, has("modify_type"))
        assert len(errors(session)) == 1

        # Fixed back to the last good file: the error status gives way to a fresh check.
        erred = len(session.statuses)
        changed_on_disk(session, "pyproject.toml")
        await session.wait_status(lambda s: s["state"] == "error", after=erred)
        write_pyproject(shop, "")
        count = len(session.statuses)
        changed_on_disk(session, "pyproject.toml")
        await session.wait_status(lambda s: s["state"] == "connected", after=count)
        assert session.diagnostics(MODELS) == good and len(errors(session)) == 1

        # Later edits apply again.
        write_pyproject(shop, 'exclude_tables = ["reviews"]\n')
        changed_on_disk(session, "pyproject.toml")
        fixed = await session.wait_diagnostics(MODELS, lacks("add_table", "reviews"))
        assert has("modify_type")(fixed) and len(errors(session)) == 1


async def test_unset_environment_variable_in_database_url(shop: Path) -> None:
    assert UNSET not in os.environ
    write_pyproject(shop, "", database_url=f"${{{UNSET}}}")
    async with lsp_session(shop, settings=QUIET) as session:
        status = await session.wait_status(lambda s: s["state"] == "error")
        assert UNSET in status["message"]
        [message] = errors(session)
        assert f"environment variable {UNSET} is not set" in message
        assert "pyproject.toml" in message and f"Set {UNSET}" in message
        assert session.diagnostics(MODELS) == []

        write_pyproject(shop, "", database_url=f"${{{UNSET}:-sqlite:///shop.db}}")
        changed_on_disk(session, "pyproject.toml")
        await session.wait_diagnostics(MODELS, has("add_table", "reviews"), 60)
        assert len(errors(session)) == 1
