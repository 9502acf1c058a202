"""Render SQLAlchemy schema items (columns, types, defaults, constraints, SQL
expressions) as the Python source a migration file contains.

The output is character-for-character what Alembic writes for the same objects,
so migrations produced by schema-lsp and by ``alembic revision --autogenerate``
are interchangeable and diff cleanly.  Dialect-specific behaviour that Alembic
keeps on its DDL "impl" objects is selected here from the dialect name.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import schema as sa_schema
from sqlalchemy import sql
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.sql import elements, functions, operators
from sqlalchemy.sql.elements import ColumnClause, Label, TextClause, conv, quoted_name
from sqlalchemy.types import TypeEngine

from ..operations.schema_objects import fk_target_tokens, is_type_bound, table_key
from .dispatch import Dispatcher

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql.schema import MetaData

    from .api import AutogenContext

#: Beyond this many arguments Python calls fail, so they are passed as ``*[...]``.
MAX_PYTHON_ARGS = 255

_DIALECT_MODULE = re.compile(r"sqlalchemy\.dialects\.(\w+)")


# --------------------------------------------------------------------------
# prefixes, names and user hooks


def sqlalchemy_prefix(autogen_context: AutogenContext) -> str:
    """``sa.`` (or whatever ``sqlalchemy_module_prefix`` is configured)."""
    return autogen_context.opts.get("sqlalchemy_module_prefix", "sa.") or ""


def alembic_prefix(autogen_context: AutogenContext) -> str:
    """``op.``, or ``batch_op.`` inside a ``batch_alter_table`` block."""
    if autogen_context._has_batch:
        return "batch_op."
    return autogen_context.opts.get("alembic_module_prefix", "op.") or ""


def user_prefix(autogen_context: AutogenContext, target: Any) -> str:
    """Prefix for types that are not SQLAlchemy's: the configured
    ``user_module_prefix`` or the type's own module."""
    prefix = autogen_context.opts.get("user_module_prefix")
    if prefix is None:
        return f"{type(target).__module__}."
    return str(prefix)


def user_defined_render(
    type_: str, object_: Any, autogen_context: AutogenContext
) -> str | Literal[False]:
    """Ask the configured ``render_item`` hook first; ``False`` means "ours"."""
    render = autogen_context.opts.get("render_item")
    if render:
        rendered = render(type_, object_, autogen_context)
        if rendered is not False:
            return rendered
    return False


def ident(name: Any) -> str | None:
    """A plain ``str`` for a name (unwrapping ``quoted_name``)."""
    if name is None:
        return None
    if isinstance(name, quoted_name):
        return str(name)
    if isinstance(name, str):
        return name
    return None


class ConventionName:
    """A naming-convention name, rendered as ``op.f('name')`` so that the
    convention is not applied a second time when the migration runs."""

    def __init__(self, prefix: str, name: conv) -> None:
        self.prefix = prefix
        self.name = name

    def __repr__(self) -> str:
        return f"{self.prefix}f({ident(self.name)!r})"


def gen_name(autogen_context: AutogenContext, name: Any) -> ConventionName | str | None:
    """A constraint/index name as it should be rendered."""
    if isinstance(name, conv):
        return ConventionName(alembic_prefix(autogen_context), name)
    return name if isinstance(name, str) else None


def warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=3)


# --------------------------------------------------------------------------
# SQL expressions


def _dialect(autogen_context: AutogenContext) -> Dialect:
    return autogen_context.migration_context.dialect


def _sqlite_needs_parens(expr: str) -> bool:
    """SQLite wants expression defaults parenthesised; constants stay bare."""
    if not expr:
        return False
    return not (
        re.match(r"^[0-9\.]$", expr)
        or re.match(r"^'.+'$", expr)
        or re.match(r"^\(.+\)$", expr)
    )


def _mysql_needs_grouping(expr: Any) -> bool:
    """MySQL wants functional index parts in their own parentheses."""
    return (
        isinstance(expr, (elements.BinaryExpression, functions.FunctionElement))
        or (
            isinstance(expr, elements.UnaryExpression)
            and expr.modifier not in (operators.desc_op, operators.asc_op)
        )
    )


