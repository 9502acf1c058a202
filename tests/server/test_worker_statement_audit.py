"""The worker's statement audit: off unless asked, one whole line per statement."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from schema_lsp.server.worker.database import make_engine
from schema_lsp.server.worker.statement_audit import ENV, record


def test_unset_attaches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    db = tmp_path / "a.db"
    db.touch()
    engine = make_engine(f"sqlite:///{db}")
    try:
        assert not engine.dispatch.before_cursor_execute
    finally:
        engine.dispose()


def test_every_statement_of_the_engine_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = tmp_path / "audit.jsonl"
    monkeypatch.setenv(ENV, str(audit))
    db = tmp_path / "a.db"
    db.touch()
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            conn.exec_driver_sql("PRAGMA schema_version")
    finally:
        engine.dispose()
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    # The connect hook's read-only pragma is recorded too: it runs on a raw DBAPI cursor.
    statements = [e["statement"] for e in entries]
    assert statements == ["PRAGMA query_only = 1", "SELECT 1", "PRAGMA schema_version"]
    assert {e["pid"] for e in entries} == {os.getpid()}


def test_processes_writing_at_once_never_interleave_lines(tmp_path: Path) -> None:
    audit = str(tmp_path / "audit.jsonl")
    statement = "SELECT " + ", ".join(f"c{i}" for i in range(2000))  # ~15 kB per line
    pids = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's exit status is checked below
            try:
                for _ in range(50):
                    record(audit, statement)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    lines = Path(audit).read_text().splitlines()
    assert len(lines) == 200
    entries = [json.loads(line) for line in lines]
    assert {e["statement"] for e in entries} == {statement}
    assert {e["pid"] for e in entries} == set(pids)
