"""Pending revisions are read statically and matched against drift."""

from __future__ import annotations

from pathlib import Path

from schema_lsp.script import ScriptConfig, load_graph
from schema_lsp.script.pending import (
    BY_HAND,
    MISSING,
    PENDING,
    classify,
    pending_ops,
    pending_revisions,
    upgrade_ops,
)

REV = '''"""{msg}"""
from alembic import op
import sqlalchemy as sa

revision = "{rev}"
down_revision = {down}
branch_labels = None
depends_on = None

open("MARKER", "w").write("executed")  # must never run


def upgrade():
{body}


def downgrade():
    pass
'''


def _write(versions: Path, rev: str, down: str | None, body: str) -> None:
    (versions / f"{rev}_x.py").write_text(REV.format(msg=rev, rev=rev, down=repr(down), body=body))


def _project(tmp_path: Path) -> ScriptConfig:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    _write(
        versions,
        "aaa",
        None,
        "    op.create_table('users', sa.Column('id', sa.Integer()),\n"
        "                    sa.Column('fax', sa.String(20)))",
    )
    _write(
        versions,
        "bbb",
        "aaa",
        "    op.add_column('users', sa.Column('email', sa.String(100)))\n"
        "    op.create_index(op.f('ix_users_email'), 'users', ['email'])",
    )
    _write(
        versions,
        "ccc",
        "bbb",
        "    with op.batch_alter_table('users') as batch_op:\n"
        "        batch_op.alter_column('email', nullable=False)\n"
        "        batch_op.drop_column('fax')",
    )
    return ScriptConfig(script_location=tmp_path / "migrations")


def test_pending_revisions_after_the_applied_head(tmp_path: Path) -> None:
    graph = load_graph(_project(tmp_path))
    assert [r.revision for r in pending_revisions(graph, ["aaa"])] == ["bbb", "ccc"]
    assert [r.revision for r in pending_revisions(graph, [])] == ["aaa", "bbb", "ccc"]
    assert pending_revisions(graph, ["ccc"]) == []
    assert not (tmp_path / "MARKER").exists()


def test_classify(tmp_path: Path) -> None:
    graph = load_graph(_project(tmp_path))
    pending = pending_ops(graph, ["aaa"])
    history = upgrade_ops(graph.revisions.values())
    covered = classify("add_column", "users", "email", pending, history)
    assert covered.category == PENDING and covered.revision == "bbb"
    assert covered.path is not None and covered.path.name == "bbb_x.py" and covered.line
    assert classify("add_index", "users", "ix_users_email", pending, history).revision == "bbb"
    assert classify("modify_nullable", "users", "email", pending, history).revision == "ccc"
    assert classify("remove_column", "users", "fax", pending, history).revision == "ccc"
    assert classify("add_column", "users", "phone", pending, history).category == MISSING
    # in the database but created by no migration: someone changed it by hand
    assert classify("remove_column", "users", "nickname", pending, history).category == BY_HAND
    # created by an applied migration, dropped from the models: a migration is missing
    applied_only = pending_ops(graph, ["ccc"])
    assert classify("remove_column", "users", "fax", applied_only, history).category == MISSING
    assert not (tmp_path / "MARKER").exists()


def test_ops_carry_their_method_schema_and_order() -> None:
    import ast

    from schema_lsp.script.pending import ops_in_function

    source = (
        "def upgrade():\n"
        '    op.create_table("t", sa.Column("a", sa.Integer()), schema="s")\n'
        '    with op.batch_alter_table("u", schema="s2") as batch_op:\n'
        '        batch_op.drop_column("b")\n'
        '    op.add_column("v", sa.Column("c", sa.Integer()))\n'
    )
    found = ops_in_function(ast.parse(source), "upgrade", "r1", Path("/x.py"))
    assert [(o.method, o.schema, o.table, o.name, o.line) for o in found] == [
        ("create_table", "s", "t", None, 2),
        (None, "s", "t", "a", 2),  # a column listed in create_table
        ("drop_column", "s2", "u", "b", 4),
        ("add_column", None, "v", "c", 5),
    ]
