"""Code actions, revision commands and migration-aware drift, end to end on SQLite.

The client here behaves like an editor: its ``workspace/applyEdit`` handler checks the
document version, applies the edits to the file, and reports the change (didChange,
didSave) for open documents. Every migration the server writes is then run by Alembic.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Union

import harness
import pytest
from harness import Session, alembic, apply_text_edits, lsp_session, migrate
from lsprotocol import types
from pytest_lsp import client_capabilities
from sqlalchemy.engine import URL

MODELS = "shop/models.py"
VERSIONS = "migrations/versions"
FAST = {"checkInterval": 0.5}
DESTRUCTIVE = {"remove_column", "modify_nullable"}  # orders.note, users.name in the example


class Editor:
    """The client's side of workspace/applyEdit: versions checked, files written."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions: dict[str, int] = {}
        self.edits: list[types.WorkspaceEdit] = []
        self.refuse_next = False
        fix_code_action_parsing(session)

        self.lens_refreshes = 0

        @session.client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def on_refresh(params: None) -> None:
            self.lens_refreshes += 1

        @session.client.feature(types.WORKSPACE_APPLY_EDIT)
        def on_apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return self.apply(params.edit)

    def open(self, path: Path) -> str:
        uri = path.as_uri()
        self.versions[uri] = 1
        self.session.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=path.read_text()
                )
            )
        )
        return uri

    def apply(self, edit: types.WorkspaceEdit) -> types.ApplyWorkspaceEditResult:
        self.edits.append(edit)
        if self.refuse_next:
            self.refuse_next = False
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="busy")
        per_file: list[tuple[str, int | None, list[types.TextEdit]]] = []
        for change in edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit)
            doc = change.text_document
            if doc.version is not None and self.versions.get(doc.uri) != doc.version:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="version")
            per_file.append((doc.uri, doc.version, list(change.edits)))  # type: ignore[arg-type]
        for uri, edits in (edit.changes or {}).items():
            per_file.append((uri, None, list(edits)))
        for uri, _, edits in per_file:
            path = Path(harness_path(uri))
            text = apply_text_edits(path.read_text(), edits)
            path.write_text(text)
            if uri in self.versions:
                self.versions[uri] += 1
                client = self.session.client
                client.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(
                            uri=uri, version=self.versions[uri]
                        ),
                        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                    )
                )
                client.text_document_did_save(
                    types.DidSaveTextDocumentParams(
                        text_document=types.TextDocumentIdentifier(uri=uri)
                    )
                )
        return types.ApplyWorkspaceEditResult(applied=True)


def fix_code_action_parsing(session: Session) -> None:
    """lsprotocol reads any code action that has a ``command`` as a bare Command (its hook
    tests for the key, not for a string); editors don't, so the test client mustn't."""
    converter = session.client.protocol._converter

    def hook(obj: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


def first_change(edit: types.WorkspaceEdit) -> types.TextDocumentEdit:
    assert edit.document_changes
    change = edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    return change


async def command(session: Session, name: str, *args: Any) -> Any:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args))
    )


def harness_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def by_name(diagnostics: list[types.Diagnostic], kind: str, name: str) -> types.Diagnostic | None:
    return next(
        (d for d in diagnostics if d.code == kind and (d.data or {}).get("name") == name), None
    )


async def code_actions(
    session: Session,
    diagnostic: types.Diagnostic | None = None,
    only: list[str] | None = None,
) -> list[types.CodeAction]:
    rng = (
        diagnostic.range
        if diagnostic
        else types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        )
    )
    result = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=session.uri(MODELS)),
            range=rng,
            context=types.CodeActionContext(
                diagnostics=[diagnostic] if diagnostic else [], only=only
            ),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def run(session: Session, action: types.Command | None) -> Any:
    assert action is not None
    return await command(session, action.command, *(action.arguments or []))


