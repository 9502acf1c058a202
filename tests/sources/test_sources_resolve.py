"""Drift records land on the right model text, with and without runtime hints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from schema_lsp.sources import (
    SourceLocation,
    SourceMap,
    collect_hints,
    hints_from_data,
    hints_to_data,
    map_sources,
)

from .support import ModelPackage, as_tuple, model_package, span_of

BASE = """
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=CONVENTION)
"""

MIXINS = """
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, func
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())

    @declared_attr
    def owner_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"))
"""

MODELS = """
from typing import Optional

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from .base import Base
from .mixins import TimestampMixin


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("nick", "org", name="uq_users_nick_org"),
        {"comment": "People"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[Optional[str]] = mapped_column("email_address", String(255), index=True)
    name: Mapped[str | None]
    nick: Mapped[str] = mapped_column(String(30), unique=True)
    org = Column(Integer, nullable=False, comment="organisation")
    posts: Mapped[list["Post"]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author: Mapped[User] = relationship(back_populates="posts")


class Employee(Base):
    __tablename__ = "employees"
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "employee"}

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]


class Manager(Employee):
    __mapper_args__ = {"polymorphic_identity": "manager"}

    reports: Mapped[int | None]


class Engineer(Employee):
    __tablename__ = "engineers"
    __mapper_args__ = {"polymorphic_identity": "engineer"}

    id: Mapped[int] = mapped_column(ForeignKey("employees.id"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(20))


class Account(Base):
    __table_args__ = {"schema": "billing"}

    @declared_attr.directive
    def __tablename__(cls) -> str:
        return "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    balance: Mapped[int] = mapped_column(server_default="0")


class Legacy(Base):
    __table__ = Table(
        "legacy",
        Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("code", String(8), index=True),
    )


tags = Table(
    "tags",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(20), comment="shown"),
)

Index("ix_users_name_nick", User.name, User.nick)
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelPackage]:
    files = {"base": BASE, "mixins": MIXINS, "models": MODELS}
    with model_package(tmp_path_factory.mktemp("pkg"), files, ("models",)) as pkg:
        yield pkg


@pytest.fixture(scope="module")
def hinted(package: ModelPackage) -> SourceMap:
    hints = collect_hints(package.module("base").Base)
    # go through JSON as the worker does
    hints = hints_from_data(json.loads(json.dumps(hints_to_data(hints))))
    return map_sources(package.parse(), hints)


@pytest.fixture(scope="module")
def static(package: ModelPackage) -> SourceMap:
    return map_sources(package.parse())


@pytest.fixture(params=["hinted", "static"])
def source_map(request: pytest.FixtureRequest) -> SourceMap:
    found: SourceMap = request.getfixturevalue(request.param)
    return found


def _at(package: ModelPackage, module: str, needle: str, occurrence: int = 0) -> tuple:
    return (package.path(module), *span_of(package.texts[module], needle, occurrence))


def _loc(location: SourceLocation | None) -> tuple | None:
    if location is None:
        return None
    return (location.path, *(as_tuple(location) or ()))


EMAIL_LINE = (
    'email: Mapped[Optional[str]] = mapped_column("email_address", String(255), index=True)'
)


def test_column_missing_points_at_definition(source_map: SourceMap, package: ModelPackage) -> None:
    found = source_map.locate("add_column", None, "users", "email_address")
    assert _loc(found) == _at(package, "models", EMAIL_LINE)
    assert found is not None and found.anchor == "column"
    name = source_map.locate("add_column", None, "users", "name")
    assert _loc(name) == _at(package, "models", "name: Mapped[str | None]")


def test_argument_that_differs(source_map: SourceMap, package: ModelPackage) -> None:
    cases = [
        ("modify_type", "email_address", "String(255)"),
        ("modify_nullable", "email_address", "Optional[str]"),
        ("modify_nullable", "name", "str | None"),
        ("modify_type", "name", "str | None"),
        ("modify_nullable", "org", "nullable=False"),
        ("modify_comment", "org", 'comment="organisation"'),
        ("modify_type", "org", "Integer, nullable"),
    ]
    for kind, column, needle in cases:
        found = source_map.locate(kind, None, "users", column)
        expected = _at(package, "models", needle)
        if needle == "Integer, nullable":
            expected = (*expected[:4], expected[4] - len(", nullable"))
        assert _loc(found) == expected, (kind, column)
        assert found is not None and found.anchor == "argument"


def test_primary_key_decides_nullability(source_map: SourceMap, package: ModelPackage) -> None:
    found = source_map.locate("modify_nullable", None, "posts", "id")
    assert _loc(found) == _at(package, "models", "primary_key=True", occurrence=1)


