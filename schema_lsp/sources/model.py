"""Plain data describing what a model file declares and where.

These records cross process and layer boundaries (parser -> resolver ->
language server), so they are frozen dataclasses of strings, ints and tuples
with no reference to ``ast`` nodes or SQLAlchemy objects.

Positions are 0-based lines and characters counted in the LSP position
encoding given to the parser: UTF-16 code units by default (what LSP clients
expect unless they negotiated otherwise), or code points (``utf-32``) or
bytes (``utf-8``). For ASCII lines all three agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A 0-based, end-exclusive range in one file."""

    start_line: int
    start_character: int
    end_line: int
    end_character: int


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """Why a file could not be parsed; reported instead of raising."""

    message: str
    line: int
    character: int


@dataclass(frozen=True, slots=True)
class ForeignKeySyntax:
    """A ``ForeignKey("table.column")`` argument written on a column."""

    target: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class AttributeSyntax:
    """One class attribute, or one ``Column(...)`` of an imperative ``Table``.

    ``kind`` is ``"column"`` for ``Column``/``mapped_column``/annotation-only
    ``Mapped[...]``, ``"relationship"`` for relationship-like constructs and
    ``"other"`` for anything else. ``key`` is ``None`` inside ``Table(...)``.
    """

    key: str | None
    name: str | None
    kind: str
    span: Span
    call_span: Span | None = None
    type_span: Span | None = None
    annotation_type_span: Span | None = None
    optional: bool | None = None
    nullable_span: Span | None = None
    server_default_span: Span | None = None
    comment_span: Span | None = None
    index_span: Span | None = None
    unique_span: Span | None = None
    primary_key_span: Span | None = None
    foreign_keys: tuple[ForeignKeySyntax, ...] = ()

    @property
    def column_name(self) -> str | None:
        """The database column name as far as the source tells."""
        return self.name if self.name is not None else self.key


@dataclass(frozen=True, slots=True)
class ConstraintSyntax:
    """An ``Index``/``*Constraint`` call written in the source.

    ``kind`` is one of ``index``, ``unique``, ``primary_key``, ``foreign_key``,
    ``check``. ``columns`` are the names as written (column names or, for
    ``User.email`` style references, attribute keys). ``target`` is the class
    or table variable the columns hang off, for module-level calls.
    """

    kind: str
    name: str | None
    columns: tuple[str, ...]
    span: Span
    target: str | None = None
    unique: bool = False
    referred: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TableSyntax:
    """An imperative ``Table("name", metadata, ...)`` call."""

    name: str | None
    schema: str | None
    span: Span
    variable: str | None
    columns: tuple[AttributeSyntax, ...] = ()
    constraints: tuple[ConstraintSyntax, ...] = ()
    comment_span: Span | None = None
    metadata: str | None = None


@dataclass(frozen=True, slots=True)
class ClassSyntax:
    """A class statement with the declarative details a diagnostic may point at."""

    name: str
    qualname: str
    span: Span
    bases: tuple[str, ...]
    tablename: str | None = None
    tablename_rule: str | None = None
    has_table_args: bool = False
    schema: str | None = None
    table_comment_span: Span | None = None
    table_args: tuple[ConstraintSyntax, ...] = ()
    attributes: tuple[AttributeSyntax, ...] = ()
    table: TableSyntax | None = None
    abstract: bool = False
    is_declarative_base: bool = False

    def attribute(self, key: str) -> AttributeSyntax | None:
        """The attribute defined in this class body under ``key``."""
        for attr in self.attributes:
            if attr.key == key:
                return attr
        return None


@dataclass(frozen=True, slots=True)
class BaseSyntax:
    """Where a ``MetaData``, registry or declarative base is defined.

    ``kind``: ``metadata``, ``registry``, ``declarative_base`` (factory call)
    or ``declarative_class`` (``class Base(DeclarativeBase)``).
    """

    name: str
    kind: str
    span: Span


@dataclass(frozen=True, slots=True)
class ModuleSyntax:
    """Everything the resolver needs from one file; ``error`` if it did not parse."""

    path: str
    classes: tuple[ClassSyntax, ...] = ()
    tables: tuple[TableSyntax, ...] = ()
    indexes: tuple[ConstraintSyntax, ...] = ()
    bases: tuple[BaseSyntax, ...] = ()
    imports: dict[str, str] = field(default_factory=dict)
    error: SyntaxProblem | None = None

    def find_class(self, qualname: str) -> ClassSyntax | None:
        """The class with this qualified name, if declared in this file."""
        for cls in self.classes:
            if cls.qualname == qualname:
                return cls
        return None
