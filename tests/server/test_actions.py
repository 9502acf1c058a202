"""The plain functions behind code actions and revision commands, without a server."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from lsprotocol import types

from schema_lsp.script import ScriptConfig, load_graph
from schema_lsp.script.edits import plan_migration_edit
from schema_lsp.script.pending import BY_HAND, MISSING, PENDING, Classification
from schema_lsp.server.actions import (
    MIGRATION_KEY,
    MigrationState,
    annotate,
    combine,
    fix_title,
    graph_diagnostics,
    migration_targets,
    order_drifts,
    parse_args,
    revision_message,
    select_for_all,
    template_body,
    workspace_edit,
)


def drift(kind: str, table: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    up = f"op.{kind}({table!r}, {name!r})"
    down = f"op.undo_{kind}({table!r}, {name!r})"
    return {
        "kind": kind,
        "schema": None,
        "table": table,
        "name": name,
        "attribute": None,
        "destructive": False,
        "fix": {"upgrade": up, "downgrade": down, "imports": [], "batch": False},
        **extra,
    }


def revision(folder: Path, rev: str, down: str | None, body: str = "pass") -> Path:
    path = folder / f"{rev}_r.py"
    path.write_text(
        f'"""r{rev}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\n\n\n"
        f"def upgrade():\n    {body}\n\n\ndef downgrade():\n    pass\n"
    )
    return path


def test_order_puts_tables_first_and_drops_last_keeping_the_worker_order() -> None:
    drifts = [
        drift("remove_table", "old"),
        drift("add_fk", "b", "fk_b"),
        drift("add_index", "a", "ix_a"),
        drift("remove_column", "c", "x"),
        drift("add_table", "a"),
        drift("add_table", "b"),
        drift("add_column", "c", "y"),
        drift("remove_fk", "c", "fk_c"),
    ]
    kinds = [(d["kind"], d["table"]) for d in order_drifts(drifts)]
    assert kinds == [
        ("add_table", "a"),
        ("add_table", "b"),
        ("add_column", "c"),
        ("add_index", "a"),
        ("add_fk", "b"),
        ("remove_fk", "c"),
        ("remove_column", "c"),
        ("remove_table", "old"),
    ]


def test_add_all_leaves_out_destructive_pending_and_fixless_drift() -> None:
    keep = drift("add_column", "t", "a")
    loses = drift("remove_column", "t", "b", destructive=True)
    pending = drift("add_column", "t", "c", **{MIGRATION_KEY: {"category": PENDING}})
    fixless = {**drift("add_column", "t", "d"), "fix": None}
    chosen = select_for_all([keep, loses, pending, fixless, keep], include_destructive=False)
    assert chosen == [keep]
    assert select_for_all([keep, loses], include_destructive=True) == [keep, loses]


def test_combined_fix_reverses_the_downgrade_and_fits_the_template() -> None:
    a = drift("add_table", "a")
    b = {
        **drift("add_column", "b", "x"),
        "fix": {
            "upgrade": "with op.batch_alter_table('b') as batch_op:\n    batch_op.add_column(x)",
            "downgrade": "with op.batch_alter_table('b') as batch_op:\n"
            "    batch_op.drop_column('x')",
            "imports": ["import geoalchemy2"],
        },
    }
    combined = combine([a, b])
    assert combined.upgrade.index("add_table") < combined.upgrade.index("add_column")
    assert combined.downgrade.index("drop_column") < combined.downgrade.index("undo_add_table")
    assert combined.imports == ("import geoalchemy2",) and combined.count == 2
    body = template_body(combined.upgrade)
    module = f"def upgrade():\n    {body}\n"
    ast.parse(module)
    assert "    # ### end Alembic commands ###" in module
    assert template_body("") == "pass"
    # The markers let a later quick fix append before the end marker.
    plan = plan_migration_edit(
        module + "\n\ndef downgrade():\n    pass\n", "op.more()", "op.less()"
    )
    assert plan.new_text.index("op.more()") < plan.new_text.index("# ### end Alembic")


def test_titles_and_messages() -> None:
    loses = drift("remove_column", "orders", "note", destructive=True, loss="deletes data")
    assert fix_title(loses, "0002_x.py") == "Add to migration 0002_x.py (drops data)"
    assert fix_title(drift("add_table", "t"), "a.py") == "Add to migration a.py"
    assert revision_message([drift("add_column", "users", "phone")]) == "add column users.phone"
    assert revision_message([drift("add_table", "a"), drift("add_table", "b")]) == "update a, b"


def test_command_arguments_in_any_order() -> None:
    d = drift("add_table", "a")
    parsed = parse_args(["file:///p/m.py", "add phone", [d]])
    assert (parsed.uri, parsed.message, parsed.drifts) == ("file:///p/m.py", "add phone", [d])
    assert parse_args(["add phone"]).uri is None and parse_args(["add phone"]).message
    assert parse_args([{"uri": "file:///x", "drifts": [d]}]).drifts == [d]
    assert parse_args([]).drifts is None