async def initial(session: Session) -> list[types.Diagnostic]:
    return await session.wait_diagnostics(
        MODELS, lambda ds: any(d.code == "add_table" for d in ds), timeout=60
    )


def revision_files(root: Path) -> set[str]:
    return {p.name for p in (root / VERSIONS).glob("*.py")}


def new_revision(root: Path, message: str) -> Path:
    """An empty revision made by Alembic itself, as a user would."""
    before = revision_files(root)
    alembic(root, "revision", "-m", message)
    (name,) = revision_files(root) - before
    return root / VERSIONS / name


@pytest.mark.parametrize("capabilities", ["visual-studio-code", "neovim"])
async def test_quick_fix_writes_the_op_into_the_open_migration_and_alembic_runs_it(
    shop: Path, capabilities: str
) -> None:
    async with lsp_session(shop, capabilities=capabilities, settings=FAST) as session:
        editor = Editor(session)
        diagnostics = await initial(session)
        email = by_name(diagnostics, "add_column", "email_verified")
        assert email is not None

        # Nothing open: the fix goes to the head revision.
        titles = [a.title for a in await code_actions(session, email)]
        assert "Add to migration 0002_orders.py" in titles

        # The user makes an empty revision and opens it: that file is now the target.
        new_file = new_revision(shop, "verify email")
        uri = editor.open(new_file)
        actions = await code_actions(session, email)
        assert actions[0].title == f"Add to migration {new_file.name}"
        assert actions[0].kind == types.CodeActionKind.QuickFix and actions[0].is_preferred
        result = await run(session, actions[0].command)
        assert result["applied"] and result["inserted"] == 1

        edit = editor.edits[-1]
        if capabilities == "visual-studio-code":
            change = first_change(edit)
            assert change.text_document.uri == uri and change.text_document.version == 1
        else:
            assert edit.document_changes is None and list(edit.changes or {}) == [uri]
        text = new_file.read_text()
        assert "batch_op.add_column(sa.Column('email_verified'" in text
        assert "batch_op.drop_column('email_verified')" in text
        compile(text, str(new_file), "exec")

        # Asking again inserts nothing twice.
        again = await run(session, actions[0].command)
        assert again["inserted"] == 0 and again["skipped"] == 1
        assert new_file.read_text() == text

        # Migration-aware: the drift is now covered by a pending revision.
        covered = await session.wait_diagnostics(
            MODELS,
            lambda ds: (
                (d := by_name(ds, "add_column", "email_verified")) is not None
                and d.severity == types.DiagnosticSeverity.Information
            ),
        )
        info = by_name(covered, "add_column", "email_verified")
        assert info is not None and "covered by pending revision" in info.message
        assert info.related_information
        related = info.related_information[0].location
        assert related.uri == uri
        op_line = text.splitlines()[related.range.start.line]
        assert "email_verified" in op_line
        still = next(d for d in covered if d.code == "add_table")
        assert still.severity == types.DiagnosticSeverity.Warning
        assert not any(a.title.startswith("Add to") for a in await code_actions(session, info))

        # Alembic runs the file; the drift is gone after the next check.
        alembic(shop, "upgrade", "head")
        await session.wait_diagnostics(
            MODELS, lambda ds: by_name(ds, "add_column", "email_verified") is None
        )


async def test_a_refused_edit_is_recomputed_once_then_an_error(shop: Path) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        editor = Editor(session)
        email = by_name(await initial(session), "add_column", "email_verified")
        new_file = new_revision(shop, "verify email")
        uri = editor.open(new_file)
        action = (await code_actions(session, email))[0]
        # The buffer moves on after the action was offered: the edit is computed now.
        editor.versions[uri] = 2
        edited = new_file.read_text().replace('"""Upgrade schema."""', '"""Upgrade it."""')
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=edited)],
            )
        )
        new_file.write_text(edited)
        editor.refuse_next = True
        result = await run(session, action.command)
        assert result["applied"] and len(editor.edits) == 2
        change = first_change(editor.edits[-1])
        assert change.text_document.version == 2
        assert "Upgrade it." in new_file.read_text()
        assert "email_verified" in new_file.read_text()


