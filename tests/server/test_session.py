"""What the user sees for each kind of check result (no worker, no server)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from schema_lsp.server.config import resolve_config
from schema_lsp.server.session import RootSession
from schema_lsp.server.worker.protocol import (
    DB_ERROR,
    MODEL_ERROR,
    OK,
    UNCHANGED,
    CheckResult,
    DbFailure,
    ModelFailure,
)

MODELS = """\
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100))
"""


class FakeClient:
    def __init__(self) -> None:
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.publish_count = 0
        self.statuses: list[dict[str, Any]] = []
        self.shown: list[tuple[types.MessageType, str]] = []

    def publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        self.publish_count += 1
        self.published[uri] = diagnostics

    def status(self, params: dict[str, Any]) -> None:
        self.statuses.append(params)

    def show(self, kind: types.MessageType, message: str) -> None:
        self.shown.append((kind, message))

    def progress(self, title: str) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[RootSession, FakeClient, Path]:
    models = tmp_path / "models.py"
    models.write_text(MODELS)
    config = resolve_config(
        tmp_path,
        {
            "models": ["models:Base"],
            "databaseUrl": "postgresql://u:pw@h/db",
            "severity": {"add_column": "error"},
        },
        env={},
    )
    client = FakeClient()
    session = RootSession(config, client)
    session.model_files = {str(models)}
    return session, client, models


def drift(kind: str, name: str | None, message: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "schema": None,
        "table": "users",
        "name": name,
        "columns": [name] if name else [],
        "message": message,
    }


def ok(*drifts: dict[str, Any]) -> CheckResult:
    return CheckResult(id=1, status=OK, drifts=list(drifts))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines()) if needle in line)


def test_drifts_become_diagnostics_on_the_defining_lines(setup: Any) -> None:
    session, client, models = setup
    session.apply(
        ok(
            drift("add_column", "email", "users.email: column is in the models only"),
            drift("remove_table", None, "a table only the database has"),
        )
    )
    diagnostics = client.published[models.as_uri()]
    (email,) = [d for d in diagnostics if d.code == "add_column"]
    assert email.source == "schema-lsp"
    assert email.range.start.line == line_of(models, "email:")
    assert email.severity == types.DiagnosticSeverity.Error  # from the severity setting
    assert email.data["kind"] == "add_column" and email.data["name"] == "email"
    assert client.statuses[-1]["state"] == "connected" and client.statuses[-1]["driftCount"] == 2


def test_database_trouble_is_shown_once_and_marks_diagnostics_stale(setup: Any) -> None:
    session, client, models = setup
    session.apply(ok(drift("add_column", "email", "email differs")))
    failure = DbFailure("unreachable", "Cannot reach the database at postgresql://u:***@h/db")
    for _ in range(3):
        session.apply(CheckResult(id=2, status=DB_ERROR, db_failure=failure))
    warnings = [m for m in client.shown if m[0] == types.MessageType.Warning]
    assert len(warnings) == 1 and "pw" not in warnings[0][1].replace("pw@", "")
    (stale,) = client.published[models.as_uri()]
    assert stale.message == "email differs (stale: database unreachable)"
    assert client.statuses[-1]["state"] == "stale"
    assert session.retry_delay == 4.0  # backoff doubles: 1, 2, 4
    session.apply(ok(drift("add_column", "email", "email differs")))
    (fresh,) = client.published[models.as_uri()]
    assert fresh.message == "email differs"
    assert session.retry_delay == 0.0 and client.statuses[-1]["state"] == "connected"


def test_model_failure_is_an_error_at_its_line_and_clears_when_fixed(setup: Any) -> None:
    session, client, models = setup
    session.apply(ok(drift("add_column", "email", "email differs")))
    failure = ModelFailure(kind="exception", message="NameError: x", path=str(models), line=5)
    session.apply(CheckResult(id=2, status=MODEL_ERROR, model_failure=failure))
    diagnostics = client.published[models.as_uri()]
    error = next(d for d in diagnostics if d.code == "model-error")
    assert error.severity == types.DiagnosticSeverity.Error and error.range.start.line == 4
    assert "NameError: x" in error.message
    assert any(d.message.endswith("(stale: models failed to import)") for d in diagnostics)
    assert client.statuses[-1]["state"] == "error"
    session.apply(ok())
    assert client.published[models.as_uri()] == []
    assert client.statuses[-1]["driftCount"] == 0


def test_unchanged_results_are_not_republished(setup: Any) -> None:
    session, client, _ = setup
    session.apply(ok(drift("add_column", "email", "email differs")))
    count = client.publish_count
    session.apply(ok(drift("add_column", "email", "email differs")))
    assert client.publish_count == count


def test_the_status_stays_error_while_the_worker_says_the_failure_is_unchanged(
    setup: Any,
) -> None:
    session, client, models = setup
    session.apply(ok(drift("add_column", "email", "email differs")))
    failure = ModelFailure(kind="exception", message="NameError: x", path=str(models), line=5)
    session.apply(CheckResult(id=2, status=MODEL_ERROR, model_failure=failure))
    for n in range(3):
        session.apply(CheckResult(id=3 + n, status=UNCHANGED))
    states = [s["state"] for s in client.statuses]
    assert states == ["connected", "error", "error", "error", "error"]
    assert "NameError: x" in client.statuses[-1]["message"]
    session.apply(ok())
    session.apply(CheckResult(id=9, status=UNCHANGED))
    assert client.statuses[-1]["state"] == "connected"


def test_stale_diagnostics_are_kept_inside_a_file_that_got_shorter(setup: Any) -> None:
    session, client, models = setup
    session.apply(
        ok(
            drift("add_column", "email", "email differs"),
            drift("add_column", "id", "id differs"),
        )
    )
    email_line = line_of(models, "email:")
    id_line = line_of(models, "id:")
    assert id_line < email_line
    # The email line is gone; the id line is now a short comment.
    models.write_text("\n".join(MODELS.splitlines()[: email_line - 1]) + "\n  # é")
    assert line_of(models, "# é") == id_line
    failure = ModelFailure(kind="syntax", message="SyntaxError", path=str(models), line=1)
    session.apply(CheckResult(id=2, status=MODEL_ERROR, model_failure=failure))
    lines = models.read_text().split("\n")
    diagnostics = client.published[models.as_uri()]
    stale = [d for d in diagnostics if "stale" in d.message]
    assert [d.message for d in stale] == ["id differs (stale: models failed to import)"]
    for d in diagnostics:
        for pos in (d.range.start, d.range.end):
            assert pos.line < len(lines) and pos.character <= len(lines[pos.line])
    models.unlink()
    session.apply(CheckResult(id=3, status=DB_ERROR, db_failure=DbFailure("timeout", "slow")))
    assert client.published[models.as_uri()] == []


async def test_a_cancelled_check_leaves_its_pending_client_request_answerable() -> None:
    """pygls sets the client's late answer on the request's future: had the cancellation
    of a superseded check reached that future, pygls would fail ("Error in server:
    CANCELLED") and show it to the user."""
    from schema_lsp.server.server import client_request

    answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(client_request(answer))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not answer.cancelled()
    answer.set_result("late answer")  # what pygls does when the client answers
    assert await answer == "late answer"
