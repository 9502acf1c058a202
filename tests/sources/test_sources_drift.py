"""End to end on SQLite: real drift records from the comparison engine land on model text."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from schema_lsp.check import check_drift
from schema_lsp.sources import collect_hints, map_sources

from .support import as_tuple, model_package, span_of

MODELS = """
from typing import Optional

from sqlalchemy import ForeignKey, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=CONVENTION)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("name", "city"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[Optional[str]] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(50))
    city: Mapped[str | None] = mapped_column(String(30), server_default="Paris")
    code: Mapped[str] = mapped_column(String(5), unique=True)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
"""

DATABASE = """
create table customers (id integer primary key, email varchar(100), name varchar(50) not null,
                        legacy text);
create table audit (id integer primary key);
create table orders (id integer primary key, customer_id integer not null);
create index ix_customers_name on customers(name);
"""

EXPECTED = {
    ("remove_table", "audit", None): "class Base(DeclarativeBase):",
    ("add_column", "customers", "city"): (
        'city: Mapped[str | None] = mapped_column(String(30), server_default="Paris")'
    ),
    ("add_column", "customers", "code"): (
        "code: Mapped[str] = mapped_column(String(5), unique=True)"
    ),
    ("modify_type", "customers", "email"): "String(200)",
    ("remove_index", "customers", "ix_customers_name"): "class Customer(Base):",
    ("add_index", "customers", "ix_customers_email"): "index=True",
    ("add_constraint", "customers", "uq_customers_code"): "unique=True",
    ("add_constraint", "customers", "uq_customers_name"): 'UniqueConstraint("name", "city")',
    ("remove_column", "customers", "legacy"): "class Customer(Base):",
    ("add_fk", "orders", "fk_orders_customer_id_customers"): 'ForeignKey("customers.id")',
}


@pytest.mark.parametrize("use_hints", [True, False], ids=["hinted", "static"])
def test_drift_records_from_sqlite(tmp_path: Path, use_hints: bool) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as conn:
        conn.executescript(DATABASE)
    with model_package(tmp_path, {"models": MODELS}, ("models",)) as package:
        result = check_drift(
            f"{package.name}.models:Base", f"sqlite:///{database}", project_dir=tmp_path
        )
        hints = collect_hints(package.module("models").Base) if use_hints else []
        source_map = map_sources(package.parse(), hints)
        text = package.texts["models"]
        placed = {}
        for drift in result.drift:
            location = source_map.locate(
                drift.kind,
                drift.schema,
                drift.table,
                drift.name,
                attribute=drift.attribute,
                columns=drift.columns,
            )
            assert location is not None, drift
            assert location.path == package.path("models")
            placed[(drift.kind, drift.table, drift.name)] = as_tuple(location)
    for key, needle in EXPECTED.items():
        assert placed.get(key) == span_of(text, needle), key
