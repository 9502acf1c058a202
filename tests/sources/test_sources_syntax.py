"""Static parse: every recorded range must cover exactly the text it names."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schema_lsp.sources import ClassSyntax, ModuleSyntax, parse_module

from .support import as_tuple, span_of

DECLARATIVE = textwrap.dedent(
    """
    from typing import Optional
    from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint
    from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship


    class Base(DeclarativeBase):
        pass


    class User(Base):
        __tablename__ = "users"
        __table_args__ = (
            UniqueConstraint("name", "org_id", name="uq_users_name"),
            Index("ix_users_lower", "name"),
            {"schema": "billing", "comment": "People"},
        )

        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[Optional[str]] = mapped_column("email_address", String(255), index=True)
        name: Mapped[str | None]
        nick: Mapped[str]
        org_id = Column(Integer, ForeignKey("orgs.id"), nullable=False, comment="owner")
        age: Mapped[int] = mapped_column(server_default="0", unique=True)
        posts: Mapped[list["Post"]] = relationship(back_populates="author")
        helper = 3

        @declared_attr
        def code(cls) -> Mapped[str]:
            return mapped_column(String(8), nullable=True)
    """
).lstrip("\n")


def _class(module: ModuleSyntax, name: str) -> ClassSyntax:
    found = module.find_class(name)
    assert found is not None, name
    return found


def test_class_header_tablename_and_table_args() -> None:
    module = parse_module("models.py", DECLARATIVE)
    assert module.error is None
    user = _class(module, "User")
    assert as_tuple(user.span) == span_of(DECLARATIVE, "class User(Base):")
    assert user.tablename == "users"
    assert user.schema == "billing"
    assert as_tuple(user.table_comment_span) == span_of(DECLARATIVE, '"comment": "People"')
    kinds = [(c.kind, c.name, c.columns) for c in user.table_args]
    assert kinds == [
        ("unique", "uq_users_name", ("name", "org_id")),
        ("index", "ix_users_lower", ("name",)),
    ]
    assert as_tuple(user.table_args[1].span) == span_of(
        DECLARATIVE, 'Index("ix_users_lower", "name")'
    )


def test_attribute_kinds_and_argument_ranges() -> None:
    module = parse_module("models.py", DECLARATIVE)
    user = _class(module, "User")
    kinds = {a.key: a.kind for a in user.attributes}
    assert kinds == {
        "id": "column",
        "email": "column",
        "name": "column",
        "nick": "column",
        "org_id": "column",
        "age": "column",
        "posts": "relationship",
        "helper": "other",
        "code": "column",
    }
    email = user.attribute("email")
    assert email is not None
    assert email.name == "email_address" and email.column_name == "email_address"
    line = 'email: Mapped[Optional[str]] = mapped_column("email_address", String(255), index=True)'
    assert as_tuple(email.span) == span_of(DECLARATIVE, line)
    assert as_tuple(email.type_span) == span_of(DECLARATIVE, "String(255)")
    assert as_tuple(email.annotation_type_span) == span_of(DECLARATIVE, "Optional[str]")
    assert email.optional is True
    assert as_tuple(email.index_span) == span_of(DECLARATIVE, "index=True")

    name = user.attribute("name")
    assert name is not None and name.optional is True and name.call_span is None
    assert as_tuple(name.annotation_type_span) == span_of(DECLARATIVE, "str | None")
    nick = user.attribute("nick")
    assert nick is not None and nick.optional is False

    org = user.attribute("org_id")
    assert org is not None
    assert as_tuple(org.type_span) == span_of(DECLARATIVE, "Integer", occurrence=1)
    assert [fk.target for fk in org.foreign_keys] == ["orgs.id"]
    assert as_tuple(org.foreign_keys[0].span) == span_of(DECLARATIVE, 'ForeignKey("orgs.id")')
    assert as_tuple(org.nullable_span) == span_of(DECLARATIVE, "nullable=False")
    assert as_tuple(org.comment_span) == span_of(DECLARATIVE, 'comment="owner"')

    age = user.attribute("age")
    assert age is not None
    assert as_tuple(age.server_default_span) == span_of(DECLARATIVE, 'server_default="0"')
    assert as_tuple(age.unique_span) == span_of(DECLARATIVE, "unique=True")
    assert age.type_span is None

    code = user.attribute("code")
    assert code is not None
    assert as_tuple(code.span) == span_of(DECLARATIVE, "def code(cls) -> Mapped[str]:")
    assert as_tuple(code.nullable_span) == span_of(DECLARATIVE, "nullable=True")


def test_declarative_base_is_recorded() -> None:
    module = parse_module("models.py", DECLARATIVE)
    assert [(b.name, b.kind) for b in module.bases] == [("Base", "declarative_class")]
    assert as_tuple(module.bases[0].span) == span_of(DECLARATIVE, "class Base(DeclarativeBase):")


def test_other_base_forms() -> None:
    text = textwrap.dedent(
        """
        import sqlalchemy as sa
        from sqlalchemy.orm import declarative_base, registry

        metadata = sa.MetaData(schema="app")
        Base = declarative_base(metadata=metadata)
        mapper_registry = registry()
        """
    ).lstrip("\n")
    module = parse_module("base.py", text)
    found = {(b.name, b.kind): as_tuple(b.span) for b in module.bases}
    assert found == {
        ("metadata", "metadata"): span_of(text, 'metadata = sa.MetaData(schema="app")'),
        ("Base", "declarative_base"): span_of(text, "Base = declarative_base(metadata=metadata)"),
        ("mapper_registry", "registry"): span_of(text, "mapper_registry = registry()"),
    }


def test_imperative_table_and_module_level_index() -> None:
    text = textwrap.dedent(
        """
        from sqlalchemy import Column, Index, Integer, MetaData, String, Table

        metadata = MetaData()
        users = Table(
            "users",
            metadata,
            Column("id", Integer, primary_key=True),
            Column("email", String(50), nullable=False),
            Index("ix_users_id_email", "id", "email"),
            schema="auth",
            comment="Users",
        )
        Index("ix_users_email", users.c.email, unique=True)
        """
    ).lstrip("\n")
    module = parse_module("tables.py", text)
    (table,) = module.tables
    assert (table.name, table.schema, table.variable, table.metadata) == (
        "users",
        "auth",
        "users",
        "metadata",
    )
    start = span_of(text, "Table(")
    name_end = span_of(text, '"users"')
    assert as_tuple(table.span) == (start[0], start[1], name_end[2], name_end[3])
    assert [c.column_name for c in table.columns] == ["id", "email"]
    assert all(c.key is None for c in table.columns)
    assert as_tuple(table.columns[1].span) == span_of(
        text, 'Column("email", String(50), nullable=False)'
    )
    assert as_tuple(table.columns[1].type_span) == span_of(text, "String(50)")
    assert as_tuple(table.comment_span) == span_of(text, 'comment="Users"')
    assert [(c.name, c.columns) for c in table.constraints] == [
        ("ix_users_id_email", ("id", "email"))
    ]
    (index,) = module.indexes
    assert (index.name, index.columns, index.target, index.unique) == (
        "ix_users_email",
        ("email",),
        "users",
        True,
    )


def test_table_args_dict_alone_table_dunder_and_declared_attr_tablename() -> None:
    text = textwrap.dedent(
        """
        from sqlalchemy import Column, Integer, Table
        from sqlalchemy.orm import declared_attr

        class Account(Base):
            __table_args__ = {"schema": "billing"}

            @declared_attr.directive
            def __tablename__(cls) -> str:
                return "accounts"

        class Named(Base):
            @declared_attr
            def __tablename__(cls):
                return cls.__name__.lower()

        class Legacy(Base):
            __table__ = Table("legacy", Base.metadata, Column("id", Integer, primary_key=True))
        """
    ).lstrip("\n")
    module = parse_module("m.py", text)
    account = _class(module, "Account")
    assert (account.tablename, account.schema, account.has_table_args) == (
        "accounts",
        "billing",
        True,
    )
    named = _class(module, "Named")
    assert (named.tablename, named.tablename_rule) == (None, "lower")
    legacy = _class(module, "Legacy")
    assert legacy.table is not None and legacy.table.name == "legacy"
    assert [c.column_name for c in legacy.table.columns] == ["id"]


def test_syntax_error_is_a_value() -> None:
    text = "class User(Base):\n    __tablename__ = 'users'\n    id: Mapped[int] = (\n"
    module = parse_module("broken.py", text)
    assert module.error is not None
    assert module.classes == ()
    assert module.error.line in (2, 3)
    assert module.error.message


def test_syntax_error_position() -> None:
    text = "x = 1\nclass User(Base)\n    pass\n"
    module = parse_module("broken.py", text)
    assert module.error is not None
    assert module.error.line == 1
    assert module.error.character == len("class User(Base)")


def test_non_ascii_positions_in_each_encoding() -> None:
    text = 'class Café(Base):\n    nom: Mapped[str] = mapped_column(comment="🙂é", nullable=True)\n'
    line = text.split("\n")[1]
    index = line.index("nullable=True")
    prefix = line[:index]
    expected = {
        "utf-32": index,
        "utf-16": len(prefix.encode("utf-16-le")) // 2,
        "utf-8": len(prefix.encode("utf-8")),
    }
    assert len(set(expected.values())) == 3
    for encoding, start in expected.items():
        cafe = _class(parse_module("m.py", text, encoding), "Café")
        nom = cafe.attribute("nom")
        assert nom is not None and nom.nullable_span is not None
        assert (nom.nullable_span.start_line, nom.nullable_span.start_character) == (1, start)
        width = len("nullable=True")
        assert nom.nullable_span.end_character == start + width
        header = "class Café(Base):"
        header_end = {
            "utf-32": len(header),
            "utf-16": len(header.encode("utf-16-le")) // 2,
            "utf-8": len(header.encode("utf-8")),
        }
        assert cafe.span.end_character == header_end[encoding]
    with pytest.raises(ValueError):
        parse_module("m.py", text, "utf-7")


def test_non_ascii_positions_are_code_points_for_bmp_text() -> None:
    text = textwrap.dedent(
        """
        class Café(Base):
            __tablename__ = "cafés"
            nom: Mapped[str] = mapped_column(comment="café crème", nullable=True)
        """
    ).lstrip("\n")
    module = parse_module("m.py", text)
    cafe = _class(module, "Café")
    assert cafe.tablename == "cafés"
    assert as_tuple(cafe.span) == span_of(text, "class Café(Base):")
    nom = cafe.attribute("nom")
    assert nom is not None
    assert as_tuple(nom.comment_span) == span_of(text, 'comment="café crème"')
    assert as_tuple(nom.nullable_span) == span_of(text, "nullable=True")


def test_nested_and_conditional_definitions() -> None:
    text = textwrap.dedent(
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .other import Thing

        try:
            class Inside(Base):
                __tablename__ = "inside"

                class Meta:
                    pass
        except ImportError:
            pass
        """
    ).lstrip("\n")
    module = parse_module("m.py", text)
    assert {c.qualname for c in module.classes} == {"Inside", "Inside.Meta"}
    assert module.imports["Thing"] == ".other.Thing"
    assert _class(module, "Inside").tablename == "inside"


