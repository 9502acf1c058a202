"""Reading SQLAlchemy idioms out of single ``ast`` expressions.

Pure functions over nodes (no positions, no state), shared by the module and
class readers in ``syntax``: what a call is, what an annotation says, which
columns an ``Index(...)`` argument names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

COLUMN_CALLS = frozenset({"Column", "mapped_column"})
COLUMN_WRAPPERS = frozenset({"deferred", "column_property"})
RELATIONSHIP_CALLS = frozenset({"relationship", "relation", "dynamic_loader", "backref"})
MAPPED_ANNOTATIONS = frozenset({"Mapped"})
RELATIONSHIP_ANNOTATIONS = frozenset({"WriteOnlyMapped", "DynamicMapped"})
NOT_TYPE_CALLS = frozenset(
    {
        "ForeignKey",
        "Sequence",
        "Computed",
        "Identity",
        "FetchedValue",
        "DefaultClause",
        "CheckConstraint",
        "UniqueConstraint",
    }
)
CONSTRAINT_KINDS = {
    "Index": "index",
    "UniqueConstraint": "unique",
    "PrimaryKeyConstraint": "primary_key",
    "ForeignKeyConstraint": "foreign_key",
    "CheckConstraint": "check",
}
DECLARATIVE_BASE_CLASSES = frozenset(
    {"DeclarativeBase", "DeclarativeBaseNoMeta", "AsyncAttrs", "DeclarativeMeta"}
)
BASE_FACTORIES = {
    "MetaData": "metadata",
    "registry": "registry",
    "declarative_base": "declarative_base",
    "generate_base": "declarative_base",
    "SQLAlchemy": "registry",  # Flask-SQLAlchemy's ``db = SQLAlchemy()``
}


def dotted(node: ast.AST | None) -> str | None:
    """``a.b.c`` for Name/Attribute chains, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def last(name: str | None) -> str | None:
    return name.rsplit(".", 1)[-1] if name else None


def call_name(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Call):
        return last(dotted(node.func))
    return None


def string(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def keyword(call: ast.Call, name: str) -> ast.keyword | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw
    return None


def classify(value: ast.expr | None, annotation: ast.expr | None) -> tuple[str, ast.Call | None]:
    """What an attribute declares: ``column`` (and its call), ``relationship`` or ``other``."""
    annotated = annotation_kind(annotation)
    if isinstance(value, ast.Call):
        name = call_name(value)
        if name in COLUMN_CALLS:
            return "column", value
        if name in COLUMN_WRAPPERS and value.args:
            inner = value.args[0]
            if isinstance(inner, ast.Call) and call_name(inner) in COLUMN_CALLS:
                return "column", inner
        if name in RELATIONSHIP_CALLS:
            return "relationship", None
        return "other", None
    if value is None and annotated == "column":
        return "column", None
    if annotated == "relationship":
        return "relationship", None
    return "other", None


def annotation_kind(annotation: ast.expr | None) -> str | None:
    if annotation is None:
        return None
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        head = annotation.value.split("[", 1)[0].strip()
        word = last(head)
    elif isinstance(annotation, ast.Subscript):
        word = last(dotted(annotation.value))
    else:
        word = None
    if word in MAPPED_ANNOTATIONS:
        return "column"
    if word in RELATIONSHIP_ANNOTATIONS:
        return "relationship"
    return None


def mapped_inner(annotation: ast.expr) -> ast.expr | None:
    """The ``X`` of ``Mapped[X]`` (or the whole quoted annotation)."""
    if isinstance(annotation, ast.Subscript) and last(dotted(annotation.value)) in (
        MAPPED_ANNOTATIONS
    ):
        return annotation.slice
    is_text = isinstance(annotation, ast.Constant) and isinstance(annotation.value, str)
    if is_text and annotation_kind(annotation) == "column":
        return annotation
    return None


def is_optional(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return True
        if isinstance(node.value, str):
            text = node.value.replace(" ", "")
            return "Optional[" in text or "|None" in text or "None|" in text
        return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return is_optional(node.left) or is_optional(node.right)
    if isinstance(node, ast.Subscript):
        head = last(dotted(node.value))
        if head == "Optional":
            return True
        if head == "Union":
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return any(is_optional(e) for e in elts)
    return False


def tablename_rule(node: ast.expr | None) -> str | None:
    """Recognise ``return cls.__name__`` and ``return cls.__name__.lower()``."""
    if dotted(node) == "cls.__name__":
        return "name"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "lower"
        and dotted(node.func.value) == "cls.__name__"
    ):
        return "lower"
    return None


def undecorate(node: ast.expr) -> ast.expr:
    return node.func if isinstance(node, ast.Call) else node


def target_name(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0] if len(stmt.targets) == 1 else None
    elif isinstance(stmt, ast.AnnAssign):
        target = stmt.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def flatten(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a block, descending into ``if``/``try``/``with`` (e.g. TYPE_CHECKING)."""
    for stmt in body:
        if isinstance(stmt, ast.If):
            yield from flatten(stmt.body)
            yield from flatten(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            yield from flatten(stmt.body)
            yield from flatten(stmt.orelse)
            yield from flatten(stmt.finalbody)
        elif isinstance(stmt, ast.With):
            yield from flatten(stmt.body)
        else:
            yield stmt


def kw_value(call: ast.Call, name: str) -> ast.expr | None:
    found = keyword(call, name)
    return found.value if found is not None else None


def elements(node: ast.expr | None) -> list[ast.expr]:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return list(node.elts)
    return [node] if node is not None else []


def ref_text(node: ast.expr) -> str | None:
    """``"users.id"`` or ``users.c.id``/``User.id`` written as a reference."""
    text = string(node)
    if text is not None:
        return text
    name = dotted(node)
    return name.replace(".c.", ".") if name else None


def column_refs(node: ast.expr) -> Iterator[tuple[str | None, str]]:
    """(owner, column) for each column mentioned in an index/constraint argument."""
    text = string(node)
    if text is not None:
        yield None, text
        return
    if isinstance(node, ast.Name):
        yield None, node.id
        return
    if isinstance(node, ast.Attribute):
        parts = (dotted(node) or "").split(".")
        if len(parts) >= 2:
            yield parts[0], parts[-1]
        return
    if isinstance(node, ast.Call):  # func.lower(User.email), User.email.desc()
        if isinstance(node.func, ast.Attribute) and not isinstance(node.func.value, ast.Name):
            yield from column_refs(node.func.value)
        for arg in node.args:
            yield from column_refs(arg)