def ddl_sql_expr(
    autogen_context: AutogenContext,
    expr: Any,
    *,
    is_server_default: bool = False,
    is_index: bool = False,
) -> str:
    """Compile a SQL expression as the target dialect writes it in DDL."""
    dialect = _dialect(autogen_context)
    name = dialect.name
    if is_index and name == "postgresql" and not isinstance(expr, ColumnClause):
        expr = expr.self_group()
    elif is_index and name in ("mysql", "mariadb") and _mysql_needs_grouping(expr):
        expr = elements.Grouping(expr)
    compile_kw = {"literal_binds": True, "include_table": False}
    text = str(expr.compile(dialect=dialect, compile_kwargs=compile_kw))
    if name == "sqlite" and is_server_default and _sqlite_needs_parens(text):
        text = f"({text})"
    return text


def render_potential_expr(
    value: Any,
    autogen_context: AutogenContext,
    *,
    wrap_in_element: bool = True,
    is_server_default: bool = False,
    is_index: bool = False,
) -> str:
    """Render a value that may be a SQL expression (``sa.text(...)``), a column
    (its name) or a plain Python literal (its ``repr``)."""
    if isinstance(value, (list, tuple)):
        items = [render_potential_expr(v, autogen_context) for v in value]
        if isinstance(value, tuple):
            return "({}{})".format(", ".join(items), "," if len(items) == 1 else "")
        return "[{}]".format(", ".join(items))
    if isinstance(value, sa_schema.Column):
        return repr(ident(getattr(value, "name", None)))
    if isinstance(value, sql.ClauseElement):
        sql_text = ddl_sql_expr(
            autogen_context, value, is_server_default=is_server_default, is_index=is_index
        )
        if not wrap_in_element:
            return repr(sql_text)
        element = "literal_column" if is_index else "text"
        rendered = f"{sqlalchemy_prefix(autogen_context)}{element}({sql_text!r})"
        if is_index and isinstance(value, Label) and type(value.name) is str:
            return rendered + f".label({value.name!r})"
        return rendered
    return repr(value)


def dialect_kwargs_items(autogen_context: AutogenContext, dialect_kwargs: Any) -> list[str]:
    """``postgresql_using='gin'``-style keyword arguments."""
    return [
        f"{key}={render_potential_expr(val, autogen_context)}"
        for key, val in dialect_kwargs.items()
    ]


def index_expressions(index: sa_schema.Index, autogen_context: AutogenContext) -> list[str]:
    """The column names / expressions of an index, rendered."""
    return [
        repr(ident(getattr(exp, "name", None)))
        if isinstance(exp, sa_schema.Column)
        else render_potential_expr(exp, autogen_context, is_index=True)
        for exp in index.expressions
    ]


# --------------------------------------------------------------------------
# server defaults


def _identity_options(identity: sa_schema.Identity) -> dict[str, Any]:
    as_dict: dict[str, Any]
    if hasattr(identity, "_as_dict"):
        as_dict = dict(identity._as_dict())
        if hasattr(identity, "dialect_kwargs"):
            as_dict.update(identity.dialect_kwargs)
        return as_dict
    as_dict = {"always": identity.always}
    if identity.on_null is not None:
        as_dict["on_null"] = identity.on_null
    for key in (
        "start", "increment", "minvalue", "maxvalue", "nominvalue",
        "nomaxvalue", "cycle", "cache", "order",
    ):
        value = getattr(identity, key, None)
        if value is not None:
            as_dict[key] = value
    return as_dict


def render_identity(identity: sa_schema.Identity, autogen_context: AutogenContext) -> str:
    kwargs = ", ".join(f"{k}={v}" for k, v in _identity_options(identity).items())
    return f"{sqlalchemy_prefix(autogen_context)}Identity({kwargs})"


def render_computed(computed: sa_schema.Computed, autogen_context: AutogenContext) -> str:
    text = render_potential_expr(computed.sqltext, autogen_context, wrap_in_element=False)
    kwargs = {}
    if computed.persisted is not None:
        kwargs["persisted"] = computed.persisted
    # Alembic always writes the separator, even with no keyword arguments.
    rendered_kw = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{sqlalchemy_prefix(autogen_context)}Computed({text}, {rendered_kw})"