async def test_destructive_fixes_are_marked_and_left_out_of_add_all(shop: Path) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        Editor(session)
        diagnostics = await initial(session)
        note = by_name(diagnostics, "remove_column", "note")
        assert note is not None
        (fix,) = await code_actions(session, note, only=["quickfix"])
        assert fix.title.startswith("Add to migration 0002_orders.py (drops data)")
        assert "deletes its data" in fix.title and not fix.is_preferred

        sources = await code_actions(session, only=["source"])
        titles = {a.kind: a.title for a in sources}
        assert set(titles) == {"source.schemaLsp.addAllFile", "source.schemaLsp.addAllWorkspace"}
        assert titles["source.schemaLsp.addAllWorkspace"].startswith(
            "Add all drift in the workspace"
        )
        everything = next(a for a in sources if a.kind == "source.schemaLsp.addAllWorkspace")
        assert everything.command and everything.command.arguments
        drifts = list(everything.command.arguments[1] or [])
        kinds = [d["kind"] for d in drifts]
        assert not set(kinds) & DESTRUCTIVE
        # The whole upgrade in dependency order: the new table, then columns, types and
        # indexes of existing tables; nothing destructive.
        assert rank_order(kinds), kinds
        assert kinds[0] == "add_table" and kinds[-1] == "add_index"
        assert sorted(kinds[1:-1]) == ["add_column", "modify_type"]
        assert {(d["table"], d["name"]) for d in drifts} == {
            ("reviews", None),
            ("users", "email_verified"),
            ("products", "name"),
            ("products", "ix_products_name"),
        }
        assert not any(a.kind == types.CodeActionKind.QuickFix for a in sources)


@pytest.mark.parametrize("capabilities", ["visual-studio-code", "neovim"])
async def test_new_revision_preview_and_add_all_run_under_alembic(
    shop: Path, capabilities: str
) -> None:
    async with lsp_session(shop, capabilities=capabilities, settings=FAST) as session:
        Editor(session)
        await initial(session)
        before = revision_files(shop)
        preview = await command(session, "schemaLsp.previewRevision")
        text = preview["text"]
        assert "op.create_table('reviews'" in text
        assert "batch_op.add_column(sa.Column('email_verified'" in text
        assert "create_index('ix_products_name'" in text
        assert "drop_column('note')" not in text  # destructive: left out
        assert "Revises: 0002" in text
        compile(text, "preview.py", "exec")
        assert revision_files(shop) == before, "a preview writes nothing"

        written = await command(
            session, "schemaLsp.newRevision", session.uri(MODELS), "catch up with the models"
        )
        path = Path(written["path"])
        assert path.parent == shop / VERSIONS and path.name in revision_files(shop) - before
        assert any(d.uri == path.as_uri() for d in session.client.shown_documents)
        assert "catch up with the models" in path.read_text()
        assert alembic(shop, "heads").startswith(written["revision"])

        alembic(shop, "upgrade", "head")
        left = await session.wait_diagnostics(
            MODELS,
            lambda ds: bool(ds) and {str(d.code) for d in ds} <= DESTRUCTIVE,
        )
        assert {str(d.code) for d in left} == DESTRUCTIVE