def test_argument_not_written_falls_back_to_column(
    source_map: SourceMap, package: ModelPackage
) -> None:
    found = source_map.locate("modify_default", None, "users", "email_address")
    assert _loc(found) == _at(package, "models", EMAIL_LINE)
    explicit = source_map.locate(
        "modify_comment", None, "users", "email_address", attribute="comment"
    )
    assert _loc(explicit) == _at(package, "models", EMAIL_LINE)


def test_table_level_drift_points_at_class_header(
    source_map: SourceMap, package: ModelPackage
) -> None:
    header = _at(package, "models", "class User(TimestampMixin, Base):")
    assert _loc(source_map.locate("remove_column", None, "users", "gone")) == header
    assert _loc(source_map.locate("add_table", None, "users", None)) == header
    assert _loc(source_map.locate("add_column", None, "users", "not_in_model")) == header
    comment = source_map.locate("add_table_comment", None, "users", None)
    assert _loc(comment) == _at(package, "models", '"comment": "People"')


def test_table_only_in_database_points_at_base(
    source_map: SourceMap, package: ModelPackage
) -> None:
    base = _at(package, "base", "class Base(DeclarativeBase):")
    assert _loc(source_map.locate("remove_table", None, "audit_log", None)) == base
    found = source_map.locate("remove_table", None, "audit_log", None)
    assert found is not None and found.anchor == "base"


def test_mixin_columns_point_into_the_mixin_file(
    source_map: SourceMap, package: ModelPackage
) -> None:
    created = source_map.locate("add_column", None, "users", "created_at")
    line = "created_at: Mapped[datetime] = mapped_column(DateTime, server_default=func.now())"
    assert _loc(created) == _at(package, "mixins", line)
    default = source_map.locate("modify_default", None, "posts", "created_at")
    # Post does not use the mixin: its table has no such column
    assert _loc(default) == _at(package, "models", "class Post(Base):")
    owner = source_map.locate("add_column", None, "users", "owner_id")
    assert _loc(owner) == _at(package, "mixins", "def owner_id(cls) -> Mapped[int | None]:")


def test_single_table_inheritance(source_map: SourceMap, package: ModelPackage) -> None:
    reports = source_map.locate("add_column", None, "employees", "reports")
    assert _loc(reports) == _at(package, "models", "reports: Mapped[int | None]")
    header = source_map.locate("remove_column", None, "employees", "x")
    assert _loc(header) == _at(package, "models", "class Employee(Base):")


def test_joined_table_inheritance(source_map: SourceMap, package: ModelPackage) -> None:
    skill = source_map.locate("modify_type", None, "engineers", "skill")
    assert _loc(skill) == _at(package, "models", "String(20)")
    fk = source_map.locate("add_fk", None, "engineers", None, columns=["id"])
    assert _loc(fk) == _at(package, "models", 'ForeignKey("employees.id")')
    header = source_map.locate("remove_column", None, "engineers", "x")
    assert _loc(header) == _at(package, "models", "class Engineer(Employee):")
    # the parent's columns are not part of the child's table
    assert _loc(source_map.locate("add_column", None, "engineers", "kind")) == _loc(header)


def test_schema_from_table_args_dict_and_declared_tablename(
    source_map: SourceMap, package: ModelPackage
) -> None:
    found = source_map.locate("modify_default", "billing", "accounts", "balance")
    assert _loc(found) == _at(package, "models", 'server_default="0"')
    assert _loc(source_map.locate("add_table", "billing", "accounts")) == _at(
        package, "models", "class Account(Base):"
    )


def test_imperative_tables(source_map: SourceMap, package: ModelPackage) -> None:
    label = source_map.locate("modify_comment", None, "tags", "label")
    assert _loc(label) == _at(package, "models", 'comment="shown"')
    added = source_map.locate("add_column", None, "tags", "label")
    assert _loc(added) == _at(package, "models", 'Column("label", String(20), comment="shown")')
    table = source_map.locate("remove_column", None, "tags", "old")
    start = _at(package, "models", "Table(", occurrence=1)
    name = _at(package, "models", '"tags"')
    assert _loc(table) == (start[0], start[1], start[2], name[3], name[4])
    legacy = source_map.locate("add_column", None, "legacy", "code")
    assert _loc(legacy) == _at(package, "models", 'Column("code", String(8), index=True)')
    assert _loc(source_map.locate("remove_column", None, "legacy", "x")) == _at(
        package, "models", "class Legacy(Base):"
    )