def test_workspace_edit_versioned_or_plain() -> None:
    edit = types.TextEdit(
        range=types.Range(
            start=types.Position(line=1, character=0), end=types.Position(line=1, character=0)
        ),
        new_text="x\n",
    )
    versioned = workspace_edit("file:///m.py", 3, [edit], document_changes=True)
    change = versioned.document_changes[0]  # type: ignore[index]
    assert isinstance(change, types.TextDocumentEdit) and change.text_document.version == 3
    plain = workspace_edit("file:///m.py", 3, [edit], document_changes=False)
    assert plain.changes == {"file:///m.py": [edit]} and plain.document_changes is None


def test_targets_are_open_files_newest_first_else_the_heads(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    first = revision(versions, "a1", None)
    second = revision(versions, "b2", "a1")
    graph = load_graph(ScriptConfig(script_location=tmp_path))
    assert [r.revision for r in migration_targets(graph, [])] == ["b2"]
    opened = migration_targets(graph, [first, second])
    assert [r.revision for r in opened] == ["b2", "a1"]


def test_pending_revision_classification_and_annotation(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    revision(versions, "a1", None, "op.create_table('users', sa.Column('id', sa.Integer()))")
    path = revision(versions, "b2", "a1", "op.add_column('users', sa.Column('phone', sa.Text()))")
    graph = load_graph(ScriptConfig(script_location=tmp_path))
    run = MigrationState(graph, ("a1",)).classifier()
    phone = drift("add_column", "users", "phone")
    found = run(phone)
    assert (found.category, found.revision, found.path) == (PENDING, "b2", path)
    assert run(drift("add_column", "users", "email")).category == MISSING
    assert run(drift("remove_column", "users", "legacy")).category == BY_HAND
    assert MigrationState(graph, None).classifier() is None  # heads unknown: no claims

    shown = types.Diagnostic(
        range=types.Range(
            start=types.Position(line=4, character=4), end=types.Position(line=4, character=9)
        ),
        message="users.phone: column is in the models but not in the database",
        severity=types.DiagnosticSeverity.Warning,
        code="add_column",
        source="schema-lsp",
        data=phone,
    )
    info = annotate(shown, found)
    assert info.severity == types.DiagnosticSeverity.Information
    assert "covered by pending revision b2" in info.message
    assert info.related_information is not None
    location = info.related_information[0].location
    assert location.uri == path.absolute().as_uri()
    assert "phone" in path.read_text().splitlines()[location.range.start.line]
    assert isinstance(info.data, dict) and info.data[MIGRATION_KEY]["category"] == PENDING
    by_hand = annotate(shown, Classification(BY_HAND))
    assert "changed by hand" in by_hand.message and by_hand.severity == shown.severity


def test_graph_problems_at_their_lines(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    revision(versions, "a1", None)
    b = revision(versions, "b2", "a1")
    c = revision(versions, "c3", "a1")
    orphan = revision(versions, "d4", "zz")
    broken = versions / "e5_r.py"
    broken.write_text("def upgrade(:\n")
    found = graph_diagnostics(load_graph(ScriptConfig(script_location=tmp_path)))
    codes = {path.name: {str(d.code) for d in diags} for path, diags in found.items()}
    assert "multiple-heads" in codes[b.name] and "multiple-heads" in codes[c.name]
    assert "missing-parent" in codes[orphan.name]
    assert codes[broken.name] == {"syntax-error"}
    (missing,) = [d for d in found[orphan.absolute()] if d.code == "missing-parent"]
    assert orphan.read_text().splitlines()[missing.range.start.line].startswith("down_revision")


def test_graph_problems_are_fitted_to_the_editor_buffer_they_were_read_from(
    tmp_path: Path,
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    revision(versions, "a1", None)
    broken = versions / "b2_r.py"
    broken.write_text("x = 1\n")  # on disk: one short line
    buffer = "\n\n    def upgrade(:  # \U0001d518nsaved (outside the BMP), longer text\n"
    config = ScriptConfig(script_location=tmp_path)
    graph = load_graph(config, sources={broken.absolute(): buffer})
    (diagnostic,) = graph_diagnostics(graph, {broken.absolute(): buffer})[broken.absolute()]
    line = buffer.splitlines()[diagnostic.range.start.line]
    assert line.strip().startswith("def upgrade(")
    assert diagnostic.range.start.character == 4
    assert diagnostic.range.end.character == len(line.encode("utf-16-le")) // 2


def test_destructive_diagnostics_say_what_would_be_lost() -> None:
    from schema_lsp.server.actions import with_loss

    rng = types.Range(
        start=types.Position(line=1, character=0), end=types.Position(line=1, character=1)
    )
    loss = "dropping column users.fax deletes its data"
    data = drift(
        "remove_column", "users", "fax", destructive=True, loss=loss, message="users.fax: gone"
    )
    shown = types.Diagnostic(range=rng, message="users.fax: gone", data=data)
    said = with_loss(shown)
    assert said.message == f"users.fax: gone — {loss}"
    assert with_loss(said).message == said.message
    assert said.data["message"] == said.message and data["message"] == "users.fax: gone"
    stale = types.Diagnostic(range=rng, message="x (stale: database unreachable)", data=data)
    assert with_loss(stale).message == f"x — {loss} (stale: database unreachable)"
    safe = types.Diagnostic(range=rng, message="m", data=drift("add_column", "users", "fax"))
    assert with_loss(safe) is safe