def render_server_default(
    default: Any, autogen_context: AutogenContext, repr_: bool = True
) -> str | None:
    """A server default as ``sa.text(...)``, a quoted string, ``sa.Identity``..."""
    rendered = user_defined_render("server_default", default, autogen_context)
    if rendered is not False:
        return rendered
    if isinstance(default, sa_schema.Computed):
        return render_computed(default, autogen_context)
    if isinstance(default, sa_schema.Identity):
        return render_identity(default, autogen_context)
    if isinstance(default, sa_schema.DefaultClause):
        if isinstance(default.arg, str):
            default = default.arg
        else:
            return render_potential_expr(default.arg, autogen_context, is_server_default=True)
    elif isinstance(default, sa_schema.FetchedValue):
        return f"{sqlalchemy_prefix(autogen_context)}FetchedValue()"
    if isinstance(default, str) and repr_:
        default = repr(re.sub(r"^'|'$", "", default))
    return default


# --------------------------------------------------------------------------
# types


def _type_has_variants(type_: TypeEngine[Any]) -> bool:
    return bool(getattr(type_, "_variant_mapping", None))


def _dialect_name_of(type_: Any) -> str | None:
    match = _DIALECT_MODULE.match(type(type_).__module__)
    return match.group(1) if match else None


def render_type_w_subtype(
    type_: Any,
    autogen_context: AutogenContext,
    attrname: str,
    regexp: str,
    prefix: str | None = None,
) -> str | Literal[False] | None:
    """Render a container type (ARRAY, JSON...) whose inner type needs our
    own rendering, by substituting it into the outer ``repr``."""
    inner_type = getattr(type_, attrname, None)
    if inner_type is None:
        return False
    inner_repr = re.sub(r"([\(\)])", r"\\\1", repr(inner_type))
    sub_type = repr_type(inner_type, autogen_context)
    outer = re.sub(regexp + inner_repr, lambda m: m.group(1) + sub_type, repr(type_))
    if prefix:
        return f"{prefix}{outer}"
    dname = _dialect_name_of(type_)
    if dname is not None:
        return f"{dname}.{outer}"
    if type(type_).__module__.startswith("sqlalchemy"):
        return f"{sqlalchemy_prefix(autogen_context)}{outer}"
    return None


def _postgresql_prefix(autogen_context: AutogenContext) -> str:
    autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
    return "postgresql."


def _render_pg_domain(type_: Any, autogen_context: AutogenContext) -> str:
    prefix = _postgresql_prefix(autogen_context)
    args = [repr(ident(type_.name)), repr_type(type_.data_type, autogen_context)]
    if type_.collation is not None:
        args.append(f"collation={type_.collation!r}")
    collation_schema = getattr(type_, "collation_schema", None)
    if collation_schema is not None:
        args.append(f"collation_schema={collation_schema!r}")
    if type_.default is not None:
        args.append("default=" + render_potential_expr(type_.default, autogen_context))
    if type_.constraint_name is not None:
        args.append(f"constraint_name={type_.constraint_name!r}")
    if type_.not_null:
        args.append("not_null=True")
    if type_.check is not None:
        args.append(
            "check=" + render_potential_expr(type_.check, autogen_context, wrap_in_element=False)
        )
    if type_.schema is not None:
        args.append(f"schema={ident(type_.schema)!r}")
    if type_.create_type is not True:
        args.append("create_type=False")
    return "{}DOMAIN({})".format(prefix, ", ".join(args))


# (visit name) -> (attribute holding the inner type, regexp before it)
_PG_SUBTYPES = {
    "HSTORE": ("text_type", r"(.+?\(.*text_type=)"),
    "ARRAY": ("item_type", r"(.+?\()"),
    "JSON": ("astext_type", r"(.+?\(.*astext_type=)"),
    "JSONB": ("astext_type", r"(.+?\(.*astext_type=)"),
}


