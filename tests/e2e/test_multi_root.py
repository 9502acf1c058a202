"""End to end over stdio: one server, two workspace roots, each with its own configuration.

Root A is the example shop on its SQLite file; root B is a small inventory project whose
database is SQLite or PostgreSQL. Each root's drift must land in its own files only, a save
re-checks only its root, and folders added or removed mid-session start or stop checks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from harness import Session, copy_example, folder, lsp_session
from lsprotocol import types
from sqlalchemy.engine import URL

from tests.databases import make_engine
from tests.reliability.lspkit import descendants

SHOP_MODELS = "alpha/shop-project/shop/models.py"
INVENTORY_MODELS = "beta/inventory/inventory_models.py"
SHOP_TABLES = {"users", "products", "orders", "order_items", "reviews"}
INVENTORY_TABLES = {"items", "bins", "old_counts"}

INVENTORY_TEXT = """import sqlalchemy as sa

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label", sa.String(80), nullable=False),
)
bins = sa.Table("bins", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""


def build_inventory_database(url: URL) -> None:
    """The inventory's database: ``items.label`` too short, ``bins`` missing, one extra table."""
    meta = sa.MetaData()
    sa.Table(
        "items",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(40), nullable=False),
    )
    sa.Table("old_counts", meta, sa.Column("id", sa.Integer, primary_key=True))
    engine = make_engine(url)
    try:
        meta.create_all(engine)
    finally:
        engine.dispose()


def inventory_project(base: Path, url: URL) -> Path:
    root = base / "beta" / "inventory"
    root.mkdir(parents=True)
    (root / "inventory_models.py").write_text(INVENTORY_TEXT, encoding="utf-8")
    rendered = url.render_as_string(hide_password=False)
    (root / "pyproject.toml").write_text(
        f'[tool.schema-lsp]\nmodels = ["inventory_models:metadata"]\ndatabase_url = "{rendered}"\n',
        encoding="utf-8",
    )
    build_inventory_database(url)
    return root


def tables(diagnostics: list[types.Diagnostic]) -> set[str]:
    return {str((d.data or {}).get("table")) for d in diagnostics}


def workers_in(session: Session, root: Path) -> list[int]:
    """Processes below the server whose working directory is ``root`` (its worker)."""
    server = session.client._server
    assert server is not None
    found = []
    for pid in descendants(server.pid):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")) == root:
                found.append(pid)
        except OSError:
            continue
    return found


async def connected(session: Session, root: Path, after: int) -> dict[str, Any]:
    return await session.wait_status(
        lambda s: s["root"] == root.as_uri() and s["state"] == "connected", after=after
    )


@pytest.mark.backends("sqlite", "postgresql")
async def test_two_roots_each_with_its_own_models_database_and_settings(
    tmp_path: Path, db_url: URL
) -> None:
    shop = copy_example(tmp_path / "alpha")
    inventory = inventory_project(tmp_path, db_url)
    settings = {
        shop: {"checkInterval": 3600, "severity": {"default": "information"}},
        inventory: {"checkInterval": 3600, "severity": {"default": "error"}},
    }
    roots = [shop, inventory]
    async with lsp_session(tmp_path, folders=roots, scoped_settings=settings) as session:
        a = await session.wait_diagnostics(SHOP_MODELS, lambda ds: "reviews" in tables(ds), 60)
        b = await session.wait_diagnostics(INVENTORY_MODELS, lambda ds: "bins" in tables(ds), 60)
        await connected(session, shop, 0)
        await connected(session, inventory, 0)

        # Each root's drift, in that root's file, with that root's severity (scopeUri).
        assert tables(a) <= SHOP_TABLES and {"users", "products", "reviews"} <= tables(a)
        assert tables(b) == INVENTORY_TABLES
        assert {str(d.code) for d in b} == {"modify_type", "add_table", "remove_table"}
        assert {d.severity for d in a} == {types.DiagnosticSeverity.Information}
        assert {d.severity for d in b} == {types.DiagnosticSeverity.Error}
        published = {uri for uri, ds in session.client.diagnostics.items() if ds}
        assert published == {session.uri(SHOP_MODELS), session.uri(INVENTORY_MODELS)}

        # A save in A re-checks A only: every status after it names A.
        before = len(session.statuses)
        session.open(SHOP_MODELS)
        text = (tmp_path / SHOP_MODELS).read_text()
        session.save(SHOP_MODELS, text.replace("String(200)", "String(100)"))
        await session.wait_diagnostics(
            SHOP_MODELS, lambda ds: not any(d.code == "modify_type" for d in ds)
        )
        await connected(session, shop, before)
        after_save = session.statuses[before:]
        assert after_save and {s["root"] for s in after_save} == {shop.as_uri()}
        assert any(s["state"] == "checking" for s in after_save)
        assert session.diagnostics(INVENTORY_MODELS) == b

        # Removing B stops its checks (its worker exits) and clears its diagnostics.
        assert workers_in(session, inventory), "B's worker runs while B is open"
        removed = len(session.statuses)
        session.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[], removed=[folder(inventory)])
            )
        )
        await session.wait_diagnostics(INVENTORY_MODELS, lambda ds: ds == [])
        assert not workers_in(session, inventory)
        assert session.diagnostics(SHOP_MODELS), "A keeps its diagnostics"
        # A save in the removed root is ignored; A still answers its own saves.
        session.save(INVENTORY_MODELS, INVENTORY_TEXT.replace("String(80)", "String(40)"))
        session.save(SHOP_MODELS, text)
        await session.wait_diagnostics(
            SHOP_MODELS, lambda ds: any(d.code == "modify_type" for d in ds)
        )
        await connected(session, shop, removed)
        assert all(s["root"] != inventory.as_uri() for s in session.statuses[removed:])

        # Adding B back starts its checks again, on the model file as it is now.
        session.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[folder(inventory)], removed=[])
            )
        )
        back = await session.wait_diagnostics(INVENTORY_MODELS, lambda ds: bool(ds), 60)
        assert {str(d.code) for d in back} == {"add_table", "remove_table"}
        assert {d.severity for d in back} == {types.DiagnosticSeverity.Error}
        assert workers_in(session, inventory)


async def test_a_folder_added_while_settings_change_gets_one_checker(tmp_path: Path) -> None:
    """didChangeWorkspaceFolders and didChangeConfiguration racing for a new root."""
    shop = copy_example(tmp_path / "alpha")
    inventory = inventory_project(tmp_path, URL.create("sqlite", database=str(tmp_path / "b.db")))
    quiet = {"checkInterval": 3600}
    settings = {shop: quiet, inventory: quiet}
    async with lsp_session(tmp_path, folders=[shop], scoped_settings=settings) as session:
        await session.wait_diagnostics(SHOP_MODELS, lambda ds: "reviews" in tables(ds), 60)
        session.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[folder(inventory)], removed=[])
            )
        )
        session.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"schemaLsp": quiet})
        )
        await session.wait_diagnostics(INVENTORY_MODELS, lambda ds: "bins" in tables(ds), 60)
        await connected(session, inventory, 0)
        startups = [
            s
            for s in session.statuses
            if s["root"] == inventory.as_uri() and s["message"] == "checking (startup)"
        ]
        assert len(startups) == 1, session.statuses

        session.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[], removed=[folder(inventory)])
            )
        )
        await session.wait_diagnostics(INVENTORY_MODELS, lambda ds: ds == [])
        assert not workers_in(session, inventory), "no checker of a removed root survives"
