"""End to end over stdio on the example project's SQLite database.

Expected lines are found in the model file by the text the example marks as drifted,
never hard-coded; each test waits on the notifications it asserts on.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from harness import Session, lsp_session
from lsprotocol import types

MODELS = "shop/models.py"
FAST = {"checkInterval": 0.5}


def line_of(root: Path, needle: str, after: str | None = None) -> int:
    lines = (root / MODELS).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i])


def codes_at(diagnostics: list[types.Diagnostic]) -> set[tuple[str, int]]:
    return {(str(d.code), d.range.start.line) for d in diagnostics}


def has(code: str, line: int | None = None) -> object:
    def check(diagnostics: list[types.Diagnostic]) -> bool:
        return any(
            d.code == code and (line is None or d.range.start.line == line) for d in diagnostics
        )

    return check


def lacks(code: str, name: str | None = None) -> object:
    def check(diagnostics: list[types.Diagnostic]) -> bool:
        return not any(
            d.code == code and (name is None or (d.data or {}).get("name") == name)
            for d in diagnostics
        )

    return check


async def initial(session: Session) -> list[types.Diagnostic]:
    return await session.wait_diagnostics(MODELS, has("add_table"), timeout=60)


@pytest.mark.parametrize("capabilities", ["visual-studio-code", "neovim"])
async def test_diagnostics_follow_edits_saves_and_the_database(
    shop: Path, capabilities: str
) -> None:
    async with lsp_session(shop, capabilities=capabilities, settings=FAST) as session:
        diagnostics = await initial(session)
        found = codes_at(diagnostics)
        assert ("modify_nullable", line_of(shop, "name: Mapped[str]", "class User")) in found
        assert ("add_column", line_of(shop, "email_verified:")) in found
        assert ("modify_type", line_of(shop, "name: Mapped[str]", "class Product")) in found
        assert ("add_table", line_of(shop, "class Review")) in found
        for d in diagnostics:
            assert d.source == "schema-lsp"
            assert d.severity == types.DiagnosticSeverity.Warning
            assert d.data["kind"] == d.code and d.message == d.data["message"]
        status = await session.wait_status(lambda s: s["state"] == "connected")
        assert status["driftCount"] >= len(diagnostics) and status["root"] == shop.as_uri()
        watched = [
            r for r in session.registrations if r.method == "workspace/didChangeWatchedFiles"
        ]
        assert bool(watched) == (capabilities == "visual-studio-code")

        # Edit and save: the model catches up with the database's VARCHAR(100).
        session.open(MODELS)
        text = (shop / MODELS).read_text()
        session.save(MODELS, text.replace("String(200)", "String(100)"))
        await session.wait_diagnostics(MODELS, lacks("modify_type"))

        # A new column in the models appears where it is written.
        text = (
            (shop / MODELS)
            .read_text()
            .replace(
                "    email: Mapped[str] = mapped_column(String(255), nullable=False)\n",
                "    email: Mapped[str] = mapped_column(String(255), nullable=False)\n"
                "    phone: Mapped[str | None] = mapped_column(String(30))\n",
            )
        )
        session.save(MODELS, text)
        await session.wait_diagnostics(MODELS, has("add_column", line_of(shop, "phone:")))

        # The database catches up: applying the missing DDL clears that diagnostic.
        with sqlite3.connect(shop / "shop.db") as conn:
            conn.execute("ALTER TABLE users ADD COLUMN phone VARCHAR(30)")
        await session.wait_diagnostics(MODELS, lacks("add_column", "phone"))

        # Someone alters the database from outside: a new diagnostic appears.
        with sqlite3.connect(shop / "shop.db") as conn:
            conn.execute("ALTER TABLE products ADD COLUMN legacy TEXT")
        after = await session.wait_diagnostics(
            MODELS, lambda ds: any((d.data or {}).get("name") == "legacy" for d in ds)
        )
        legacy = next(d for d in after if (d.data or {}).get("name") == "legacy")
        assert legacy.code == "remove_column"
        assert legacy.range.start.line == line_of(shop, "class Product")


async def test_a_broken_model_file_is_an_error_at_its_line_and_the_server_survives(
    shop: Path,
) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        await initial(session)
        good = (shop / MODELS).read_text()
        broken = good.replace(
            "class Review(TimestampMixin, Base):", "class Review(TimestampMixin, Base)"
        )
        session.save(MODELS, broken)
        diagnostics = await session.wait_diagnostics(MODELS, has("model-error"))
        error = next(d for d in diagnostics if d.code == "model-error")
        assert error.severity == types.DiagnosticSeverity.Error
        assert error.range.start.line == line_of(shop, "class Review")
        assert "SyntaxError" in error.message
        assert any("(stale: models failed to import)" in d.message for d in diagnostics)
        await session.wait_status(lambda s: s["state"] == "error")

        session.save(
            MODELS, good.replace("class Review", "raise RuntimeError('nope')\nclass Review")
        )
        diagnostics = await session.wait_diagnostics(
            MODELS, lambda ds: any("RuntimeError" in d.message for d in ds)
        )
        assert next(d for d in diagnostics if d.code == "model-error").range.start.line == line_of(
            shop, "raise RuntimeError"
        )

        session.save(MODELS, good)
        fixed = await session.wait_diagnostics(
            MODELS, lambda ds: has("add_table")(ds) and lacks("model-error")(ds)
        )
        assert not any("stale" in d.message for d in fixed)


async def test_an_endless_loop_in_the_models_is_stopped(shop: Path) -> None:
    settings = {**FAST, "importTimeout": 1}
    async with lsp_session(shop, settings=settings) as session:
        await initial(session)
        good = (shop / MODELS).read_text()
        session.save(MODELS, good.replace("class Base(", "while True:\n    pass\n\n\nclass Base("))
        diagnostics = await session.wait_diagnostics(MODELS, has("model-error"), timeout=30)
        error = next(d for d in diagnostics if d.code == "model-error")
        assert "did not finish within 1 s" in error.message
        assert error.range.start.line in (
            line_of(shop, "while True"),
            line_of(shop, "while True") + 1,
        )
        session.save(MODELS, good)
        await session.wait_diagnostics(MODELS, lacks("model-error"))


async def test_database_outage_marks_diagnostics_stale_then_recovers(shop: Path) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        before = await initial(session)
        moved = shop / "moved.db"
        shutil.move(shop / "shop.db", moved)
        stale = await session.wait_diagnostics(
            MODELS,
            lambda ds: bool(ds) and all("(stale: database missing)" in d.message for d in ds),
        )
        assert {(d.code, d.range.start.line) for d in stale} == {
            (d.code, d.range.start.line) for d in before
        }
        warnings = [m for m in session.client.messages if m.type == types.MessageType.Warning]
        assert len(warnings) == 1 and "does not exist" in warnings[0].message
        await session.wait_status(lambda s: s["state"] == "stale")
        shutil.move(moved, shop / "shop.db")
        await session.wait_diagnostics(
            MODELS, lambda ds: bool(ds) and not any("stale" in d.message for d in ds), timeout=30
        )
        warnings = [m for m in session.client.messages if m.type == types.MessageType.Warning]
        assert len(warnings) == 1, "shown once, not on every retry"


async def test_unreachable_database_then_the_config_is_fixed(shop: Path) -> None:
    bad = {**FAST, "databaseUrl": "postgresql+psycopg://someone:hunter2@127.0.0.1:1/shop"}
    async with lsp_session(shop, settings=bad) as session:
        status = await session.wait_status(lambda s: s["state"] == "unreachable", timeout=30)
        assert "127.0.0.1:1" in status["message"] and "hunter2" not in status["message"]
        shown = [m.message for m in session.client.messages]
        assert any("Cannot reach the database" in m for m in shown)
        logged = " ".join(m.message for m in session.client.log_messages)
        assert "hunter2" not in logged and "hunter2" not in " ".join(shown)

        session.client.set_configuration(FAST, section="schemaLsp")
        session.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"schemaLsp": FAST})
        )
        await initial(session)


async def test_config_error_is_one_clear_message(shop: Path) -> None:
    async with lsp_session(shop, settings={"checkInterval": "soon"}) as session:
        status = await session.wait_status(lambda s: s["state"] == "error")
        assert "check_interval" in status["message"] and "positive number" in status["message"]
        errors = [m for m in session.client.messages if m.type == types.MessageType.Error]
        assert len(errors) == 1 and "LSP settings" in errors[0].message


async def test_check_command_watched_files_and_progress(shop: Path) -> None:
    async with lsp_session(shop, settings={"checkInterval": 3600}) as session:
        await initial(session)
        result = await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="schemaLsp.check", arguments=[])
        )
        assert result["roots"] == [shop.as_uri()]
        count = len(session.statuses)
        await session.wait_status(lambda s: s["state"] == "connected", after=count)

        # A model file changed outside the editor (not open): the watcher event re-checks.
        slow = (
            (shop / MODELS)
            .read_text()
            .replace("class Base(", "import time\ntime.sleep(1.5)\n\n\nclass Base(")
            .replace("String(200)", "String(100)")
        )
        (shop / MODELS).write_text(slow)
        session.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[
                    types.FileEvent(uri=session.uri(MODELS), type=types.FileChangeType.Changed)
                ]
            )
        )
        await session.wait_diagnostics(MODELS, lacks("modify_type"), timeout=30)
        # The import took > 1 s: the client saw a progress report begin and end.
        kinds = [
            getattr(report, "kind", None)
            for reports in session.client.progress_reports.values()
            for report in reports
        ]
        assert "begin" in kinds and "end" in kinds


async def test_severity_from_pyproject(shop: Path) -> None:
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + 'check_interval = 3600\n\n[tool.schema-lsp.severity]\nadd_table = "error"\n'
    )
    async with lsp_session(shop) as session:
        diagnostics = await initial(session)
        by_code = {d.code: d.severity for d in diagnostics}
        assert by_code["add_table"] == types.DiagnosticSeverity.Error
        assert by_code["add_column"] == types.DiagnosticSeverity.Warning
