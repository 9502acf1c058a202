"""Property tests: arbitrary column definitions and column alterations render
exactly as Alembic renders them, on every dialect we support."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import api as alembic_api
from alembic.operations import ops as alembic_ops
from alembic.runtime.migration import MigrationContext as AlembicMigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import mysql, postgresql

from schema_lsp.autogenerate.render import render_python_code
from schema_lsp.operations import ops as our_ops
from schema_lsp.runtime.migration import MigrationContext

TYPES: list[Any] = [
    sa.Integer(),
    sa.BigInteger(),
    sa.String(30),
    sa.String(),
    sa.Text(),
    sa.Numeric(8, 3),
    sa.Boolean(),
    sa.DateTime(timezone=True),
    sa.Enum("x", "y", name="xy"),
    sa.JSON(),
    sa.ARRAY(sa.String(5)),
    postgresql.JSONB(),
    postgresql.ARRAY(sa.Integer()),
    postgresql.ENUM("p", "q", name="pq", create_type=False),
    postgresql.UUID(),
    mysql.TINYINT(display_width=1),
    mysql.VARCHAR(12, charset="latin1"),
    sa.Integer().with_variant(mysql.INTEGER(unsigned=True), "mysql"),
]

DEFAULTS: list[Any] = [
    None,
    "abc",
    "'quoted'",
    sa.text("0"),
    sa.text("now()"),
    sa.func.current_timestamp(),
    sa.FetchedValue(),
]

names = st.text(alphabet="abcdefgh_", min_size=1, max_size=8)
comments = st.none() | st.text(max_size=12)
dialects = st.sampled_from([None, "postgresql", "mysql", "sqlite"])


def _render_pair(ours: list[Any], theirs: list[Any], dialect: str | None, batch: bool) -> None:
    our_ctx = None if dialect is None else MigrationContext.configure(dialect_name=dialect)
    their_ctx = (
        None if dialect is None else AlembicMigrationContext.configure(dialect_name=dialect)
    )
    our_up = our_ops.UpgradeOps([our_ops.ModifyTableOps("t", ours, schema="s")])
    their_up = alembic_ops.UpgradeOps([alembic_ops.ModifyTableOps("t", theirs, schema="s")])
    for mine, reference in ((our_up, their_up), (our_up.reverse(), their_up.reverse())):
        expected = alembic_api.render_python_code(
            reference, render_as_batch=batch, migration_context=their_ctx
        )
        got = render_python_code(mine, render_as_batch=batch, migration_context=our_ctx)
        assert got == expected


@settings(max_examples=100, deadline=None)
@given(
    name=names,
    type_=st.sampled_from(TYPES),
    nullable=st.booleans(),
    default=st.sampled_from(DEFAULTS),
    comment=comments,
    autoincrement=st.sampled_from(["auto", True, False]),
    dialect=dialects,
    batch=st.booleans(),
)
def test_add_column_renders_like_alembic(
    name: str, type_: Any, nullable: bool, default: Any, comment: str | None,
    autoincrement: Any, dialect: str | None, batch: bool,
) -> None:
    column = sa.Column(
        name, type_, nullable=nullable, server_default=default, comment=comment,
        autoincrement=autoincrement,
    )
    _render_pair(
        [our_ops.AddColumnOp("t", column, schema="s")],
        [alembic_ops.AddColumnOp("t", column, schema="s")],
        dialect,
        batch,
    )



def _default_clause(value: Any) -> Any:
    if value is None or isinstance(value, sa.FetchedValue):
        return value
    return sa.DefaultClause(value)


@settings(max_examples=100, deadline=None)
@given(
    existing_type=st.none() | st.sampled_from(TYPES),
    modify_type=st.none() | st.sampled_from(TYPES),
    existing_nullable=st.none() | st.booleans(),
    modify_nullable=st.none() | st.booleans(),
    existing_default=st.sampled_from([False, *DEFAULTS]),
    modify_default=st.sampled_from([False, *DEFAULTS]),
    existing_comment=comments,
    modify_comment=st.just(False) | comments,
    dialect=dialects,
    batch=st.booleans(),
)
def test_alter_column_renders_like_alembic(
    existing_type: Any, modify_type: Any, existing_nullable: bool | None,
    modify_nullable: bool | None, existing_default: Any, modify_default: Any,
    existing_comment: str | None, modify_comment: Any, dialect: str | None, batch: bool,
) -> None:
    kw = {
        "existing_type": existing_type,
        "modify_type": modify_type,
        "existing_nullable": existing_nullable,
        "modify_nullable": modify_nullable,
        "existing_server_default": (
            existing_default if existing_default is False else _default_clause(existing_default)
        ),
        "modify_server_default": (
            modify_default if modify_default is False else _default_clause(modify_default)
        ),
        "existing_comment": existing_comment,
        "modify_comment": modify_comment,
    }
    ours = our_ops.AlterColumnOp("t", "c", schema="s", **kw)
    theirs = alembic_ops.AlterColumnOp("t", "c", schema="s", **kw)
    assert ours.has_changes() == theirs.has_changes()
    _render_pair([ours], [theirs], dialect, batch)