def test_named_constraints_and_module_level_index(
    source_map: SourceMap, package: ModelPackage
) -> None:
    unique = source_map.locate("add_constraint", None, "users", "uq_users_nick_org")
    assert _loc(unique) == _at(
        package, "models", 'UniqueConstraint("nick", "org", name="uq_users_nick_org")'
    )
    index = source_map.locate("add_index", None, "users", "ix_users_name_nick")
    assert _loc(index) == _at(
        package, "models", 'Index("ix_users_name_nick", User.name, User.nick)'
    )
    assert index is not None and index.anchor == "constraint"


def test_unnamed_constraints_match_by_columns(source_map: SourceMap, package: ModelPackage) -> None:
    fk = source_map.locate("add_fk", None, "posts", None, columns=["author_id"])
    assert _loc(fk) == _at(package, "models", 'ForeignKey("users.id")', occurrence=0)
    index = source_map.locate("add_index", None, "users", "whatever", columns=["email_address"])
    assert _loc(index) == _at(package, "models", "index=True")
    unique = source_map.locate("add_constraint", None, "users", None, columns=["nick"])
    assert _loc(unique) == _at(package, "models", "unique=True")
    by_key = source_map.locate("add_index", None, "users", None, columns=["name", "nick"])
    assert _loc(by_key) == _at(
        package, "models", 'Index("ix_users_name_nick", User.name, User.nick)'
    )


def test_naming_convention_names_resolve_through_hints(
    hinted: SourceMap, package: ModelPackage
) -> None:
    index = hinted.locate("add_index", None, "users", "ix_users_email_address")
    assert _loc(index) == _at(package, "models", "index=True")
    unique = hinted.locate("add_constraint", None, "users", "uq_users_nick")
    assert _loc(unique) == _at(package, "models", "unique=True")
    fk = hinted.locate("add_fk", None, "posts", "fk_posts_author_id_users")
    assert _loc(fk) == _at(package, "models", 'ForeignKey("users.id")')
    legacy = hinted.locate("add_index", None, "legacy", "ix_legacy_code")
    assert _loc(legacy) == _at(package, "models", "index=True", occurrence=1)


def test_removed_constraint_not_in_model_points_at_header(
    source_map: SourceMap, package: ModelPackage
) -> None:
    found = source_map.locate("remove_index", None, "users", "ix_old", columns=["nick"])
    assert _loc(found) == _at(package, "models", "class User(TimestampMixin, Base):")


def test_unknown_schema_falls_back_to_table_name(
    source_map: SourceMap, package: ModelPackage
) -> None:
    found = source_map.locate("add_column", "public", "users", "name")
    assert _loc(found) == _at(package, "models", "name: Mapped[str | None]")


def test_hints_only_for_unparsed_files_still_resolve(package: ModelPackage) -> None:
    hints = collect_hints(package.module("base").Base.metadata)
    models_only = {package.path("models"): package.parse()[package.path("models")]}
    source_map = map_sources(models_only, hints)
    # the mixin file was not parsed: fall back to the class header
    found = source_map.locate("add_column", None, "users", "created_at")
    assert _loc(found) == _at(package, "models", "class User(TimestampMixin, Base):")
    # the base file was not parsed: no base location for unknown tables
    assert source_map.locate("remove_table", None, "nowhere", None) is None


def test_hints_describe_runtime_facts(package: ModelPackage) -> None:
    hints = {(h.schema, h.name): h for h in collect_hints(package.module("base").Base)}
    assert set(hints) == {
        (None, "users"),
        (None, "posts"),
        (None, "employees"),
        (None, "engineers"),
        ("billing", "accounts"),
        (None, "legacy"),
        (None, "tags"),
    }
    users = hints[(None, "users")]
    assert users.mapped_class is not None
    assert (Path(users.mapped_class.file or ""), users.mapped_class.name) == (
        Path(package.path("models")),
        "User",
    )
    columns = {c.name: c for c in users.columns}
    assert columns["email_address"].key == "email"
    assert [(Path(o.file or ""), o.name) for o in columns["created_at"].origins][-1] == (
        Path(package.path("mixins")),
        "TimestampMixin",
    )
    names = {(c.kind, c.name) for c in users.constraints}
    assert ("index", "ix_users_email_address") in names
    assert ("unique", "uq_users_nick") in names
    reports = {c.name: c for c in hints[(None, "employees")].columns}["reports"]
    assert reports.origins[0].name == "Manager"
    tags = hints[(None, "tags")]
    assert tags.mapped_class is None
    assert [ref.name for ref in tags.table_variables] == ["tags"]
    assert users.metadata[0].name == "Base"
    assert Path(users.metadata[0].file or "") == Path(package.path("base"))
    assert hints_from_data(hints_to_data(hints.values())) == list(hints.values())


def test_location_round_trip() -> None:
    location = SourceLocation("m.py", 1, 2, 3, 4, "column")
    assert SourceLocation.from_dict(json.loads(json.dumps(location.to_dict()))) == location
