"""Rendered migrations run: the upgrade text, executed by Alembic's runtime on a
real database, produces a schema Alembic finds identical to the models; the
downgrade text removes it again; batch blocks run on every backend."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext as AlembicMigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate.render import render_python_code
from schema_lsp.operations import ops
from schema_lsp.runtime.migration import MigrationContext


def _models() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "author",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("email", sa.String(120), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.UniqueConstraint("email", name="uq_author_email"),
        sa.CheckConstraint("rank >= 0", name="ck_author_rank"),
    )
    sa.Table(
        "book",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.ForeignKey("author.id", name="fk_book_author"),
                  nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("price", sa.Numeric(10, 2)),
        sa.Index("ix_book_title", "title"),
        sa.Index("ix_book_title_author", "title", "author_id", unique=True),
    )
    return metadata


def _run(engine: Engine, code: str) -> None:
    """Execute rendered ``upgrade()``/``downgrade()`` body text with Alembic."""
    body = "\n".join(line[4:] if line.startswith("    ") else line
                     for line in code.splitlines())
    with engine.begin() as conn:
        op = Operations(AlembicMigrationContext.configure(conn))
        namespace: dict[str, Any] = {"op": op, "sa": sa, "postgresql": postgresql,
                                     "mysql": mysql}
        exec(compile(body, "<rendered migration>", "exec"), namespace)


def _context(engine: Engine) -> MigrationContext:
    return MigrationContext.configure(dialect_name=engine.dialect.name)


def _alembic_diffs(engine: Engine, metadata: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = AlembicMigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_then_downgrade_round_trip(engine: Engine) -> None:
    metadata = _models()
    upgrade = ops.UpgradeOps(
        [ops.CreateTableOp.from_table(t) for t in metadata.sorted_tables]
        + [ops.CreateIndexOp.from_index(i)
           for t in metadata.sorted_tables for i in sorted(t.indexes, key=lambda i: str(i.name))]
    )
    downgrade = upgrade.reverse()
    ctx = _context(engine)

    _run(engine, render_python_code(upgrade, migration_context=ctx))
    assert set(sa.inspect(engine).get_table_names()) == {"author", "book"}
    assert _alembic_diffs(engine, metadata) == []

    _run(engine, render_python_code(downgrade, migration_context=ctx))
    assert sa.inspect(engine).get_table_names() == []


def test_batch_block_runs(engine: Engine) -> None:
    metadata = _models()
    author = metadata.tables["author"]
    ctx = _context(engine)
    create = ops.UpgradeOps([ops.CreateTableOp.from_table(author)])
    _run(engine, render_python_code(create, migration_context=ctx))

    new_column = sa.Column("bio", sa.Text(), nullable=True)
    change = ops.UpgradeOps(
        [
            ops.ModifyTableOps(
                "author",
                [
                    ops.AddColumnOp("author", new_column),
                    ops.AlterColumnOp("author", "name", existing_type=sa.String(80),
                                      modify_nullable=True, existing_nullable=False),
                    ops.CreateIndexOp("ix_author_name", "author", ["name"]),
                ],
            )
        ]
    )
    _run(engine, render_python_code(change, render_as_batch=True, migration_context=ctx))
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("author")}
    assert "bio" in columns
    assert columns["name"]["nullable"] is True
    assert "ix_author_name" in {i["name"] for i in inspector.get_indexes("author")}

    _run(engine, render_python_code(change.reverse(), render_as_batch=True,
                                    migration_context=ctx))
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns("author")}
    assert "bio" not in columns
    assert columns["name"]["nullable"] is False
    assert "ix_author_name" not in {i["name"] for i in inspector.get_indexes("author")}
