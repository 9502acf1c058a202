"""Drift records: one per difference, in words, with what applying it would lose."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from schema_lsp.autogenerate.drift import Drift, drift_records
from schema_lsp.operations import ops


def _table(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(255), nullable=False),
    )


def test_records_for_every_kind_of_op() -> None:
    md = sa.MetaData()
    users = _table(md)
    index = sa.Index("ix_users_email", users.c.email)
    upgrade = ops.UpgradeOps(
        [
            ops.CreateTableOp.from_table(users),
            ops.DropTableOp.from_table(
                sa.Table("legacy", sa.MetaData(), sa.Column("id", sa.Integer))
            ),
            ops.ModifyTableOps(
                "users",
                [
                    ops.AddColumnOp("users", sa.Column("verified", sa.Boolean, nullable=False)),
                    ops.DropColumnOp(
                        "users",
                        "fax",
                        _reverse=ops.AddColumnOp("users", sa.Column("fax", sa.String(20))),
                    ),
                    ops.AlterColumnOp(
                        "users",
                        "email",
                        existing_type=sa.String(100),
                        modify_type=sa.String(255),
                        existing_nullable=True,
                        modify_nullable=False,
                    ),
                    ops.CreateIndexOp.from_index(index),
                ],
            ),
        ]
    )
    records = drift_records(upgrade, postgresql.dialect())
    kinds = [r.kind for r in records]
    assert kinds == [
        "add_table",
        "remove_table",
        "add_column",
        "remove_column",
        "modify_type",
        "modify_nullable",
        "add_index",
    ]
    by_kind = {r.kind: r for r in records}
    assert by_kind["modify_type"].message == (
        "users.email: model says VARCHAR(255), database has VARCHAR(100)"
    )
    assert by_kind["modify_type"].attribute == "type"
    assert (
        by_kind["modify_nullable"].message == "users.email: model says NOT NULL, database has NULL"
    )
    assert by_kind["modify_nullable"].destructive
    assert "NULL" in (by_kind["modify_nullable"].loss or "")
    assert by_kind["remove_table"].destructive and not by_kind["add_table"].destructive
    assert by_kind["remove_column"].loss == "dropping column users.fax deletes its data"
    assert by_kind["add_index"].name == "ix_users_email"
    assert by_kind["add_index"].columns == ("email",)
    for record in records:
        assert Drift.from_dict(record.to_dict()) == record


def test_narrowing_types_are_destructive() -> None:
    def alter(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> Drift:
        op = ops.AlterColumnOp("t", "c", existing_type=old, modify_type=new)
        return drift_records([op])[0]

    assert alter(sa.String(100), sa.String(20)).destructive
    assert not alter(sa.String(20), sa.String(100)).destructive
    assert alter(sa.BigInteger(), sa.Integer()).destructive
    assert not alter(sa.Integer(), sa.BigInteger()).destructive
    assert alter(sa.Text(), sa.String(50)).destructive
    assert alter(sa.Numeric(10, 4), sa.Numeric(10, 2)).destructive


def test_fixes_render_one_attribute_each() -> None:
    op = ops.AlterColumnOp(
        "users",
        "email",
        existing_type=sa.String(100),
        modify_type=sa.String(255),
        existing_nullable=True,
        modify_nullable=False,
    )
    upgrade = ops.UpgradeOps([ops.ModifyTableOps("users", [op])])
    plain = drift_records(upgrade, postgresql.dialect(), render_fixes=True)
    type_fix, null_fix = plain[0].fix, plain[1].fix
    assert type_fix is not None and null_fix is not None
    assert "type_=sa.String(length=255)" in type_fix["upgrade"]
    assert "nullable=False" not in type_fix["upgrade"]
    assert "nullable=False" in null_fix["upgrade"] and "type_=" not in null_fix["upgrade"]
    assert "type_=sa.String(length=100)" in type_fix["downgrade"]
    assert type_fix["batch"] is False
    compile(type_fix["upgrade"], "fix", "exec")

    batch = drift_records(upgrade, sa.create_engine("sqlite://").dialect, render_fixes=True)
    assert batch[0].fix is not None and batch[0].fix["batch"] is True
    assert batch[0].fix["upgrade"].startswith("with op.batch_alter_table('users'")
    compile(batch[0].fix["upgrade"], "fix", "exec")


def test_fix_imports_dialect_types() -> None:
    md = sa.MetaData()
    table = sa.Table(
        "docs",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", postgresql.JSONB),
    )
    [record] = drift_records(
        ops.UpgradeOps([ops.CreateTableOp.from_table(table)]),
        postgresql.dialect(),
        render_fixes=True,
    )
    assert record.fix is not None
    assert "postgresql.JSONB" in record.fix["upgrade"]
    assert "from sqlalchemy.dialects import postgresql" in record.fix["imports"]
    assert record.fix["downgrade"] == "op.drop_table('docs')"