async def test_add_all_in_the_workspace_with_destructive_on_request(shop: Path) -> None:
    settings = {**FAST, "includeDestructive": True}
    async with lsp_session(shop, settings=settings) as session:
        Editor(session)
        await initial(session)
        new_file = new_revision(shop, "everything")
        sources = await code_actions(session, only=["source.schemaLsp.addAllWorkspace"])
        (action,) = sources
        assert action.title.startswith(f"Add all drift in the workspace to {new_file.name}")
        result = await run(session, action.command)
        assert result["applied"] and result["inserted"] == 6
        text = new_file.read_text()
        up = text.index("def upgrade")
        assert up < text.index("create_table('reviews'") < text.index("drop_column('note')")
        # SQLite: users.name NOT NULL needs the NULLs gone first.
        import sqlite3

        with sqlite3.connect(shop / "shop.db") as conn:
            conn.execute("UPDATE users SET name = '' WHERE name IS NULL")
        alembic(shop, "upgrade", "head")
        await session.wait_diagnostics(MODELS, lambda ds: not ds)
        alembic(shop, "downgrade", "0002")


async def test_preview_on_save_is_shown_beside_without_focus(shop: Path) -> None:
    async with lsp_session(shop, settings={**FAST, "previewOnSave": True}) as session:
        await initial(session)
        session.open(MODELS)
        text = (shop / MODELS).read_text()
        session.save(MODELS, text.replace("String(200)", "String(100)"))

        def shown() -> bool:
            return any(
                d.uri.endswith("preview_revision.py") for d in session.client.shown_documents
            )

        await session.wait_until(harness.STATUS, shown)
        doc = next(d for d in session.client.shown_documents if d.uri.endswith("revision.py"))
        assert doc.take_focus is False
        path = Path(harness_path(doc.uri))
        assert shop not in path.parents, "not in the project, so Alembic never sees it"
        content = path.read_text()
        assert "op.create_table('reviews'" in content and "alter_column('name'" not in content
        assert not path.stat().st_mode & 0o222, "read-only"

        # Saved again: the same file is updated in place.
        session.save(MODELS, text)
        await session.wait_until(harness.STATUS, lambda: "alter_column('name'" in path.read_text())


async def test_broken_revision_graph_is_shown_on_the_migration_files(shop: Path) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        await initial(session)
        second = shop / VERSIONS / "0003_branch.py"
        second.write_text(
            (shop / VERSIONS / "0002_orders.py")
            .read_text()
            .replace('revision: str = "0002"', 'revision: str = "0003"')
            .replace('= "0001"', '= "0001"')
        )
        uri = second.as_uri()
        await session.wait_until(
            harness.DIAGNOSTICS,
            lambda: any(
                d.code == "multiple-heads" for d in session.client.diagnostics.get(uri, [])
            ),
        )
        (head,) = [d for d in session.client.diagnostics[uri] if d.code == "multiple-heads"]
        lines = second.read_text().splitlines()
        assert lines[head.range.start.line].startswith("revision")
        assert "alembic merge heads" in head.message

        second.write_text(second.read_text().replace('= "0001"', '= "0002"'))

        def graph_problems() -> list[types.Diagnostic]:
            shown = session.client.diagnostics.get(uri, [])
            return [d for d in shown if d.code != "migration-contradicts-database"]

        await session.wait_until(harness.DIAGNOSTICS, lambda: not graph_problems())
        # A copy of 0002, pending on a database at 0002: its tables already exist.
        contradicting = session.client.diagnostics.get(uri, [])
        assert any(
            "table orders already exists in the database" in d.message for d in contradicting
        )

        second.write_text("def upgrade(:\n")
        await session.wait_until(
            harness.DIAGNOSTICS,
            lambda: any(d.code == "syntax-error" for d in session.client.diagnostics.get(uri, [])),
        )


