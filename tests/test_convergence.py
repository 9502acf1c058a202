"""Generated migrations are proven by running them.

For each scenario: create the "before" schema, compare it with the "after" models, render
the upgrade (batch mode on SQLite, as SQLite needs) and execute it with Alembic's real
``op`` runtime; comparing again must report nothing. Then the rendered downgrade must bring
back the "before" schema, again with nothing to report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext as AlembicMigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import compare_metadata, produce_migrations, render_python_code
from schema_lsp.runtime.migration import MigrationContext
from tests.autogenerate.differential import build_database

Builder = Callable[[sa.MetaData], None]


def _users(md: sa.MetaData, *extra: Any, **kw: Any) -> sa.Table:
    return sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True), *extra, **kw)


@dataclass(frozen=True)
class Scenario:
    name: str
    before: Builder
    after: Builder
    backends: tuple[str, ...] = ("sqlite", "postgresql", "mariadb")
    opts: tuple[tuple[str, Any], ...] = ()


SCENARIOS = [
    Scenario(
        "add-table-with-fk",
        lambda md: _users(md),
        lambda md: (
            _users(md),
            sa.Table(
                "orders",
                md,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), index=True),
            ),
        ),
    ),
    Scenario(
        "remove-table",
        lambda md: (
            _users(md),
            sa.Table("legacy", md, sa.Column("id", sa.Integer, primary_key=True)),
        ),
        lambda md: _users(md),
    ),
    Scenario(
        "add-and-drop-columns",
        lambda md: _users(md, sa.Column("fax", sa.String(20))),
        lambda md: _users(md, sa.Column("email", sa.String(100), nullable=True)),
    ),
    Scenario(
        "add-not-null-column-with-default",
        lambda md: _users(md),
        lambda md: _users(
            md, sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true())
        ),
        opts=(("compare_server_default", True),),
    ),
    Scenario(
        "widen-string",
        lambda md: _users(md, sa.Column("email", sa.String(50))),
        lambda md: _users(md, sa.Column("email", sa.String(200))),
    ),
    Scenario(
        "integer-to-bigint",
        lambda md: _users(md, sa.Column("score", sa.Integer)),
        lambda md: _users(md, sa.Column("score", sa.BigInteger)),
    ),
    Scenario(
        "nullable-to-not-null",
        lambda md: _users(md, sa.Column("name", sa.String(50), nullable=True)),
        lambda md: _users(md, sa.Column("name", sa.String(50), nullable=False)),
    ),
    Scenario(
        "server-default-change",
        lambda md: _users(md, sa.Column("status", sa.String(10), server_default="new")),
        lambda md: _users(md, sa.Column("status", sa.String(10), server_default="active")),
        opts=(("compare_server_default", True),),
    ),
    Scenario(
        "column-comment",
        lambda md: _users(md, sa.Column("name", sa.String(50))),
        lambda md: _users(md, sa.Column("name", sa.String(50), comment="display name")),
        backends=("postgresql", "mariadb"),
    ),
    Scenario(
        "table-comment",
        lambda md: _users(md),
        lambda md: _users(md, comment="people"),
        backends=("postgresql", "mariadb"),
    ),
    Scenario(
        "add-index",
        lambda md: _users(md, sa.Column("email", sa.String(100))),
        lambda md: _users(
            md, sa.Column("email", sa.String(100)), sa.Index("ix_users_email", "email")
        ),
    ),
    Scenario(
        "drop-multi-column-index",
        lambda md: _users(
            md,
            sa.Column("a", sa.Integer),
            sa.Column("b", sa.Integer),
            sa.Index("ix_users_ab", "a", "b"),
        ),
        lambda md: _users(md, sa.Column("a", sa.Integer), sa.Column("b", sa.Integer)),
    ),
    Scenario(
        "add-unique-constraint",
        lambda md: _users(md, sa.Column("email", sa.String(100))),
        lambda md: _users(
            md,
            sa.Column("email", sa.String(100)),
            sa.UniqueConstraint("email", name="uq_users_email"),
        ),
    ),
    Scenario(
        "add-foreign-key",
        lambda md: (
            _users(md),
            sa.Table(
                "posts",
                md,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("user_id", sa.Integer),
            ),
        ),
        lambda md: (
            _users(md),
            sa.Table(
                "posts",
                md,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "user_id",
                    sa.Integer,
                    sa.ForeignKey("users.id", name="fk_posts_user", ondelete="CASCADE"),
                ),
            ),
        ),
    ),
]


def _posts(md: sa.MetaData, *extra: Any) -> sa.Table:
    return sa.Table(
        "posts",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer),
        *extra,
    )


# MySQL's foreign-key indexes: a key over an indexed column reuses that index (the downgrade
# must keep it), one over a bare column gets an index of its own (the downgrade drops it).
SCENARIOS.append(
    Scenario(
        "add-foreign-key-over-existing-index",
        lambda md: (_users(md), _posts(md, sa.Index("ix_posts_user_id", "user_id"))),
        lambda md: (
            _users(md),
            _posts(
                md,
                sa.Index("ix_posts_user_id", "user_id"),
                sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_posts_user"),
            ),
        ),
        backends=("postgresql", "mariadb"),
    )
)


def _execute(engine: Engine, code: str) -> None:
    """Run rendered ``upgrade()``/``downgrade()`` body text with Alembic's runtime."""
    body = "\n".join(line[4:] if line.startswith("    ") else line for line in code.splitlines())
    with engine.begin() as conn:
        op = Operations(AlembicMigrationContext.configure(conn))
        namespace: dict[str, Any] = {
            "op": op,
            "sa": sa,
            "postgresql": postgresql,
            "mysql": mysql,
            "sqlite": sqlite,
        }
        exec(compile(body, "<rendered migration>", "exec"), namespace)


def _drift(engine: Engine, metadata: sa.MetaData, opts: dict[str, Any]) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), metadata))


CASES = [(backend, s) for s in SCENARIOS for backend in s.backends]


@pytest.mark.parametrize(
    "backend,scenario",
    CASES,
    ids=[f"{backend}-{s.name}" for backend, s in CASES],
    indirect=["backend"],
)
def test_upgrade_converges_and_downgrade_restores(
    engine: Engine, backend: str, scenario: Scenario
) -> None:
    before, after = sa.MetaData(), sa.MetaData()
    scenario.before(before)
    scenario.after(after)
    opts = {"compare_type": True, **dict(scenario.opts)}
    build_database(engine, before)
    assert _drift(engine, before, opts) == [], "the starting schema must compare clean"

    batch = backend == "sqlite"
    with engine.connect() as conn:
        script = produce_migrations(MigrationContext.configure(conn, opts=opts), after)
        context = MigrationContext.configure(conn, opts=opts)
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    assert not script.upgrade_ops.is_empty(), "the scenario must drift"
    upgrade = render_python_code(
        script.upgrade_ops, render_as_batch=batch, migration_context=context
    )
    downgrade = render_python_code(
        script.downgrade_ops, render_as_batch=batch, migration_context=context
    )

    _execute(engine, upgrade)
    assert _drift(engine, after, opts) == [], upgrade
    _execute(engine, downgrade)
    assert _drift(engine, before, opts) == [], downgrade
