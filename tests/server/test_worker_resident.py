"""The resident child: the next edit answered from its changed blocks, then verified.

A child whose answer held stays alive with the models imported (``worker/resident.py``);
the worker says so (``WorkerClient.resident``). The next check runs only the blocks the
edit changed, answers, and a fresh full import verifies the answer after it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from schema_lsp.server.worker.client import WorkerClient
from schema_lsp.server.worker.protocol import MODEL_ERROR, OK
from tests.trusted_models import JSON_MODELS, two_table_project

OPTS = {"compare_type": True, "compare_server_default": True}

DECLARATIVE = """\
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class A(Base):
    __tablename__ = "a"
    id = Column(Integer, primary_key=True)
    s = Column(String({a}))
    bs = relationship("B", back_populates="a")


class B(Base):
    __tablename__ = "b"
    id = Column(Integer, primary_key=True)
    s = Column(String(10))
    a_id = Column(ForeignKey("a.id"))
    a = relationship("A", back_populates="bs")
{extra}"""

TABLE_C = """

class C(Base):
    __tablename__ = "c"
    id = Column(Integer, primary_key=True)
"""


def fields(root: Path, models: str) -> dict[str, Any]:
    url = f"sqlite:///{root / 'app.db'}"
    return {"root": str(root), "models": [models], "database_url": url, "opts": OPTS}


def kinds(result: Any) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["table"]) for d in result.drifts)


def project(tmp_path: Path) -> Path:
    root = two_table_project(tmp_path)
    with sqlite3.connect(root / "app.db") as conn:
        conn.execute("ALTER TABLE b ADD COLUMN a_id INTEGER REFERENCES a (id)")
    return root


async def resident_after(
    worker: WorkerClient, root: Path, a: int, extra: str = "", wait: bool = True
) -> Any:
    """Check models with ``a.s`` of length ``a`` and wait until the worker keeps them
    (the first check cannot: the worker compiles the model files only after it)."""
    (root / "models.py").write_text(DECLARATIVE.format(a=a, extra=extra))
    result = await worker.check(**fields(root, "models:Base"))
    assert result.status == OK, result
    if wait:
        await asyncio.wait_for(worker.resident.wait(), 30)
    return result


async def fresh_check(root: Path) -> Any:
    """The same check by a new worker (a full import, nothing reused)."""
    worker = WorkerClient(sys.executable, root)
    try:
        return await worker.check(**fields(root, "models:Base"))
    finally:
        await worker.stop()


async def test_an_edit_is_answered_from_its_blocks_and_verified(tmp_path: Path) -> None:
    root = project(tmp_path)
    notices: list[dict[str, Any]] = []
    worker = WorkerClient(sys.executable, root, on_stale=notices.append)
    try:
        await resident_after(worker, root, 10, wait=False)
        await resident_after(worker, root, 10)
        for length in (20, 30, 10):
            result = await resident_after(worker, root, length)  # waits for the verifier
            assert result.timings.get("speculative") == 1, result.timings
            assert result.timings["tables_trusted"] == 0  # b refers to a: never trusted
            fresh = await fresh_check(root)
            assert kinds(result) == kinds(fresh)
            assert result.hints == fresh.hints, "the hints follow the full import's order"
        assert notices == []
    finally:
        await worker.stop()


async def test_adding_a_table_matches_a_full_import(tmp_path: Path) -> None:
    """Answered from the blocks when the new class pairs with a changed one, afresh when
    it does not: either way as a full import answers, and the answer holds."""
    root = project(tmp_path)
    notices: list[dict[str, Any]] = []
    worker = WorkerClient(sys.executable, root, on_stale=notices.append)
    try:
        await resident_after(worker, root, 10, wait=False)
        await resident_after(worker, root, 20)
        result = await resident_after(worker, root, 20, extra=TABLE_C)
        assert ("add_table", "c") in kinds(result)
        fresh = await fresh_check(root)
        assert kinds(result) == kinds(fresh) and result.hints == fresh.hints
        assert result.timings.get("speculative") == 1, "b and c replace b"
        await asyncio.wait_for(worker.resident.wait(), 30)

        imports = DECLARATIVE.format(a=20, extra=TABLE_C).replace("String\n", "String, Text\n")
        (root / "models.py").write_text(imports)
        result = await worker.check(**fields(root, "models:Base"))
        assert result.timings.get("speculation_declined") == 1, "a block with no table changed"
        assert kinds(result) == kinds(await fresh_check(root))
        assert notices == []
    finally:
        await worker.stop()


@pytest.mark.parametrize(
    ("statement", "kind"),
    [("oops = 1 / 0", "exception"), ("while True: pass", "timeout")],
    ids=["raises", "loops"],
)
async def test_a_changed_block_that_fails_is_reported_by_a_fresh_import(
    tmp_path: Path, statement: str, kind: str
) -> None:
    """The resident declines (a loop: after its two seconds); the fresh child reports."""
    root = project(tmp_path)
    worker = WorkerClient(sys.executable, root)
    try:
        await resident_after(worker, root, 10, wait=False)
        await resident_after(worker, root, 10)
        source = DECLARATIVE.format(a=10, extra="").replace(
            '    __tablename__ = "b"', f'    __tablename__ = "b"\n    {statement}'
        )
        (root / "models.py").write_text(source)
        result = await worker.check(**fields(root, "models:Base"), import_timeout=1.0)
        assert result.status == MODEL_ERROR
        assert result.timings.get("speculation_declined") == 1
        failure = result.model_failure
        assert failure is not None and failure.kind == kind, failure
        assert failure.line == source.splitlines().index(f"    {statement}") + 1
    finally:
        await worker.stop()


async def test_a_wrong_answer_from_the_blocks_is_caught_and_checked_again(
    tmp_path: Path,
) -> None:
    root = two_table_project(tmp_path)
    notices: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    worker = WorkerClient(sys.executable, root, on_stale=notices.put_nowait)
    check = fields(root, "models:metadata")
    try:
        (root / "b.json").write_text('{"length": 10}')
        for length in (10, 20):
            (root / "models.py").write_text(JSON_MODELS.format(a=length))
            assert (await worker.check(**check)).status == OK
        await asyncio.wait_for(worker.resident.wait(), 30)

        (root / "b.json").write_text('{"length": 40}')  # b changes; its block does not
        (root / "models.py").write_text(JSON_MODELS.format(a=30))
        speculative = await worker.check(**check)
        assert speculative.timings.get("speculative") == 1
        assert kinds(speculative) == [("modify_type", "a")], "b was taken as it was"
        notice = await asyncio.wait_for(notices.get(), 30)
        assert notice["op"] == "stale"

        exact = await worker.check(**check)
        assert "speculative" not in exact.timings
        assert kinds(exact) == [("modify_type", "a"), ("modify_type", "b")]
    finally:
        await worker.stop()