async def test_hover_shows_model_and_database_side_by_side(shop: Path) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        diagnostics = await initial(session)
        name = next(d for d in diagnostics if d.code == "modify_type")
        hover = await session.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=session.uri(MODELS)),
                position=name.range.start,
            )
        )
        assert hover is not None and isinstance(hover.contents, types.MarkupContent)
        text = hover.contents.value
        assert "`products.name`" in text and "| models | database |" in text
        assert "| **type** ≠ | VARCHAR(200) | VARCHAR(100) |" in text
        # the new index on the column: in the models, not in the database
        assert "| **indexes** ≠ | ix_products_name | none |" in text

        async def on_column(fragment: str) -> str:
            line = next(i for i, t in enumerate(lines) if fragment in t)
            found = await session.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=session.uri(MODELS)),
                    position=types.Position(line=line, character=8),
                )
            )
            assert found is not None and isinstance(found.contents, types.MarkupContent)
            assert found.range is not None and found.range.start.line == line
            return found.contents.value

        lines = (shop / MODELS).read_text().splitlines()
        # A column without drift shows what the database has too.
        user_id = await on_column('user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), n')
        assert "`orders.user_id`" in user_id
        # Agreeing values come from the worker's summary of the reflected database.
        assert "| type | INTEGER (agrees) | INTEGER |" in user_id
        assert "| nullable | NOT NULL (agrees) | NOT NULL |" in user_id
        assert "| indexes | ix_orders_user_id | ix_orders_user_id |" in user_id
        assert "≠" not in user_id
        verified = await on_column("email_verified: Mapped[bool]")
        assert "not in the database yet" in verified
        assert "| nullable | as declared | — |" in verified
        name = await on_column("name: Mapped[str] = mapped_column(String(100), nullable=False)")
        assert "`users.name`" in name and "| **nullable** ≠ | NOT NULL | NULL |" in name
        assert "⚠ making users.name NOT NULL" in name
        nowhere = await session.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=session.uri(MODELS)),
                position=types.Position(line=0, character=0),
            )
        )
        assert nowhere is None


@pytest.mark.parametrize("capabilities", ["visual-studio-code", "neovim"])
async def test_code_lens_on_each_drifted_class(shop: Path, capabilities: str) -> None:
    async with lsp_session(shop, capabilities=capabilities, settings=FAST) as session:
        Editor(session)
        await initial(session)
        lenses = await session.client.text_document_code_lens_async(
            types.CodeLensParams(
                text_document=types.TextDocumentIdentifier(uri=session.uri(MODELS))
            )
        )
        assert lenses
        lines = (shop / MODELS).read_text().splitlines()
        by_line: dict[int, list[str]] = {}
        for lens in lenses:
            assert lens.command is not None
            by_line.setdefault(lens.range.start.line, []).append(lens.command.title)
        users = next(i for i, line in enumerate(lines) if line.startswith("class User("))
        reviews = next(i for i, line in enumerate(lines) if line.startswith("class Review("))
        # users: email_verified (add) and name NOT NULL (destructive).
        assert by_line[users] == ["2 schema changes", "Preview", "Add to migration"]
        assert by_line[reviews] == ["1 schema change", "Preview", "Add to migration"]

        preview = next(
            lens
            for lens in lenses
            if lens.range.start.line == users and lens.command and lens.command.title == "Preview"
        )
        assert preview.command is not None
        shown = await run(session, preview.command)
        assert "op.create_table('reviews'" in shown["text"]
        assert any(d.uri == shown["uri"] for d in session.client.shown_documents)


@pytest.mark.backends("postgresql")
async def test_fixes_on_postgresql_run_under_alembic(shop: Path, db_url: URL, backend: str) -> None:
    migrate(shop, db_url)
    models = shop / MODELS
    # The example's boolean default is SQLite's integer; PostgreSQL wants a boolean.
    models.write_text(models.read_text().replace('text("0"), comment=', 'text("false"), comment='))
    settings = {"databaseUrl": db_url.render_as_string(hide_password=False), **FAST}
    async with lsp_session(shop, settings=settings) as session:
        editor = Editor(session)
        email = by_name(await initial(session), "add_column", "email_verified")
        assert email is not None
        new_file = new_revision(shop, "verify email")
        editor.open(new_file)
        action = (await code_actions(session, email))[0]
        assert action.title == f"Add to migration {new_file.name}"
        assert (await run(session, action.command))["applied"]
        text = new_file.read_text()
        assert "op.add_column('users', sa.Column('email_verified'" in text  # no batch here
        assert "op.drop_column('users', 'email_verified')" in text
        alembic(shop, "upgrade", "head")
        await session.wait_diagnostics(
            MODELS, lambda ds: by_name(ds, "add_column", "email_verified") is None
        )

        written = await command(session, "schemaLsp.newRevision", "the rest")
        assert Path(written["path"]).is_file()
        alembic(shop, "upgrade", "head")
        left = await session.wait_diagnostics(
            MODELS, lambda ds: bool(ds) and {str(d.code) for d in ds} <= DESTRUCTIVE
        )
        assert {str(d.code) for d in left} == DESTRUCTIVE