def _dialect_render_type(type_: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Type rendering specific to the target dialect (PostgreSQL's container
    types and DOMAIN), used only when the type comes from that dialect."""
    if _dialect(autogen_context).name != "postgresql":
        return False
    if not type(type_).__module__.startswith("sqlalchemy.dialects.postgresql"):
        return False
    visit = type_.__visit_name__
    if visit == "DOMAIN":
        return _render_pg_domain(type_, autogen_context)
    if visit in _PG_SUBTYPES:
        attr, regexp = _PG_SUBTYPES[visit]
        return render_type_w_subtype(type_, autogen_context, attr, regexp)  # type: ignore[return-value]
    return False


def _render_variant(type_: Any, autogen_context: AutogenContext) -> str:
    base = repr_type(type_, autogen_context, _skip_variants=True)
    for dialect_name in sorted(type_._variant_mapping):
        variant = type_._variant_mapping[dialect_name]
        rendered = repr_type(variant, autogen_context, _skip_variants=True)
        base += f".with_variant({rendered}, {dialect_name!r})"
    return base


def repr_type(
    type_: Any, autogen_context: AutogenContext, _skip_variants: bool = False
) -> str:
    """A type as Python source, recording the imports it needs."""
    rendered = user_defined_render("type", type_, autogen_context)
    if rendered is not False:
        return rendered
    dialect_rendered = _dialect_render_type(type_, autogen_context)
    mod = type(type_).__module__
    if not _skip_variants and _type_has_variants(type_):
        return _render_variant(type_, autogen_context)
    dname = _dialect_name_of(type_)
    if dname is not None:
        autogen_context.imports.add(f"from sqlalchemy.dialects import {dname}")
        return dialect_rendered or f"{dname}.{type_!r}"
    if dialect_rendered:
        return dialect_rendered
    if mod.startswith("sqlalchemy."):
        if type_.__visit_name__ == "ARRAY":
            return str(render_type_w_subtype(type_, autogen_context, "item_type", r"(.+?\()"))
        return f"{sqlalchemy_prefix(autogen_context)}{type_!r}"
    return f"{user_prefix(autogen_context, type_)}{type_!r}"


# --------------------------------------------------------------------------
# columns


def render_column(column: sa_schema.Column[Any], autogen_context: AutogenContext) -> str:
    """``sa.Column('name', sa.Type(), ...)``."""
    rendered = user_defined_render("column", column, autogen_context)
    if rendered is not False:
        return rendered
    args: list[str] = []
    opts: list[tuple[str, Any]] = []
    if column.server_default:
        default = render_server_default(column.server_default, autogen_context)
        if default:
            if isinstance(column.server_default, (sa_schema.Computed, sa_schema.Identity)):
                args.append(default)
            else:
                opts.append(("server_default", default))
    if column.autoincrement is not None and column.autoincrement != "auto":
        opts.append(("autoincrement", column.autoincrement))
    if column.nullable is not None:
        opts.append(("nullable", column.nullable))
    if column.system:
        opts.append(("system", column.system))
    if column.comment is not None:
        opts.append(("comment", repr(column.comment)))
    kwargs = [f"{name}={value}" for name, value in opts] + [
        f"{key}={render_potential_expr(val, autogen_context)}"
        for key, val in column.kwargs.items()
    ]
    rendered_args = ", ".join(args) + ", " if args else ""
    return "{}Column({!r}, {}, {}{})".format(
        sqlalchemy_prefix(autogen_context),
        ident(column.name),
        repr_type(column.type, autogen_context),
        rendered_args,
        ", ".join(kwargs),
    )


# --------------------------------------------------------------------------
# constraints (inline in create_table, and unique for create_unique_constraint)


def render_unique_constraint(
    constraint: sa_schema.UniqueConstraint, autogen_context: AutogenContext, alter: bool
) -> str:
    """``op.create_unique_constraint(...)`` when ``alter``, else the inline
    ``sa.UniqueConstraint(...)``."""
    has_batch = autogen_context._has_batch
    table: Any = constraint.table
    opts: list[tuple[str, Any]] = []
    if constraint.deferrable:
        opts.append(("deferrable", constraint.deferrable))
    if constraint.initially:
        opts.append(("initially", constraint.initially))
    if not has_batch and alter and table.schema:
        opts.append(("schema", ident(table.schema)))
    if not alter and constraint.name:
        opts.append(("name", gen_name(autogen_context, constraint.name)))
    dialect_options = dialect_kwargs_items(autogen_context, constraint.dialect_kwargs)
    columns = [ident(col.name) for col in constraint.columns]
    if alter:
        args = [repr(gen_name(autogen_context, constraint.name))]
        if not has_batch:
            args.append(repr(ident(table.name)))
        args.append(repr(columns))
        args.extend(f"{k}={v!r}" for k, v in opts)
        args.extend(dialect_options)
        return "{}create_unique_constraint({})".format(
            alembic_prefix(autogen_context), ", ".join(args)
        )
    args = [repr(c) for c in columns]
    args.extend(f"{k}={v!r}" for k, v in opts)
    args.extend(dialect_options)
    return "{}UniqueConstraint({})".format(sqlalchemy_prefix(autogen_context), ", ".join(args))


constraint_renderers = Dispatcher()


def render_constraint(
    constraint: sa_schema.Constraint,
    autogen_context: AutogenContext,
    namespace_metadata: MetaData | None,
) -> str | None:
    """An inline constraint for ``create_table``; ``None`` to leave it out."""
    try:
        renderer = constraint_renderers.dispatch(constraint)
    except ValueError:
        warn(f"No renderer is established for object {constraint!r}")
        return f"[Unknown Python object {constraint!r}]"
    return renderer(constraint, autogen_context, namespace_metadata)


def _name_opt(autogen_context: AutogenContext, constraint: Any) -> list[tuple[str, str]]:
    if constraint.name:
        return [("name", repr(gen_name(autogen_context, constraint.name)))]
    return []


@constraint_renderers.dispatch_for(sa_schema.PrimaryKeyConstraint)
def _render_primary_key(
    constraint: sa_schema.PrimaryKeyConstraint,
    autogen_context: AutogenContext,
    namespace_metadata: MetaData | None,
) -> str | None:
    rendered = user_defined_render("primary_key", constraint, autogen_context)
    if rendered is not False:
        return rendered
    if not constraint.columns:
        return None
    args = [repr(c.name) for c in constraint.columns]
    args += [f"{k}={v}" for k, v in _name_opt(autogen_context, constraint)]
    return "{}PrimaryKeyConstraint({})".format(
        sqlalchemy_prefix(autogen_context), ", ".join(args)
    )


def _fk_colspec(
    fk: sa_schema.ForeignKey, metadata_schema: str | None, namespace_metadata: MetaData | None
) -> str:
    schema, tname, colname = fk_target_tokens(fk)
    if metadata_schema is not None and schema is None:
        table_fullname = f"{metadata_schema}.{tname}"
    else:
        table_fullname = table_key(tname, schema)
    if (
        colname is not None
        and not fk.link_to_name
        and fk.parent is not None
        and fk.parent.table is not None
        and namespace_metadata is not None
        and table_fullname in namespace_metadata.tables
    ):
        # the FK may name the target by key; render the real column name
        col = namespace_metadata.tables[table_fullname].c.get(colname)
        if col is not None:
            colname = ident(col.name)
    return f"{table_fullname}.{colname}"


def fk_options(constraint: sa_schema.ForeignKeyConstraint) -> list[tuple[str, str]]:
    return [
        (attr, repr(getattr(constraint, attr)))
        for attr in ("onupdate", "ondelete", "initially", "deferrable", "use_alter", "match")
        if getattr(constraint, attr)
    ]


@constraint_renderers.dispatch_for(sa_schema.ForeignKeyConstraint)
def _render_foreign_key(
    constraint: sa_schema.ForeignKeyConstraint,
    autogen_context: AutogenContext,
    namespace_metadata: MetaData | None,
) -> str | None:
    rendered = user_defined_render("foreign_key", constraint, autogen_context)
    if rendered is not False:
        return rendered
    opts = _name_opt(autogen_context, constraint) + fk_options(constraint)
    dialect_kw = dialect_kwargs_items(autogen_context, constraint.dialect_kwargs)
    metadata_schema = namespace_metadata.schema if namespace_metadata is not None else None
    cols = ", ".join(repr(ident(f.parent.name)) for f in constraint.elements)
    refcols = ", ".join(
        repr(_fk_colspec(f, metadata_schema, namespace_metadata)) for f in constraint.elements
    )
    args = ", ".join([f"{k}={v}" for k, v in opts] + dialect_kw)
    prefix = sqlalchemy_prefix(autogen_context)
    return f"{prefix}ForeignKeyConstraint([{cols}], [{refcols}], {args})"


@constraint_renderers.dispatch_for(sa_schema.UniqueConstraint)
def _render_unique(
    constraint: sa_schema.UniqueConstraint,
    autogen_context: AutogenContext,
    namespace_metadata: MetaData | None,
) -> str:
    rendered = user_defined_render("unique", constraint, autogen_context)
    if rendered is not False:
        return rendered
    return render_unique_constraint(constraint, autogen_context, False)


@constraint_renderers.dispatch_for(sa_schema.CheckConstraint)
def _render_check(
    constraint: sa_schema.CheckConstraint,
    autogen_context: AutogenContext,
    namespace_metadata: MetaData | None,
) -> str | None:
    rendered = user_defined_render("check", constraint, autogen_context)
    if rendered is not False:
        return rendered
    if is_type_bound(constraint):
        # produced again by the column's type (Boolean / Enum) when it runs
        return None
    args = [f"{k}={v}" for k, v in _name_opt(autogen_context, constraint)]
    args.extend(dialect_kwargs_items(autogen_context, constraint.dialect_kwargs))
    sqltext = render_potential_expr(constraint.sqltext, autogen_context, wrap_in_element=False)
    rendered_opts = ", " + ", ".join(args) if args else ""
    return f"{sqlalchemy_prefix(autogen_context)}CheckConstraint({sqltext}{rendered_opts})"


def _render_exclude_element(value: Any, autogen_context: AutogenContext) -> str:
    if isinstance(value, ColumnClause):
        element = "literal_column" if value.is_literal else "column"
        return f"{sqlalchemy_prefix(autogen_context)}{element}({value.name!r})"
    return render_potential_expr(
        value,
        autogen_context,
        wrap_in_element=isinstance(value, (TextClause, functions.FunctionElement)),
    )


def render_exclude_constraint(
    constraint: ExcludeConstraint, autogen_context: AutogenContext, alter: bool
) -> str:
    """PostgreSQL ``EXCLUDE`` constraints, inline or as
    ``op.create_exclude_constraint``."""
    has_batch = autogen_context._has_batch
    table: Any = constraint.table
    opts: list[tuple[str, Any]] = []
    if constraint.deferrable:
        opts.append(("deferrable", str(constraint.deferrable)))
    if constraint.initially:
        opts.append(("initially", str(constraint.initially)))
    if constraint.using:
        opts.append(("using", str(constraint.using)))
    if not has_batch and alter and table.schema:
        opts.append(("schema", ident(table.schema)))
    if not alter and constraint.name:
        opts.append(("name", gen_name(autogen_context, constraint.name)))
    body = [
        f"({_render_exclude_element(sqltext, autogen_context)}, {opstring!r})"
        for sqltext, _name, opstring in constraint._render_exprs
    ]
    if constraint.where is not None:
        body.append("where=" + render_potential_expr(constraint.where, autogen_context))
    body.extend(f"{k}={v!r}" for k, v in opts)
    if alter:
        args = [repr(gen_name(autogen_context, constraint.name))]
        if not has_batch:
            args.append(repr(ident(table.name)))
        args.extend(body)
        return "{}create_exclude_constraint({})".format(
            alembic_prefix(autogen_context), ", ".join(args)
        )
    return "{}ExcludeConstraint({})".format(_postgresql_prefix(autogen_context), ", ".join(body))


@constraint_renderers.dispatch_for(ExcludeConstraint)
def _render_exclude(
    constraint: ExcludeConstraint,
    autogen_context: AutogenContext,
    namespace_metadata: MetaData | None,
) -> str:
    rendered = user_defined_render("exclude", constraint, autogen_context)
    if rendered is not False:
        return rendered
    return render_exclude_constraint(constraint, autogen_context, False)
