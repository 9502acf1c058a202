"""Our op structures against Alembic's: same diff tuples, same reversals."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.operations import ops as alembic_ops

from schema_lsp.operations import ops


def _norm(value: Any) -> Any:
    """Reduce SQLAlchemy objects inside diff tuples to comparable plain data."""
    if isinstance(value, sa.Table):
        return (
            "Table",
            value.name,
            value.schema,
            value.comment,
            [(c.name, repr(c.type), c.nullable) for c in value.c],
            sorted(_norm(c) for c in value.constraints),
            sorted(_norm(i) for i in value.indexes),
        )
    if isinstance(value, sa.Column):
        return ("Column", value.name, repr(value.type), value.nullable)
    if isinstance(value, sa.ForeignKeyConstraint):
        return (
            "FK",
            value.name,
            value.parent.name,
            value.parent.schema,
            tuple(value.column_keys),
            tuple(e.target_fullname for e in value.elements),
            value.ondelete,
            value.onupdate,
        )
    if isinstance(value, sa.CheckConstraint):
        return ("CK", value.name, str(value.sqltext))
    if isinstance(value, sa.Constraint):
        table: Any = value.table
        return (
            type(value).__name__,
            value.name,
            table.name,
            table.schema,
            tuple(c.name for c in value.columns),
        )
    if isinstance(value, sa.Index):
        assert value.table is not None
        return (
            "Index",
            value.name,
            value.table.name,
            value.table.schema,
            value.unique,
            tuple(str(e) for e in value.expressions),
        )
    if isinstance(value, sa.types.TypeEngine):
        return ("Type", repr(value))
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_norm(v) for v in value)
    return value


def _metadata() -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "parent",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, unique=True),
        schema="app",
        comment="parents",
    )
    child = sa.Table(
        "child",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.ForeignKey("app.parent.id", ondelete="CASCADE")),
        sa.Column("qty", sa.Integer, sa.CheckConstraint("qty > 0", name="ck_qty")),
        sa.Column("flag", sa.Boolean(create_constraint=True, name="ck_flag")),
        sa.UniqueConstraint("parent_id", "qty", name="uq_child"),
    )
    sa.Index("ix_child_qty", child.c.qty, unique=True)
    sa.Index("ix_child_expr", sa.func.lower(child.c.qty))
    return metadata


def _tables() -> list[sa.Table]:
    return list(_metadata().tables.values())


def _constraints() -> list[sa.Constraint]:
    found: list[sa.Constraint] = []
    for table in _tables():
        found.extend(
            c for c in table.constraints if not getattr(c, "_type_bound", False)
        )
    return found


def _indexes() -> list[sa.Index]:
    return [i for t in _tables() for i in t.indexes]


def _both(name: str) -> tuple[Any, Any]:
    return getattr(ops, name), getattr(alembic_ops, name)


@pytest.mark.parametrize("table", _tables(), ids=lambda t: t.fullname)
@pytest.mark.parametrize("op_name", ["CreateTableOp", "DropTableOp"])
def test_table_ops_match_alembic(op_name: str, table: sa.Table) -> None:
    ours_cls, theirs_cls = _both(op_name)
    ours, theirs = ours_cls.from_table(table), theirs_cls.from_table(table)
    assert _norm(ours.to_diff_tuple()) == _norm(theirs.to_diff_tuple())
    assert _norm(ours.reverse().to_diff_tuple()) == _norm(theirs.reverse().to_diff_tuple())
    assert ours.to_diff_tuple()[0] in {"add_table", "remove_table"}


def test_create_table_round_trip_keeps_columns_and_constraints() -> None:
    table = _metadata().tables["child"]
    op = ops.CreateTableOp.from_table(table)
    back = op.reverse().reverse()
    assert isinstance(back, ops.CreateTableOp)
    assert _norm(back.to_table()) == _norm(op.to_table())
    assert [c.name for c in back.to_table().c] == ["id", "parent_id", "qty", "flag"]


@pytest.mark.parametrize("constraint", _constraints(), ids=lambda c: f"{c.table.name}-{c.name}")
def test_constraint_ops_match_alembic(constraint: sa.Constraint) -> None:
    ours = ops.AddConstraintOp.from_constraint(constraint)
    theirs = alembic_ops.AddConstraintOp.from_constraint(constraint)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.constraint_type == theirs.constraint_type
    assert _norm(ours.to_diff_tuple()) == _norm(theirs.to_diff_tuple())

    drop = ops.DropConstraintOp.from_constraint(constraint)
    their_drop = alembic_ops.DropConstraintOp.from_constraint(constraint)
    assert drop.constraint_type == their_drop.constraint_type
    assert _norm(drop.to_diff_tuple()) == _norm(their_drop.to_diff_tuple())
    assert _norm(ours.reverse().to_diff_tuple()) == _norm(drop.to_diff_tuple())
    assert _norm(drop.reverse().to_diff_tuple()) == _norm(ours.to_diff_tuple())


def test_foreign_key_op_attributes() -> None:
    fk = next(c for c in _constraints() if isinstance(c, sa.ForeignKeyConstraint))
    op = ops.CreateForeignKeyOp.from_constraint(fk)
    theirs = alembic_ops.CreateForeignKeyOp.from_constraint(fk)
    assert op.to_diff_tuple()[0] == "add_fk"
    assert (op.constraint_name, op.source_table, op.referent_table) == (
        theirs.constraint_name,
        theirs.source_table,
        theirs.referent_table,
    )
    assert (op.local_cols, op.remote_cols, op.kw) == (
        theirs.local_cols,
        theirs.remote_cols,
        theirs.kw,
    )


@pytest.mark.parametrize("index", _indexes(), ids=lambda i: str(i.name))
def test_index_ops_match_alembic(index: sa.Index) -> None:
    for name in ("CreateIndexOp", "DropIndexOp"):
        ours_cls, theirs_cls = _both(name)
        ours, theirs = ours_cls.from_index(index), theirs_cls.from_index(index)
        assert _norm(ours.to_diff_tuple()) == _norm(theirs.to_diff_tuple())
        assert _norm(ours.reverse().to_diff_tuple()) == _norm(theirs.reverse().to_diff_tuple())
        assert ours.kw == theirs.kw


def test_column_ops_match_alembic() -> None:
    col = sa.Column("note", sa.Text, nullable=True, comment="free text")
    ours = ops.AddColumnOp.from_column_and_tablename("app", "parent", col)
    theirs = alembic_ops.AddColumnOp.from_column_and_tablename("app", "parent", col)
    assert ours.to_diff_tuple() == theirs.to_diff_tuple() == ("add_column", "app", "parent", col)
    drop = ours.reverse()
    assert drop.to_diff_tuple() == theirs.reverse().to_diff_tuple()
    assert drop.to_diff_tuple() == ("remove_column", "app", "parent", col)
    assert drop.reverse().column is col

    bare = ops.DropColumnOp("parent", "note")
    with pytest.raises(ValueError, match="not reversible"):
        bare.reverse()
    assert bare.to_diff_tuple()[3].name == "note"


def test_add_column_if_not_exists_flips_on_reverse() -> None:
    op = ops.AddColumnOp("t", sa.Column("x", sa.Integer), if_not_exists=True)
    assert op.reverse().if_exists is True
    assert op.reverse().reverse().if_not_exists is True


def _alter_kwargs() -> list[dict[str, Any]]:
    return [
        {"modify_type": sa.String(50), "existing_type": sa.String(20)},
        {"modify_nullable": False, "existing_nullable": True, "existing_type": sa.Integer()},
        {"modify_server_default": sa.text("0"), "existing_server_default": None},
        {"modify_comment": "new", "existing_comment": "old"},
        {
            "modify_type": sa.BigInteger(),
            "existing_type": sa.Integer(),
            "modify_nullable": True,
            "existing_nullable": False,
            "modify_server_default": None,
            "existing_server_default": sa.text("1"),
            "modify_comment": None,
            "existing_comment": "c",
        },
        {"existing_type": sa.Integer()},
    ]


@pytest.mark.parametrize("kw", _alter_kwargs())
def test_alter_column_matches_alembic(kw: dict[str, Any]) -> None:
    ours = ops.AlterColumnOp("t", "c", schema="s", **kw)
    theirs = alembic_ops.AlterColumnOp("t", "c", schema="s", **kw)
    assert _norm(ours.to_diff_tuple()) == _norm(theirs.to_diff_tuple())
    assert ours.has_changes() == theirs.has_changes()
    rev, their_rev = ours.reverse(), theirs.reverse()
    assert _norm(rev.to_diff_tuple()) == _norm(their_rev.to_diff_tuple())
    assert _norm(rev.reverse().to_diff_tuple()) == _norm(ours.to_diff_tuple())


def test_alter_column_reverse_swaps_values() -> None:
    op = ops.AlterColumnOp(
        "t", "c", existing_nullable=True, modify_nullable=False, existing_type=sa.Integer()
    )
    rev = op.reverse()
    assert (rev.existing_nullable, rev.modify_nullable) == (False, True)
    assert rev.modify_type is None
    assert op.has_changes()
    assert not ops.AlterColumnOp("t", "c", existing_type=sa.Integer()).has_changes()
    assert ops.AlterColumnOp("t", "c", modify_name="d").has_changes() is False
    assert ops.AlterColumnOp("t", "c", modify_foo=1).has_changes() is True


def test_table_comment_ops() -> None:
    add = ops.CreateTableCommentOp("t", "new", schema="s", existing_comment=None)
    theirs = alembic_ops.CreateTableCommentOp("t", "new", schema="s", existing_comment=None)
    assert _norm(add.to_diff_tuple()) == _norm(theirs.to_diff_tuple())
    assert add.to_diff_tuple()[0] == "add_table_comment"
    assert add.to_diff_tuple()[2] is None
    drop = add.reverse()
    assert isinstance(drop, ops.DropTableCommentOp)
    assert drop.existing_comment == "new"
    assert _norm(drop.to_diff_tuple()) == _norm(theirs.reverse().to_diff_tuple())
    back = drop.reverse()
    assert (back.comment, back.table_name, back.schema) == ("new", "t", "s")

    change = ops.CreateTableCommentOp("t", "b", existing_comment="a")
    undo = change.reverse()
    assert isinstance(undo, ops.CreateTableCommentOp)
    assert (undo.comment, undo.existing_comment) == ("a", "b")


def test_containers_reverse_and_flatten() -> None:
    metadata = _metadata()
    parent = metadata.tables["app.parent"]
    col = sa.Column("extra", sa.Integer)
    modify = ops.ModifyTableOps(
        "parent",
        [
            ops.AddColumnOp("parent", col, schema="app"),
            ops.AlterColumnOp("parent", "code", schema="app", modify_nullable=True,
                              existing_nullable=False),
        ],
        schema="app",
    )
    upgrade = ops.UpgradeOps([ops.CreateTableOp.from_table(parent), modify])
    downgrade = upgrade.reverse()
    assert isinstance(downgrade, ops.DowngradeOps)
    assert downgrade.downgrade_token == "downgrades"
    assert isinstance(downgrade.ops[0], ops.ModifyTableOps)
    assert [type(o).__name__ for o in downgrade.ops[0].ops] == ["AlterColumnOp", "DropColumnOp"]
    assert isinstance(downgrade.ops[1], ops.DropTableOp)

    diffs = upgrade.as_diffs()
    assert diffs[0][0] == "add_table"
    assert diffs[1] == ("add_column", "app", "parent", col)
    assert diffs[2][0][0] == "modify_nullable"
    assert not upgrade.is_empty()
    assert ops.UpgradeOps().is_empty()

    target = ops.DowngradeOps(downgrade_token="other")
    assert upgrade.reverse_into(target) is target
    assert len(target.ops) == 2
    assert isinstance(target.reverse(), ops.UpgradeOps)


def test_migration_script_ops_properties() -> None:
    up, down = ops.UpgradeOps(), ops.DowngradeOps()
    script = ops.MigrationScript("abc", up, down, message="m", head="base")
    assert script.upgrade_ops is up and script.downgrade_ops is down
    assert script.upgrade_ops_list == [up]
    assert script.imports == set()

    script.upgrade_ops = [ops.UpgradeOps(), ops.UpgradeOps(upgrade_token="other")]
    with pytest.raises(ValueError, match="upgrade_ops_list"):
        _ = script.upgrade_ops
    script.downgrade_ops = [ops.DowngradeOps(), ops.DowngradeOps()]
    with pytest.raises(ValueError, match="downgrade_ops_list"):
        _ = script.downgrade_ops
    assert len(script.upgrade_ops_list) == 2
    with pytest.raises(TypeError):
        script.upgrade_ops = [ops.DowngradeOps()]  # type: ignore[list-item]


def test_info_is_per_instance() -> None:
    a, b = ops.ExecuteSQLOp("select 1"), ops.ExecuteSQLOp("select 2")
    a.info["k"] = 1
    assert b.info == {}
    assert a.to_diff_tuple() == ("execute", "select 1")
    table = sa.Table("t", sa.MetaData(), sa.Column("x", sa.Integer), info={"a": 1})
    assert ops.CreateTableOp.from_table(table).info == {"a": 1}


#: Deliberate differences from Alembic's op signatures, with the reason.
SIGNATURE_DIVERGENCES = {
    # Alembic shares one mutable ``set()`` default between all scripts; we give
    # each MigrationScript its own set (``None`` means "fresh empty set").
    ("MigrationScript", "imports"): "fresh set per instance instead of a shared default",
}

_OP_NAMES = sorted(
    name for name in dir(alembic_ops)
    if isinstance(getattr(alembic_ops, name), type)
    and issubclass(getattr(alembic_ops, name), alembic_ops.MigrateOperation)
)


def test_every_alembic_op_exists() -> None:
    missing = [name for name in _OP_NAMES if not hasattr(ops, name)]
    assert missing == []


@pytest.mark.parametrize("name", _OP_NAMES)
def test_constructor_and_classmethod_signatures_match(name: str) -> None:
    import inspect

    ours, theirs = getattr(ops, name), getattr(alembic_ops, name)
    our_sig = inspect.signature(ours.__init__)
    their_sig = inspect.signature(theirs.__init__)
    assert list(our_sig.parameters) == list(their_sig.parameters)
    for pname, param in their_sig.parameters.items():
        mine = our_sig.parameters[pname]
        assert mine.kind == param.kind, pname
        if (name, pname) not in SIGNATURE_DIVERGENCES:
            assert repr(mine.default) == repr(param.default), pname

    public = {
        attr for attr in vars(theirs)
        if not attr.startswith("_")
        # Operations-proxy classmethods (op.add_column etc.) are the runtime's, not ours
        and not (isinstance(vars(theirs)[attr], classmethod)
                 and "operations" in inspect.signature(getattr(theirs, attr)).parameters)
    }
    assert public <= set(dir(ours)), public - set(dir(ours))


def test_add_column_from_column_and_rename_and_bulk_insert() -> None:
    table = sa.Table("t", sa.MetaData(), sa.Column("x", sa.Integer), schema="s")
    op = ops.AddColumnOp.from_column(table.c.x)
    assert (op.table_name, op.schema, op.column) == ("t", "s", table.c.x)
    assert op.to_column() is table.c.x
    rename = ops.RenameTableOp("a", "b", schema="s")
    assert (rename.table_name, rename.new_table_name, rename.schema) == ("a", "b", "s")
    bulk = ops.BulkInsertOp(table, [{"x": 1}], multiinsert=False)
    assert (bulk.table, bulk.rows, bulk.multiinsert) == (table, [{"x": 1}], False)


def test_reverse_also_and_reversed_with_table_shape_the_downgrade() -> None:
    """The two ``info`` marks MySQL's foreign-key indexes need (set by the comparators):
    an extra op after a reverse, and a reverse left to the table's drop."""
    metadata = sa.MetaData()
    posts = sa.Table(
        "posts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer),
        sa.Index("ix_posts_user_id", "user_id"),
    )
    add_fk = ops.CreateForeignKeyOp("fk_posts_user", "users", "posts", ["user_id"], ["id"])
    implicit = ops.DropIndexOp("fk_posts_user", table_name="users")
    add_fk.info[ops.REVERSE_ALSO] = [implicit]
    index = ops.CreateIndexOp.from_index(next(iter(posts.indexes)))
    index.info[ops.REVERSED_WITH_TABLE] = True
    upgrade = ops.UpgradeOps(
        [
            ops.ModifyTableOps("users", [add_fk]),
            ops.CreateTableOp.from_table(posts),
            ops.ModifyTableOps("posts", [index]),
        ]
    )
    downgrade = upgrade.reverse()
    assert [type(o).__name__ for o in downgrade.ops] == ["DropTableOp", "ModifyTableOps"]
    block = downgrade.ops[1]
    assert isinstance(block, ops.ModifyTableOps)
    assert block.ops[0].to_diff_tuple()[0] == "remove_fk"
    assert block.ops[1] is implicit