async def test_without_show_document_nothing_is_shown_and_commands_still_answer(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_show_document(spec: str) -> types.ClientCapabilities:
        caps = client_capabilities(spec)
        assert caps.window is not None
        caps.window.show_document = None
        return caps

    monkeypatch.setattr(harness, "client_capabilities", no_show_document)
    settings = {**FAST, "previewOnSave": True}
    async with lsp_session(shop, capabilities="neovim", settings=settings) as session:
        Editor(session)
        await initial(session)
        session.open(MODELS)
        before = len(session.statuses)
        session.save(MODELS, (shop / MODELS).read_text().replace("String(200)", "String(100)"))
        await session.wait_diagnostics(
            MODELS, lambda ds: not any(d.code == "modify_type" for d in ds)
        )
        await session.wait_status(lambda s: s["state"] == "connected", after=before)
        preview = await command(session, "schemaLsp.previewRevision", {"show": True})
        assert "op.create_table('reviews'" in preview["text"] and "path" not in preview
        written = await command(session, "schemaLsp.newRevision", "no window")
        assert Path(written["path"]).is_file()
        assert session.client.shown_documents == []
        # The new revision is pending: what it covers is no longer in the next preview.
        after = await command(session, "schemaLsp.previewRevision")
        assert (
            "create_table" not in after["text"]
            and f"Revises: {written['revision']}" in (after["text"])
        )


def rank_order(kinds: list[str]) -> bool:
    from schema_lsp.server.actions import KIND_RANK

    ranks = [KIND_RANK[k] for k in kinds]
    return ranks == sorted(ranks)


def with_coupons(root: Path) -> None:
    """A new table and a new foreign key to it from an existing table."""
    models = root / MODELS
    shipped = "    shipped_at: Mapped[datetime.datetime | None] = mapped_column(DateTime, "
    shipped += "nullable=True)\n"
    text = models.read_text().replace(
        shipped,
        shipped + "    coupon_id: Mapped[int | None] = mapped_column(\n"
        '        ForeignKey("coupons.id", name="fk_orders_coupon"), nullable=True\n'
        "    )\n",
    )
    text += (
        "\n\nclass Coupon(Base):\n"
        '    __tablename__ = "coupons"\n\n'
        "    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n"
        "    code: Mapped[str] = mapped_column(String(20), nullable=False)\n"
    )
    assert "coupon_id" in text
    models.write_text(text)


@pytest.mark.parametrize("destructive", [False, True])
async def test_add_all_in_this_file_runs_under_alembic_in_dependency_order(
    shop: Path, destructive: bool
) -> None:
    with_coupons(shop)
    settings = {**FAST, "includeDestructive": destructive}
    async with lsp_session(shop, settings=settings) as session:
        editor = Editor(session)
        await initial(session)
        new_file = new_revision(shop, "this file")
        editor.open(new_file)
        (action,) = await code_actions(session, only=["source.schemaLsp.addAllFile"])
        assert action.command is not None and action.command.arguments
        drifts = list(action.command.arguments[1])
        kinds = [d["kind"] for d in drifts]
        assert rank_order(kinds), kinds
        assert bool(set(kinds) & DESTRUCTIVE) is destructive
        assert action.title == f"Add all drift in this file to {new_file.name} ({len(drifts)})"
        # Every table is created before a foreign key or index refers to it.
        created = [d["table"] for d in drifts if d["kind"] == "add_table"]
        for i, d in enumerate(drifts):
            if d["kind"] in ("add_fk", "add_index", "add_column"):
                later = created[kinds[:i].count("add_table") :]
                assert d["table"] not in later, f"{d['kind']} on {d['table']} before its table"
        fk = kinds.index("add_fk")
        assert drifts[fk]["name"] == "fk_orders_coupon"
        # both new tables (coupons among them) come before the foreign key to coupons
        assert "coupons" in created
        assert [d["table"] for d in drifts[:fk] if d["kind"] == "add_table"] == created
        if destructive:
            first_drop = min(i for i, k in enumerate(kinds) if k.startswith("remove"))
            assert all(not k.startswith("add") for k in kinds[first_drop:])

        result = await run(session, action.command)
        assert result["applied"] and result["inserted"] == len(drifts)
        text = new_file.read_text()
        compile(text, str(new_file), "exec")
        up = text[text.index("def upgrade") : text.index("def downgrade")]
        down = text[text.index("def downgrade") :]
        positions = [up.index(f"'{d['table']}'") for d in drifts if d["kind"] == "add_table"]
        assert positions and all(p < up.index("email_verified") for p in positions)
        assert down.index("drop_column('email_verified')") < down.index("drop_table('reviews')")
        if destructive:
            with sqlite3.connect(shop / "shop.db") as conn:
                conn.execute("UPDATE users SET name = '' WHERE name IS NULL")
        alembic(shop, "upgrade", "head")
        if destructive:
            await session.wait_diagnostics(MODELS, lambda ds: not ds)
        else:
            left = await session.wait_diagnostics(
                MODELS, lambda ds: bool(ds) and {str(d.code) for d in ds} <= DESTRUCTIVE
            )
            assert {str(d.code) for d in left} == DESTRUCTIVE
        alembic(shop, "downgrade", "0002")


def without_revisions(root: Path) -> None:
    """A project whose migrations folder is empty and whose database is at no revision."""
    for path in (root / VERSIONS).glob("*.py"):
        path.unlink()
    with sqlite3.connect(root / "shop.db") as conn:
        conn.execute("DELETE FROM alembic_version")


@pytest.mark.parametrize("show_document", [True, False])
async def test_create_a_new_revision_quick_fix_writes_one_alembic_runs(
    shop: Path, show_document: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not show_document:

        def no_show_document(spec: str) -> types.ClientCapabilities:
            caps = client_capabilities(spec)
            assert caps.window is not None
            caps.window.show_document = None
            return caps

        monkeypatch.setattr(harness, "client_capabilities", no_show_document)
    without_revisions(shop)
    async with lsp_session(shop, settings=FAST) as session:
        Editor(session)
        email = by_name(await initial(session), "add_column", "email_verified")
        assert email is not None
        (fix,) = await code_actions(session, email, only=["quickfix"])
        assert fix.title == "Create a new revision with these changes"
        assert fix.command is not None and fix.command.command == "schemaLsp.newRevision"
        written = await run(session, fix.command)
        path = Path(written["path"])
        assert path.parent == shop / VERSIONS and revision_files(shop) == {path.name}
        assert written["count"] == 1
        text = path.read_text()
        assert "batch_op.add_column(sa.Column('email_verified'" in text
        assert "create_table" not in text, "only the drift the fix was for"
        shown = [d.uri for d in session.client.shown_documents]
        assert shown == ([path.as_uri()] if show_document else [])

        alembic(shop, "upgrade", "head")
        assert alembic(shop, "current").strip().startswith(written["revision"])
        await session.wait_diagnostics(
            MODELS, lambda ds: bool(ds) and by_name(ds, "add_column", "email_verified") is None
        )
