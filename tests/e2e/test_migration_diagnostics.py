"""Migration files checked against the database, and drift the database got by hand.

The example's SQLite database is at revision 0002; a pending revision written here is
parsed (never run) and every op that would fail on the current database is an error on
its line. Alembic then confirms the server was right.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import harness
from harness import lsp_session, run_alembic
from lsprotocol import types

MODELS = "shop/models.py"
FAST = {"checkInterval": 0.5}
CODE = "migration-contradicts-database"

PENDING = '''"""contradicting

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.add_column("users", sa.Column("email", sa.String(255)))
    op.drop_column("orders", "fax")
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email_verified", sa.Boolean()))
    op.create_table("products", sa.Column("id", sa.Integer(), primary_key=True))
    op.create_table("reviews", sa.Column("id", sa.Integer(), primary_key=True))
    op.drop_table("reviews")


def downgrade():
    pass
'''


def alembic_fails(root: Path, *args: str) -> str:
    done = run_alembic(root, *args)
    assert done.returncode != 0, done.stdout
    return done.stderr


async def test_pending_ops_that_contradict_the_database_are_errors_on_their_lines(
    shop: Path,
) -> None:
    async with lsp_session(shop, settings=FAST) as session:
        await session.wait_diagnostics(MODELS, lambda ds: any(d.code == "add_table" for d in ds))
        path = shop / "migrations" / "versions" / "0003_contradicting.py"
        path.write_text(PENDING)
        uri = path.as_uri()

        def shown() -> list[types.Diagnostic]:
            return [d for d in session.client.diagnostics.get(uri, []) if d.code == CODE]

        await session.wait_until(harness.DIAGNOSTICS, lambda: len(shown()) >= 3, timeout=60)
        lines = PENDING.splitlines()
        by_line = {lines[d.range.start.line].strip(): d.message for d in shown()}
        assert set(by_line) == {
            'op.add_column("users", sa.Column("email", sa.String(255)))',
            'op.drop_column("orders", "fax")',
            'op.create_table("products", sa.Column("id", sa.Integer(), primary_key=True))',
        }
        assert by_line['op.drop_column("orders", "fax")'].startswith(
            "column orders.fax is not in the database; 'alembic upgrade' would fail at "
            "pending revision 0003"
        )
        assert all(d.severity == types.DiagnosticSeverity.Error for d in shown())
        # Alembic agrees: the first op already fails on this database.
        assert "duplicate column name: email" in alembic_fails(shop, "upgrade", "head")

        # Edited in the editor (unsaved): the errors follow the buffer.
        fixed = "\n".join(
            line
            for line in lines
            if '"email", sa.String' not in line and "fax" not in line and '"products"' not in line
        )
        session.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=PENDING
                )
            )
        )
        session.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=fixed)],
            )
        )
        await session.wait_until(harness.DIAGNOSTICS, lambda: not shown())


async def test_a_column_added_by_hand_says_so(shop: Path) -> None:
    with sqlite3.connect(shop / "shop.db") as conn:
        conn.execute("ALTER TABLE users ADD COLUMN fax VARCHAR(20)")
    async with lsp_session(shop, settings=FAST) as session:
        diagnostics = await session.wait_diagnostics(
            MODELS, lambda ds: any(d.code == "remove_column" for d in ds), timeout=60
        )
        fax = next(
            d
            for d in diagnostics
            if d.code == "remove_column" and (d.data or {}).get("name") == "fax"
        )
        assert "changed by hand: no model and no migration created it" in fax.message
        assert "dropping column users.fax deletes its data" in fax.message
        assert (fax.data or {})["migration"]["category"] == "changed_by_hand"
        # orders.note was created by migration 0002: dropped from the models, not by hand.
        note = next(
            d
            for d in diagnostics
            if d.code == "remove_column" and (d.data or {}).get("name") == "note"
        )
        assert "changed by hand" not in note.message
        assert (note.data or {})["migration"]["category"] == "missing_migration"
