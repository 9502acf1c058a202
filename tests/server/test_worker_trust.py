"""Trusting tables by source block: what an edit can have touched, and the check after.

After a one-table edit the child trusts every table whose defining block ran the same text
as in the last check (``origins``): it neither signs nor describes them before answering.
It verifies them after answering, and a table that changed anyway (it read a file, say)
makes the worker ask for a check that trusts nothing.
"""

from __future__ import annotations

import asyncio
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schema_lsp.reflect import reflect_schema
from schema_lsp.server.worker.client import WorkerClient
from schema_lsp.server.worker.compiled import BlockCompiler
from schema_lsp.server.worker.origins import BlockOrigins
from schema_lsp.server.worker.protocol import OK
from schema_lsp.server.worker.reuse import compare_with_reuse
from schema_lsp.server.worker.table_cache import Entries
from tests.trusted_models import JSON_MODELS, two_table_project

OPTS = {"compare_type": True, "compare_server_default": True}

MODELS = """\
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

LENGTH = {length}
metadata = MetaData()

a = Table("a", metadata, Column("id", Integer, primary_key=True), Column("s", String({a})))

b = Table("b", metadata, Column("id", Integer, primary_key=True), Column("s", String(LENGTH)))

c = Table("c", metadata, Column("id", Integer, primary_key=True), Column("r", ForeignKey("a.id")))

d = Table("d", metadata, Column("id", Integer, primary_key=True))
"""


class Importer:
    """Imports a model source block by block, as the child does, one origins per import."""

    def __init__(self) -> None:
        self.compiler = BlockCompiler()
        self.known: list[int] = []

    def run(self, source: str) -> tuple[BlockOrigins, sa.MetaData]:
        origins = BlockOrigins(self.known)
        origins.install()
        module = types.ModuleType("trust_models")
        try:
            for key, code in self.compiler.compile_keyed("trust_models.py", source.encode()):
                origins.run("trust_models.py", key, code, module.__dict__)
        finally:
            sa.event.remove(sa.Table, "after_parent_attach", origins._attached)
        self.known = origins.executed
        return origins, module.__dict__["metadata"]


def trusted_names(origins: BlockOrigins, metadata: sa.MetaData) -> set[str]:
    ids = origins.trusted([metadata])
    return {t.name for t in metadata.tables.values() if id(t) in ids}


def test_an_edited_table_block_leaves_every_other_table_trusted_but_its_key_neighbours() -> None:
    importer = Importer()
    first, metadata = importer.run(MODELS.format(length=10, a=20))
    assert trusted_names(first, metadata) == set(), "a first import trusts nothing"
    edited, metadata = importer.run(MODELS.format(length=10, a=30))
    # "c" refers to "a" by a foreign key: its key's type and target come from "a".
    assert trusted_names(edited, metadata) == {"b", "d"}
    same, metadata = importer.run(MODELS.format(length=10, a=30))
    assert trusted_names(same, metadata) == {"a", "b", "c", "d"}


def test_a_changed_block_that_defines_no_table_withdraws_all_trust() -> None:
    importer = Importer()
    importer.run(MODELS.format(length=10, a=20))
    importer.run(MODELS.format(length=10, a=20))
    edited, metadata = importer.run(MODELS.format(length=11, a=20))
    assert edited.untrusting and trusted_names(edited, metadata) == set()


def test_tables_defined_outside_the_blocks_are_never_trusted() -> None:
    origins = BlockOrigins([])
    origins.install()
    try:
        metadata = sa.MetaData()
        sa.Table("outside", metadata, sa.Column("id", sa.Integer, primary_key=True))
    finally:
        sa.event.remove(sa.Table, "after_parent_attach", origins._attached)
    assert origins.trusted([metadata]) == frozenset()


def test_a_file_that_cannot_be_split_is_trusted_only_while_unchanged() -> None:
    # A bare string after the first block would become the docstring if run alone.
    source = MODELS.format(length=10, a=20) + '\n"""not a docstring"""\n'
    importer = Importer()
    importer.run(source)
    again, metadata = importer.run(source)
    assert trusted_names(again, metadata) == {"a", "b", "c", "d"}
    edited, metadata = importer.run(source.replace("String(20)", "String(21)"))
    assert edited.untrusting and trusted_names(edited, metadata) == set()


@pytest.fixture
def reflected(tmp_path: Path) -> tuple[Any, Any]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    _, metadata = Importer().run(MODELS.format(length=10, a=20))
    metadata.create_all(engine)
    with engine.connect() as conn:
        schema = reflect_schema(conn, schemas=(None,), with_fingerprint=False)
    return schema, engine.dialect


def test_a_wrongly_trusted_table_is_found_after_answering(reflected: tuple[Any, Any]) -> None:
    schema, dialect = reflected
    importer = Importer()
    _, first_models = importer.run(MODELS.format(length=10, a=20))
    first = compare_with_reuse(
        schema, [first_models], dialect=dialect, opts=OPTS, previous=Entries({}, {})
    )
    assert first.drifts == []
    # "b" reads LENGTH, but pretend only "a"'s block ran anew: "b" is trusted wrongly.
    edited = Importer()
    edited.known = importer.known
    _, models = edited.run(MODELS.format(length=10, a=30))
    models.tables["b"].c.s.type = sa.String(99)
    trusted = frozenset(id(t) for t in models.tables.values() if t.name in {"b", "d"})
    again = compare_with_reuse(
        schema, [models], dialect=dialect, opts=OPTS, previous=first.entries, trusted=trusted
    )
    assert set(again.trusted) == {(None, "b"), (None, "d")}
    assert [d["table"] for d in again.drifts] == ["a"], "the answer trusted b"
    assert again.mistrusted() == [(None, "b")]


