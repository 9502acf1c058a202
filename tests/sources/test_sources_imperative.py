"""Classic styles: ``declarative_base()``, plain ``MetaData`` tables, imperative mapping."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from schema_lsp.sources import ModuleSyntax, collect_hints, map_sources, parse_module

from .support import as_tuple, model_package, span_of

CLASSIC = """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from sqlalchemy.orm import declarative_base, registry

Base = declarative_base()
metadata = MetaData()
mapper_registry = registry(metadata=metadata)


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    customer = Column("customer_name", String(40), nullable=False, index=True)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("accounts.id")),
)


class Account:
    pass


mapper_registry.map_imperatively(Account, accounts)
"""


@pytest.mark.parametrize("use_hints", [True, False], ids=["hinted", "static"])
def test_declarative_base_factory_and_classic_columns(tmp_path: Path, use_hints: bool) -> None:
    with model_package(tmp_path, {"models": CLASSIC}, ("models",)) as package:
        text = package.texts["models"]
        base = package.module("models").Base
        hints = collect_hints(base) if use_hints else []
        source_map = map_sources(package.parse(), hints)
        nullable = source_map.locate("modify_nullable", None, "orders", "customer_name")
        assert as_tuple(nullable) == span_of(text, "nullable=False")
        index = source_map.locate("add_index", None, "orders", None, columns=["customer_name"])
        assert as_tuple(index) == span_of(text, "index=True")
        unknown = source_map.locate("remove_table", None, "ghost", None)
        assert unknown is not None and unknown.anchor == "base"
        assert as_tuple(unknown) == span_of(text, "Base = declarative_base()")


def test_plain_metadata_and_imperative_mapping(tmp_path: Path) -> None:
    with model_package(tmp_path, {"models": CLASSIC}, ("models",)) as package:
        text = package.texts["models"]
        hints = collect_hints(package.module("models").metadata)
        (hint,) = hints
        assert hint.mapped_class is not None and hint.mapped_class.name == "Account"
        assert [ref.name for ref in hint.table_variables] == ["accounts"]
        source_map = map_sources(package.parse(), hints)
        header = source_map.locate("remove_column", None, "accounts", "legacy")
        start = span_of(text, "Table(")
        name = span_of(text, '"accounts"')
        assert as_tuple(header) == (start[0], start[1], name[2], name[3])
        fk = source_map.locate("add_fk", None, "accounts", None, columns=["owner_id"])
        assert as_tuple(fk) == span_of(text, 'ForeignKey("accounts.id")')
        gone = source_map.locate("remove_table", None, "ghost", None)
        assert as_tuple(gone) == span_of(text, "metadata = MetaData()")


def test_table_in_a_broken_file_is_not_placed_on_the_base(tmp_path: Path) -> None:
    files = {
        "base": (
            "from sqlalchemy.orm import DeclarativeBase\n\n\n"
            "class Base(DeclarativeBase):\n"
            "    pass\n"
        ),
        "models": (
            "from sqlalchemy.orm import Mapped, mapped_column\n"
            "from .base import Base\n\n\n"
            "class Item(Base):\n"
            '    __tablename__ = "items"\n'
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
        ),
    }
    with model_package(tmp_path, files, ("models",)) as package:
        hints = collect_hints(package.module("base").Base)
        modules: dict[str, ModuleSyntax] = package.parse()
        broken = package.texts["models"] + "    name: Mapped[str] = (\n"
        modules[package.path("models")] = parse_module(package.path("models"), broken)
        assert modules[package.path("models")].error is not None
        source_map = map_sources(modules, hints)
        assert source_map.locate("add_column", None, "items", "name") is None
        ghost = source_map.locate("remove_table", None, "ghost", None)
        assert as_tuple(ghost) == span_of(package.texts["base"], "class Base(DeclarativeBase):")


def test_table_imported_elsewhere_still_points_at_its_definition(tmp_path: Path) -> None:
    files = {
        "tables": (
            "from sqlalchemy import Column, Integer, MetaData, Table\n\n"
            "metadata = MetaData()\n"
            'things = Table("things", metadata, Column("id", Integer, primary_key=True))\n'
        ),
        "uses": "from .tables import metadata, things\n",
    }
    with model_package(tmp_path, files, ("uses",)) as package:
        hints = collect_hints(package.module("tables").metadata)
        (hint,) = hints
        assert {Path(ref.file or "").stem for ref in hint.table_variables} == {"tables", "uses"}
        importer_first = sorted(hint.table_variables, key=lambda r: "uses" not in (r.file or ""))
        hint = dataclasses.replace(hint, table_variables=tuple(importer_first))
        source_map = map_sources(package.parse(), [hint])
        found = source_map.locate("add_column", None, "things", "id")
        assert found is not None and found.path == package.path("tables")
        text = package.texts["tables"]
        assert as_tuple(found) == span_of(text, 'Column("id", Integer, primary_key=True)')
        base = source_map.locate("remove_table", None, "ghost", None)
        assert base is not None and base.path == package.path("tables")


def test_registry_target_and_bad_target(tmp_path: Path) -> None:
    with model_package(tmp_path, {"models": CLASSIC}, ("models",)) as package:
        module = package.module("models")
        by_registry = collect_hints(module.mapper_registry)
        assert [(h.name, h.mapped_class and h.mapped_class.name) for h in by_registry] == [
            ("accounts", "Account")
        ]
        by_base = collect_hints(module.Base)
        assert [h.name for h in by_base] == ["orders"]
    with pytest.raises(TypeError):
        collect_hints(object)


def test_hints_of_equal_tables_are_equal_whatever_the_set_order() -> None:
    """``table.constraints`` is a set: its order changes with every import, and the worker
    sends a table's hints again whenever they differ from the last ones."""
    import sqlalchemy as sa

    from schema_lsp.sources.hints import collect_hint_data

    def build() -> sa.MetaData:
        metadata = sa.MetaData()
        columns = [sa.Column(f"c{i}", sa.Integer) for i in range(8)]
        sa.Table(
            "t",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            *columns,
            *[sa.UniqueConstraint(f"c{i}", name=f"uq_{i}") for i in range(8)],
            *[sa.Index(f"ix_{i}", f"c{i}") for i in range(8)],
        )
        return metadata

    first, second = build(), build()
    assert collect_hint_data(first) == collect_hint_data(second)