def test_function_header_with_annotated_arguments() -> None:
    text = textwrap.dedent(
        """
        class Mixin:
            @declared_attr
            def owner(cls: type, *, flag: bool = False):
                return mapped_column(ForeignKey("users.id"))
        """
    ).lstrip("\n")
    owner = _class(parse_module("m.py", text), "Mixin").attribute("owner")
    assert owner is not None and owner.kind == "column"
    assert as_tuple(owner.span) == span_of(text, "def owner(cls: type, *, flag: bool = False):")
    assert owner.foreign_keys[0].target == "users.id"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("class A(B):\n =()[]'\"#\\:.,xé\t\r0")), max_size=80))
def test_arbitrary_text_never_raises(text: str) -> None:
    module = parse_module("fuzz.py", text)
    lines = text.split("\n")
    for cls in module.classes:
        assert 0 <= cls.span.start_line <= cls.span.end_line < len(lines)


def test_deeply_nested_source_is_an_error_value() -> None:
    text = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    module = parse_module("deep.py", text)
    assert module.error is not None


def test_syntax_warnings_are_not_emitted(recwarn: pytest.WarningsRecorder) -> None:
    module = parse_module("warn.py", 'PATTERN = "\\d+"\nassert (1, "x")\n')
    assert module.error is None
    noisy = (SyntaxWarning, DeprecationWarning)
    assert not [w for w in recwarn if issubclass(w.category, noisy)]


def test_multi_line_class_header_ends_at_the_colon() -> None:
    text = "class User(\n    Mixin,  # note: mixins first\n    Base,\n):\n    x = 1\n"
    user = _class(parse_module("m.py", text), "User")
    header_end = span_of(text, "\n):")[2:]
    assert as_tuple(user.span) == (*span_of(text, "class")[:2], *header_end)


def test_byte_order_mark_is_ignored() -> None:
    text = "class User(Base):\n    __tablename__ = 'users'\n"
    module = parse_module("bom.py", "\ufeff" + text)
    assert module.error is None
    assert as_tuple(_class(module, "User").span) == span_of(text, "class User(Base):")