def check_fields(root: Path, models: str, **extra: Any) -> dict[str, Any]:
    """What the server sends the worker for a check of ``root``'s SQLite database."""
    url = f"sqlite:///{root / 'app.db'}"
    return {"root": str(root), "models": [models], "database_url": url, "opts": OPTS, **extra}


async def test_a_table_that_changed_without_its_source_is_checked_again(tmp_path: Path) -> None:
    root = two_table_project(tmp_path)
    notices: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    worker = WorkerClient(sys.executable, root, on_stale=notices.put_nowait)
    fields = check_fields(root, "models:metadata", models_changed=True)

    def kinds(result: Any) -> list[tuple[str, str]]:
        return sorted((d["kind"], d["table"]) for d in result.drifts)

    try:
        (root / "b.json").write_text('{"length": 10}')
        for length in (10, 20, 10):  # three imports: the third trusts by block
            (root / "models.py").write_text(JSON_MODELS.format(a=length))
            result = await worker.check(**fields)
            assert result.status == OK
        assert result.timings["tables_trusted"] == 1 and kinds(result) == []
        assert notices.empty()

        (root / "b.json").write_text('{"length": 40}')  # b changes; its source does not
        (root / "models.py").write_text(JSON_MODELS.format(a=20))
        trusting = await worker.check(**fields)
        assert trusting.timings["tables_trusted"] == 1
        assert kinds(trusting) == [("modify_type", "a")], "b was trusted, wrongly"
        notice = await asyncio.wait_for(notices.get(), 30)
        assert notice["tables"] == 1

        exact = await worker.check(**fields)
        assert exact.timings["tables_trusted"] == 0
        assert kinds(exact) == [("modify_type", "a"), ("modify_type", "b")]
        again = await worker.check(**fields)
        assert again.timings["tables_trusted"] == 2 and kinds(again) == kinds(exact), again.timings
        assert notices.empty()
    finally:
        await worker.stop()


DYNAMIC_MODELS = """\
import json
import pathlib

from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class A(Base):
    __tablename__ = "a"
    id = Column(Integer, primary_key=True)
    s = Column(String({a}))


B = type(
    json.loads(pathlib.Path("b.json").read_text())["class"],
    (Base,),
    {{"__tablename__": "b", "id": Column(Integer, primary_key=True), "s": Column(String(10))}},
)
"""


async def test_a_hint_that_changed_without_its_source_is_sent_again(tmp_path: Path) -> None:
    """The table is the same, but the class that maps it has another name: only the hint
    (where the server points) moved, and the check after the notice sends it."""
    root = two_table_project(tmp_path)
    notices: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    worker = WorkerClient(sys.executable, root, on_stale=notices.put_nowait)
    fields = check_fields(root, "models:Base", models_changed=True)

    def mapped(result: Any, table: str) -> str:
        hint = next(h for h in result.hints if h["name"] == table)
        return str(hint["mapped_class"]["name"])

    try:
        (root / "b.json").write_text('{"class": "First"}')
        for length in (10, 20, 10):
            (root / "models.py").write_text(DYNAMIC_MODELS.format(a=length))
            result = await worker.check(**fields)
            assert result.status == OK
        assert result.timings["tables_trusted"] == 1 and mapped(result, "b") == "First"

        (root / "b.json").write_text('{"class": "Second"}')
        (root / "models.py").write_text(DYNAMIC_MODELS.format(a=20))
        trusting = await worker.check(**fields)
        assert mapped(trusting, "b") == "First", "b's hint was trusted, wrongly"
        notice = await asyncio.wait_for(notices.get(), 30)
        assert notice == {"op": "stale", "tables": 0, "hints": True}

        exact = await worker.check(**fields)
        assert exact.timings["tables_trusted"] == 0 and mapped(exact, "b") == "Second"
        assert [d["kind"] for d in exact.drifts] == ["modify_type"]
    finally:
        await worker.stop()


SLOW_MODELS = """\
import pathlib
import time

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.types import TypeDecorator


class Waits:
    \"\"\"Its repr (read when b's signature is taken) waits while ./slow exists.\"\"\"

    def __repr__(self):
        deadline = time.monotonic() + 30
        while pathlib.Path("slow").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "Waits()"


class Slow(TypeDecorator):
    impl = String(10)
    cache_ok = True

    def __init__(self):
        super().__init__()
        self.waits = Waits()


metadata = MetaData()

a = Table("a", metadata, Column("id", Integer, primary_key=True), Column("s", String({a})))

b = Table("b", metadata, Column("id", Integer, primary_key=True), Column("s", Slow()))
"""


async def test_nothing_changed_is_no_answer_while_trusted_tables_are_unverified(
    tmp_path: Path,
) -> None:
    """A request that stops the child verifying what it trusted: the next timer check
    cannot say "unchanged" (that would keep an unverified answer); it checks again."""
    root = two_table_project(tmp_path)
    worker = WorkerClient(sys.executable, root)
    fields = check_fields(root, "models:metadata")
    try:
        for length in (10, 20):
            (root / "models.py").write_text(SLOW_MODELS.format(a=length))
            assert (await worker.check(**fields, models_changed=True)).status == OK
        timer = await worker.check(**fields, models_changed=False)
        assert timer.status == "unchanged", "verified (nothing trusted): unchanged"

        (root / "slow").write_text("")  # from now on, verifying b takes until it is removed
        (root / "models.py").write_text(SLOW_MODELS.format(a=10))
        trusting = await worker.check(**fields, models_changed=True)
        assert trusting.status == OK and trusting.timings["tables_trusted"] == 1
        timer = await worker.check(**fields, models_changed=False)  # stops the verification
        assert timer.status == OK and timer.timings["tables_trusted"] == 2
    finally:
        (root / "slow").unlink(missing_ok=True)
        await worker.stop()
