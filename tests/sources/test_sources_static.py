"""Purely static resolution (no import): conventions the parser must infer itself."""

from __future__ import annotations

import textwrap

from schema_lsp.sources import map_sources, parse_module

from .support import as_tuple, span_of

BASE = textwrap.dedent(
    """
    from sqlalchemy.orm import DeclarativeBase, declared_attr


    class Base(DeclarativeBase):
        @declared_attr.directive
        def __tablename__(cls) -> str:
            return cls.__name__.lower()
    """
).lstrip("\n")

MODELS = textwrap.dedent(
    """
    from sqlalchemy.orm import Mapped, mapped_column
    from app.base import Base


    class HasOwner:
        owner: Mapped[str] = mapped_column(comment="who")


    class Invoice(HasOwner, Base):
        id: Mapped[int] = mapped_column(primary_key=True)
    """
).lstrip("\n")


def test_tablename_rule_and_cross_file_base() -> None:
    modules = {
        "app/base.py": parse_module("app/base.py", BASE),
        "app/models.py": parse_module("app/models.py", MODELS),
    }
    source_map = map_sources(modules)
    assert source_map.table_keys() == {(None, "invoice")}
    comment = source_map.locate("modify_comment", None, "invoice", "owner")
    assert comment is not None and comment.path == "app/models.py"
    assert as_tuple(comment) == span_of(MODELS, 'comment="who"')
    header = source_map.locate("add_table", None, "invoice")
    assert as_tuple(header) == span_of(MODELS, "class Invoice(HasOwner, Base):")
    base = source_map.locate("remove_table", None, "other")
    assert base is not None and base.path == "app/base.py"
    assert as_tuple(base) == span_of(BASE, "class Base(DeclarativeBase):")


def test_same_class_name_in_two_files_follows_imports() -> None:
    first = "from sqlalchemy.orm import Mapped\n\n\nclass Mixin:\n    a: Mapped[int]\n"
    second = "from sqlalchemy.orm import Mapped\n\n\nclass Mixin:\n    b: Mapped[int]\n"
    models = textwrap.dedent(
        """
        from sqlalchemy.orm import DeclarativeBase, Mapped
        from pkg.two import Mixin


        class Base(DeclarativeBase):
            pass


        class Thing(Mixin, Base):
            __tablename__ = "things"
        """
    ).lstrip("\n")
    modules = {
        path: parse_module(path, text)
        for path, text in (
            ("pkg/one.py", first),
            ("pkg/two.py", second),
            ("pkg/models.py", models),
        )
    }
    source_map = map_sources(modules)
    found = source_map.locate("add_column", None, "things", "b")
    assert found is not None and found.path == "pkg/two.py"
    assert as_tuple(found) == span_of(second, "b: Mapped[int]")
    missing = source_map.locate("add_column", None, "things", "a")
    assert missing is not None and missing.anchor == "table"


def test_primary_keys_point_at_the_flag() -> None:
    text = textwrap.dedent(
        """
        class Base(DeclarativeBase):
            pass


        class Link(Base):
            __tablename__ = "links"
            left_id: Mapped[int] = mapped_column(primary_key=True)
            right_id: Mapped[int] = mapped_column(primary_key=True)


        class Solo(Base):
            __tablename__ = "solo"
            __table_args__ = (PrimaryKeyConstraint("code", name="pk_solo"),)
            code: Mapped[str]
        """
    ).lstrip("\n")
    source_map = map_sources({"m.py": parse_module("m.py", text)})
    both = source_map.locate("add_pk", None, "links", None, columns=["left_id", "right_id"])
    assert as_tuple(both) == span_of(text, "primary_key=True")
    named = source_map.locate("modify_pk", None, "solo", "pk_solo")
    assert as_tuple(named) == span_of(text, 'PrimaryKeyConstraint("code", name="pk_solo")')
    unnamed = source_map.locate("remove_pk", None, "solo", None, columns=["code"])
    assert as_tuple(unnamed) == span_of(text, "class Solo(Base):")


def test_flask_sqlalchemy_default_table_names() -> None:
    text = textwrap.dedent(
        """
        from flask_sqlalchemy import SQLAlchemy

        db = SQLAlchemy()


        class UserAccount(db.Model):
            id = db.Column(db.Integer, primary_key=True)
            email = db.Column(db.String(120), nullable=False)


        class AdminAccount(UserAccount):
            level = db.Column(db.Integer)
        """
    ).lstrip("\n")
    source_map = map_sources({"app.py": parse_module("app.py", text)})
    assert source_map.table_keys() == {(None, "user_account")}
    email = source_map.locate("modify_nullable", None, "user_account", "email")
    assert as_tuple(email) == span_of(text, "nullable=False")
    level = source_map.locate("add_column", None, "user_account", "level")
    assert as_tuple(level) == span_of(text, "level = db.Column(db.Integer)")
    base = source_map.locate("remove_table", None, "other")
    assert as_tuple(base) == span_of(text, "db = SQLAlchemy()")
