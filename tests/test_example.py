"""The bundled examples/shop project is consistent and shows the drift it advertises."""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"
SHOP_DB = EXAMPLE / "shop.db"

EXPECTED_DRIFT: set[tuple[str, str, str | None]] = {
    ("add_column", "users", "email_verified"),
    ("modify_nullable", "users", "name"),
    ("remove_column", "orders", "note"),
    ("modify_type", "products", "name"),
    ("add_index", "products", "ix_products_name"),
    ("add_table", "reviews", None),
}
"""The drift the example's models deliberately have relative to shop.db."""


@pytest.fixture
def shop_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """``shop.models`` imported from the example directory (as the CLI would)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in ("shop.models", "shop"):
        sys.modules.pop(name, None)
    yield importlib.import_module("shop.models")
    for name in ("shop.models", "shop"):
        sys.modules.pop(name, None)


def _load_build_db() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shop_build_db", EXAMPLE / "build_db.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schema_of(path: Path) -> tuple[list[tuple[str, str, str]], list[tuple[Any, ...]]]:
    """The DDL of every object in a SQLite file, plus its alembic_version rows."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ddl = sorted(
            conn.execute(
                "SELECT type, name, coalesce(sql, '') FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_%'"
            )
        )
        versions = sorted(conn.execute("SELECT version_num FROM alembic_version"))
    finally:
        conn.close()
    return ddl, versions


def _drift_key(entry: Any) -> tuple[str, str, str | None]:
    kind = entry[0]
    if kind == "add_table":
        return kind, entry[1].name, None
    if kind in ("add_column", "remove_column"):
        return kind, entry[2], entry[3].name
    if kind in ("add_index", "remove_index"):
        return kind, entry[1].table.name, entry[1].name
    if kind.startswith("modify_"):
        return kind, entry[2], entry[3]
    return kind, str(entry[1]), None


def _alembic_drift(models: sa.MetaData, opts: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    engine = sa.create_engine(f"sqlite:///file:{SHOP_DB}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts=opts), models)
    finally:
        engine.dispose()
    keys: set[tuple[str, str, str | None]] = set()
    for entry in diffs:
        for item in entry if isinstance(entry, list) else [entry]:
            keys.add(_drift_key(item))
    return keys


def test_committed_shop_db_matches_build_db(tmp_path: Path) -> None:
    rebuilt = _load_build_db().build_database(tmp_path / "rebuilt.db")
    committed_ddl, committed_versions = _schema_of(SHOP_DB)
    rebuilt_ddl, rebuilt_versions = _schema_of(rebuilt)
    assert committed_ddl == rebuilt_ddl
    assert committed_versions == rebuilt_versions
    assert {name for kind, name, _ in committed_ddl if kind == "table"} >= {
        "users", "products", "orders", "order_items", "alembic_version",
    }


def test_shop_db_is_at_migration_head() -> None:
    config = Config(str(EXAMPLE / "alembic.ini"))
    config.set_main_option("script_location", str(EXAMPLE / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1
    assert _schema_of(SHOP_DB)[1] == [(heads[0],)]


@pytest.mark.parametrize(
    "opts",
    [{"compare_type": True}, {"compare_type": True, "compare_server_default": True}],
    ids=["types", "types+defaults"],
)
def test_alembic_reports_exactly_the_advertised_drift(
    shop_models: ModuleType, opts: dict[str, Any]
) -> None:
    assert _alembic_drift(shop_models.Base.metadata, opts) == EXPECTED_DRIFT


def test_models_without_the_drift_match_shop_db(shop_models: ModuleType) -> None:
    """Undoing the advertised drift on a copy of the models leaves no difference.

    Guards against accidental drift creeping into the example.
    """
    undrifted = sa.MetaData()
    for table in shop_models.Base.metadata.sorted_tables:
        if table.name != "reviews":
            table.to_metadata(undrifted)
    users, products, orders = (undrifted.tables[n] for n in ("users", "products", "orders"))
    users._columns.remove(users.c.email_verified)  # no public API removes a column
    users.c.name.nullable = True
    products.c.name.type = sa.String(100)
    products.indexes.discard(next(i for i in products.indexes if i.name == "ix_products_name"))
    orders.append_column(sa.Column("note", sa.Text(), nullable=True))
    opts = {"compare_type": True, "compare_server_default": True}
    assert _alembic_drift(undrifted, opts) == set()


def test_example_config_points_at_models_db_and_migrations(shop_models: ModuleType) -> None:
    tomllib = pytest.importorskip("tomllib")
    settings = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["tool"]["schema-lsp"]
    assert settings["database_url"] == "sqlite:///shop.db"
    assert (EXAMPLE / settings["migrations"] / "env.py").is_file()
    (models_ref,) = settings["models"]
    module_name, attr = models_ref.split(":")
    assert getattr(importlib.import_module(module_name), attr) is shop_models.Base

    ini = configparser.ConfigParser()
    ini.read(EXAMPLE / "alembic.ini")
    assert ini["alembic"]["script_location"] == settings["migrations"]
    assert ini["alembic"]["sqlalchemy.url"] == settings["database_url"]
