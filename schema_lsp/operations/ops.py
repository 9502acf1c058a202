"""Migration operation objects: the plain data a schema comparison produces.

These mirror Alembic's op structures (same constructor signatures, attribute
names, ``reverse()`` and ``to_diff_tuple()`` results) so comparators, renderers,
rewriters and user ``process_revision_directives`` hooks written for Alembic
work unchanged.  Downgrades are always derived with ``reverse()``.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.types import NULLTYPE

from .schema_objects import SchemaObjects, fk_spec, name_or_none, table_for_constraint

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import ExcludeConstraint
    from sqlalchemy.sql import Executable
    from sqlalchemy.sql.elements import ColumnElement, TextClause
    from sqlalchemy.sql.schema import (
        CheckConstraint,
        Column,
        Constraint,
        ForeignKeyConstraint,
        Index,
        MetaData,
        PrimaryKeyConstraint,
        SchemaItem,
        Table,
        UniqueConstraint,
    )
    from sqlalchemy.sql.selectable import TableClause

_AC = TypeVar("_AC", bound="AddConstraintOp")

#: A revision identifier or a sequence of them, as Alembic accepts.
RevIdType = str | Sequence[str] | None

#: ``op.info`` key: ops that run right after this op's reverse in a ``ModifyTableOps``
#: (the index MySQL creates for a foreign key goes with the key).
REVERSE_ALSO = "schema_lsp.reverse_also"
#: ``op.info`` key: the op's reverse is left out of a ``ModifyTableOps`` downgrade because
#: the table's own drop, which follows it, takes care of it.
REVERSED_WITH_TABLE = "schema_lsp.reversed_with_table"


class MigrateOperation:
    """Base of every operation; ``info`` is a free-form dict for user hooks."""

    @cached_property
    def info(self) -> dict[Any, Any]:
        return {}

    # Rewriters that have already processed this op (prevents re-entry).
    _mutations: frozenset[Any] = frozenset()

    def reverse(self) -> MigrateOperation:
        raise NotImplementedError

    def to_diff_tuple(self) -> Any:
        raise NotImplementedError


_ConstraintOpFactory = Callable[["Constraint"], "AddConstraintOp"]


class _ConstraintOpRegistry:
    """Constraint ``__visit_name__`` -> ``from_constraint`` factory (Alembic
    exposes this as ``AddConstraintOp.add_constraint_ops``)."""

    def __init__(self) -> None:
        self._factories: dict[str, _ConstraintOpFactory] = {}

    def dispatch_for(
        self, visit_name: str
    ) -> Callable[[_ConstraintOpFactory], _ConstraintOpFactory]:
        def decorate(fn: _ConstraintOpFactory) -> _ConstraintOpFactory:
            self._factories[visit_name] = fn
            return fn

        return decorate

    def dispatch(self, visit_name: str) -> _ConstraintOpFactory:
        try:
            return self._factories[visit_name]
        except KeyError as err:
            raise ValueError(f"no add-constraint op for {visit_name!r}") from err


class AddConstraintOp(MigrateOperation):
    """Base of the "create constraint" ops; dispatches on constraint kind."""

    add_constraint_ops = _ConstraintOpRegistry()

    @property
    def constraint_type(self) -> str:
        raise NotImplementedError()

    @classmethod
    def register_add_constraint(cls, type_: str) -> Callable[[type[_AC]], type[_AC]]:
        """Register ``klass.from_constraint`` for a constraint ``__visit_name__``."""

        def go(klass: type[_AC]) -> type[_AC]:
            cls.add_constraint_ops.dispatch_for(type_)(klass.from_constraint)
            return klass

        return go

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> AddConstraintOp:
        return cls.add_constraint_ops.dispatch(constraint.__visit_name__)(constraint)

    def to_constraint(self, migration_context: Any | None = None) -> Constraint:
        raise NotImplementedError

    def reverse(self) -> DropConstraintOp:
        return DropConstraintOp.from_constraint(self.to_constraint())

    def to_diff_tuple(self) -> tuple[str, Constraint]:
        return ("add_constraint", self.to_constraint())


_DROP_TYPES = {
    "unique_constraint": "unique",
    "foreign_key_constraint": "foreignkey",
    "primary_key_constraint": "primary",
    "check_constraint": "check",
    "column_check_constraint": "check",
    "table_or_column_check_constraint": "check",
}


class DropConstraintOp(MigrateOperation):
    """Drop a named constraint; keeps the create op to stay reversible."""

    def __init__(
        self,
        constraint_name: Any,
        table_name: str,
        type_: str | None = None,
        *,
        schema: str | None = None,
        if_exists: bool | None = None,
        _reverse: AddConstraintOp | None = None,
    ) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.constraint_type = type_
        self.schema = schema
        self.if_exists = if_exists
        self._reverse = _reverse

    def reverse(self) -> AddConstraintOp:
        return AddConstraintOp.from_constraint(self.to_constraint())

    def to_diff_tuple(self) -> tuple[str, SchemaItem]:
        if self.constraint_type == "foreignkey":
            return ("remove_fk", self.to_constraint())
        return ("remove_constraint", self.to_constraint())

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> DropConstraintOp:
        table = table_for_constraint(constraint)
        return cls(
            name_or_none(constraint.name),
            table.name,
            schema=table.schema,
            type_=_DROP_TYPES.get(constraint.__visit_name__),
            _reverse=AddConstraintOp.from_constraint(constraint),
        )

    def to_constraint(self) -> Constraint:
        if self._reverse is None:
            raise ValueError("constraint cannot be produced; original constraint is not present")
        constraint = self._reverse.to_constraint()
        constraint.name = self.constraint_name
        table = table_for_constraint(constraint)
        table.name = self.table_name
        table.schema = self.schema
        return constraint


@AddConstraintOp.register_add_constraint("primary_key_constraint")
class CreatePrimaryKeyOp(AddConstraintOp):
    constraint_type = "primarykey"

    def __init__(
        self,
        constraint_name: Any,
        table_name: str,
        columns: Sequence[str],
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.columns = columns
        self.schema = schema
        self.kw = kw

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> CreatePrimaryKeyOp:
        table = table_for_constraint(constraint)
        pk = cast("PrimaryKeyConstraint", constraint)
        return cls(
            name_or_none(pk.name),
            table.name,
            pk.columns.keys(),
            schema=table.schema,
            **pk.dialect_kwargs,
        )

    def to_constraint(self, migration_context: Any | None = None) -> PrimaryKeyConstraint:
        return SchemaObjects(migration_context).primary_key_constraint(
            self.constraint_name, self.table_name, self.columns, schema=self.schema, **self.kw
        )


@AddConstraintOp.register_add_constraint("unique_constraint")
class CreateUniqueConstraintOp(AddConstraintOp):
    constraint_type = "unique"

    def __init__(
        self,
        constraint_name: Any,
        table_name: str,
        columns: Sequence[str],
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.columns = columns
        self.schema = schema
        self.kw = kw

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> CreateUniqueConstraintOp:
        table = table_for_constraint(constraint)
        uq = cast("UniqueConstraint", constraint)
        kw: dict[str, Any] = {}
        if uq.deferrable:
            kw["deferrable"] = uq.deferrable
        if uq.initially:
            kw["initially"] = uq.initially
        kw.update(uq.dialect_kwargs)
        return cls(
            name_or_none(uq.name),
            table.name,
            [c.name for c in uq.columns],
            schema=table.schema,
            **kw,
        )

    def to_constraint(self, migration_context: Any | None = None) -> UniqueConstraint:
        return SchemaObjects(migration_context).unique_constraint(
            self.constraint_name, self.table_name, self.columns, schema=self.schema, **self.kw
        )


@AddConstraintOp.register_add_constraint("foreign_key_constraint")
class CreateForeignKeyOp(AddConstraintOp):
    constraint_type = "foreignkey"

    def __init__(
        self,
        constraint_name: Any,
        source_table: str,
        referent_table: str,
        local_cols: list[str],
        remote_cols: list[str],
        **kw: Any,
    ) -> None:
        self.constraint_name = constraint_name
        self.source_table = source_table
        self.referent_table = referent_table
        self.local_cols = local_cols
        self.remote_cols = remote_cols
        self.kw = kw

    def to_diff_tuple(self) -> tuple[str, ForeignKeyConstraint]:
        return ("add_fk", self.to_constraint())

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> CreateForeignKeyOp:
        fk = cast("ForeignKeyConstraint", constraint)
        kw: dict[str, Any] = {}
        for attr in ("onupdate", "ondelete", "initially", "deferrable", "use_alter", "match"):
            value = getattr(fk, attr)
            if value:
                kw[attr] = value
        source_schema, source_table, source_cols, target_schema, target_table, target_cols = (
            fk_spec(fk)
        )
        kw["source_schema"] = source_schema
        kw["referent_schema"] = target_schema
        kw.update(fk.dialect_kwargs)
        return cls(
            name_or_none(fk.name), source_table, target_table, source_cols, target_cols, **kw
        )

    def to_constraint(self, migration_context: Any | None = None) -> ForeignKeyConstraint:
        return SchemaObjects(migration_context).foreign_key_constraint(
            self.constraint_name,
            self.source_table,
            self.referent_table,
            self.local_cols,
            self.remote_cols,
            **self.kw,
        )


@AddConstraintOp.register_add_constraint("check_constraint")
@AddConstraintOp.register_add_constraint("table_or_column_check_constraint")
@AddConstraintOp.register_add_constraint("column_check_constraint")
class CreateCheckConstraintOp(AddConstraintOp):
    constraint_type = "check"

    def __init__(
        self,
        constraint_name: Any,
        table_name: str,
        condition: str | TextClause | ColumnElement[Any],
        *,
        schema: str | None = None,
        **kw: Any,
    ) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.condition = condition
        self.schema = schema
        self.kw = kw

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> CreateCheckConstraintOp:
        table = table_for_constraint(constraint)
        ck = cast("CheckConstraint", constraint)
        return cls(
            name_or_none(ck.name),
            table.name,
            cast("ColumnElement[Any]", ck.sqltext),
            schema=table.schema,
            **ck.dialect_kwargs,
        )

    def to_constraint(self, migration_context: Any | None = None) -> CheckConstraint:
        return SchemaObjects(migration_context).check_constraint(
            self.constraint_name, self.table_name, self.condition, schema=self.schema, **self.kw
        )


@AddConstraintOp.register_add_constraint("exclude_constraint")
class CreateExcludeConstraintOp(AddConstraintOp):
    """PostgreSQL ``EXCLUDE`` constraint (Alembic keeps this op in its
    PostgreSQL module; the constructor is the same)."""

    constraint_type = "exclude"

    def __init__(
        self,
        constraint_name: Any,
        table_name: str,
        elements: Sequence[tuple[Any, str]],
        where: Any | None = None,
        schema: str | None = None,
        _orig_constraint: ExcludeConstraint | None = None,
        **kw: Any,
    ) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.elements = elements
        self.where = where
        self.schema = schema
        self._orig_constraint = _orig_constraint
        self.kw = kw

    @classmethod
    def from_constraint(cls, constraint: Constraint) -> CreateExcludeConstraintOp:
        excl = cast("ExcludeConstraint", constraint)
        table = table_for_constraint(excl)
        return cls(
            excl.name,
            table.name,
            [(expr, op) for expr, _name, op in excl._render_exprs],
            where=excl.where,
            schema=table.schema,
            _orig_constraint=excl,
            deferrable=excl.deferrable,
            initially=excl.initially,
            using=excl.using,
        )

    def to_constraint(self, migration_context: Any | None = None) -> ExcludeConstraint:
        if self._orig_constraint is not None:
            return self._orig_constraint
        from sqlalchemy import Column
        from sqlalchemy.dialects.postgresql import ExcludeConstraint

        table = SchemaObjects(migration_context).table(self.table_name, schema=self.schema)
        excl = ExcludeConstraint(
            *self.elements, name=self.constraint_name, where=self.where, **self.kw
        )
        for _expr, name, _op in excl._render_exprs:
            table.append_column(Column(name, NULLTYPE))
        table.append_constraint(excl)
        return excl


class CreateIndexOp(MigrateOperation):
    def __init__(
        self,
        index_name: str | None,
        table_name: str,
        columns: Sequence[str | TextClause | ColumnElement[Any]],
        *,
        schema: str | None = None,
        unique: bool = False,
        if_not_exists: bool | None = None,
        **kw: Any,
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.columns = columns
        self.schema = schema
        self.unique = unique
        self.if_not_exists = if_not_exists
        self.kw = kw

    def reverse(self) -> DropIndexOp:
        return DropIndexOp.from_index(self.to_index())

    def to_diff_tuple(self) -> tuple[str, Index]:
        return ("add_index", self.to_index())

    @classmethod
    def from_index(cls, index: Index) -> CreateIndexOp:
        assert index.table is not None
        return cls(
            index.name,
            index.table.name,
            index.expressions,
            schema=index.table.schema,
            unique=index.unique,
            **index.kwargs,
        )

    def to_index(self, migration_context: Any | None = None) -> Index:
        return SchemaObjects(migration_context).index(
            self.index_name,
            self.table_name,
            self.columns,
            schema=self.schema,
            unique=self.unique,
            **self.kw,
        )


class DropIndexOp(MigrateOperation):
    def __init__(
        self,
        index_name: Any,
        table_name: str | None = None,
        *,
        schema: str | None = None,
        if_exists: bool | None = None,
        _reverse: CreateIndexOp | None = None,
        **kw: Any,
    ) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.schema = schema
        self.if_exists = if_exists
        self._reverse = _reverse
        self.kw = kw

    def to_diff_tuple(self) -> tuple[str, Index]:
        return ("remove_index", self.to_index())

    def reverse(self) -> CreateIndexOp:
        return CreateIndexOp.from_index(self.to_index())

    @classmethod
    def from_index(cls, index: Index) -> DropIndexOp:
        assert index.table is not None
        return cls(
            index.name,
            table_name=index.table.name,
            schema=index.table.schema,
            _reverse=CreateIndexOp.from_index(index),
            unique=index.unique,
            **index.kwargs,
        )

    def to_index(self, migration_context: Any | None = None) -> Index:
        columns = self._reverse.columns if self._reverse else ["x"]
        return SchemaObjects(migration_context).index(
            self.index_name, self.table_name, columns, schema=self.schema, **self.kw
        )


class CreateTableOp(MigrateOperation):
    def __init__(
        self,
        table_name: str,
        columns: Sequence[SchemaItem],
        *,
        schema: str | None = None,
        if_not_exists: bool | None = None,
        _namespace_metadata: MetaData | None = None,
        _constraints_included: bool = False,
        **kw: Any,
    ) -> None:
        self.table_name = table_name
        self.columns = columns
        self.schema = schema
        self.if_not_exists = if_not_exists
        self.info = kw.pop("info", {})
        self.comment = kw.pop("comment", None)
        self.prefixes = kw.pop("prefixes", None)
        self.kw = kw
        self._namespace_metadata = _namespace_metadata
        self._constraints_included = _constraints_included

    def reverse(self) -> DropTableOp:
        return DropTableOp.from_table(
            self.to_table(), _namespace_metadata=self._namespace_metadata
        )

    def to_diff_tuple(self) -> tuple[str, Table]:
        return ("add_table", self.to_table())

    @classmethod
    def from_table(
        cls, table: Table, *, _namespace_metadata: MetaData | None = None
    ) -> CreateTableOp:
        if _namespace_metadata is None:
            _namespace_metadata = table.metadata
        return cls(
            table.name,
            list(table.c) + list(table.constraints),
            schema=table.schema,
            _namespace_metadata=_namespace_metadata,
            # the constraints are listed explicitly, so column-level
            # unique=True / index=True must not add them a second time
            _constraints_included=True,
            comment=table.comment,
            info=dict(table.info),
            prefixes=list(table._prefixes),
            **table.kwargs,
        )

    def to_table(self, migration_context: Any | None = None) -> Table:
        return SchemaObjects(migration_context).table(
            self.table_name,
            *self.columns,
            schema=self.schema,
            prefixes=list(self.prefixes) if self.prefixes else [],
            comment=self.comment,
            info=self.info.copy() if self.info else {},
            _constraints_included=self._constraints_included,
            **self.kw,
        )


class DropTableOp(MigrateOperation):
    def __init__(
        self,
        table_name: str,
        *,
        schema: str | None = None,
        if_exists: bool | None = None,
        table_kw: MutableMapping[Any, Any] | None = None,
        _reverse: CreateTableOp | None = None,
    ) -> None:
        self.table_name = table_name
        self.schema = schema
        self.if_exists = if_exists
        self.table_kw = table_kw or {}
        self.comment = self.table_kw.pop("comment", None)
        self.info = self.table_kw.pop("info", None)
        self.prefixes = self.table_kw.pop("prefixes", None)
        self._reverse = _reverse

    def to_diff_tuple(self) -> tuple[str, Table]:
        return ("remove_table", self.to_table())

    def reverse(self) -> CreateTableOp:
        return CreateTableOp.from_table(self.to_table())

    @classmethod
    def from_table(
        cls, table: Table, *, _namespace_metadata: MetaData | None = None
    ) -> DropTableOp:
        return cls(
            table.name,
            schema=table.schema,
            table_kw={
                "comment": table.comment,
                "info": dict(table.info),
                "prefixes": list(table._prefixes),
                **table.kwargs,
            },
            _reverse=CreateTableOp.from_table(table, _namespace_metadata=_namespace_metadata),
        )

    def to_table(self, migration_context: Any | None = None) -> Table:
        items = self._reverse.columns if self._reverse else []
        return SchemaObjects(migration_context).table(
            self.table_name,
            *items,
            comment=self.comment,
            info=self.info.copy() if self.info else {},
            prefixes=list(self.prefixes) if self.prefixes else [],
            schema=self.schema,
            _constraints_included=(
                self._reverse._constraints_included if self._reverse else False
            ),
            **self.table_kw,
        )


class AlterTableOp(MigrateOperation):
    """Base of ops that target one existing table."""

    def __init__(self, table_name: str, *, schema: str | None = None) -> None:
        self.table_name = table_name
        self.schema = schema


class RenameTableOp(AlterTableOp):
    def __init__(
        self, old_table_name: str, new_table_name: str, *, schema: str | None = None
    ) -> None:
        super().__init__(old_table_name, schema=schema)
        self.new_table_name = new_table_name


class CreateTableCommentOp(AlterTableOp):
    def __init__(
        self,
        table_name: str,
        comment: str | None,
        *,
        schema: str | None = None,
        existing_comment: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.comment = comment
        self.existing_comment = existing_comment
        self.schema = schema

    def reverse(self) -> CreateTableCommentOp | DropTableCommentOp:
        if self.existing_comment is None:
            return DropTableCommentOp(
                self.table_name, existing_comment=self.comment, schema=self.schema
            )
        return CreateTableCommentOp(
            self.table_name,
            self.existing_comment,
            existing_comment=self.comment,
            schema=self.schema,
        )

    def to_table(self, migration_context: Any | None = None) -> Table:
        return SchemaObjects(migration_context).table(
            self.table_name, schema=self.schema, comment=self.comment
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("add_table_comment", self.to_table(), self.existing_comment)


class DropTableCommentOp(AlterTableOp):
    def __init__(
        self,
        table_name: str,
        *,
        schema: str | None = None,
        existing_comment: str | None = None,
    ) -> None:
        self.table_name = table_name
        self.existing_comment = existing_comment
        self.schema = schema

    def reverse(self) -> CreateTableCommentOp:
        return CreateTableCommentOp(self.table_name, self.existing_comment, schema=self.schema)

    def to_table(self, migration_context: Any | None = None) -> Table:
        return SchemaObjects(migration_context).table(self.table_name, schema=self.schema)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("remove_table_comment", self.to_table())


_ALTER_KEY = re.compile(r"^(?:existing_|modify_)(.+)$")


class AlterColumnOp(AlterTableOp):
    """Change type / nullability / server default / comment of one column.

    ``existing_*`` describe the column before the change; ``modify_*`` hold the
    new value (``None`` / ``False`` meaning "unchanged", as in Alembic).
    """

    def __init__(
        self,
        table_name: str,
        column_name: str,
        *,
        schema: str | None = None,
        existing_type: Any | None = None,
        existing_server_default: Any = False,
        existing_nullable: bool | None = None,
        existing_comment: str | None = None,
        modify_nullable: bool | None = None,
        modify_comment: Any = False,
        modify_server_default: Any = False,
        modify_name: str | None = None,
        modify_type: Any | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(table_name, schema=schema)
        self.column_name = column_name
        self.existing_type = existing_type
        self.existing_server_default = existing_server_default
        self.existing_nullable = existing_nullable
        self.existing_comment = existing_comment
        self.modify_nullable = modify_nullable
        self.modify_comment = modify_comment
        self.modify_server_default = modify_server_default
        self.modify_name = modify_name
        self.modify_type = modify_type
        self.kw = kw

    def to_diff_tuple(self) -> Any:
        """A list of per-attribute diffs: type, nullable, default, comment."""
        schema, tname, cname = self.schema, self.table_name, self.column_name
        diffs: list[tuple[Any, ...]] = []
        if self.modify_type is not None:
            existing = {
                "existing_nullable": self.existing_nullable,
                "existing_server_default": self.existing_server_default,
                "existing_comment": self.existing_comment,
            }
            diffs.append(
                ("modify_type", schema, tname, cname, existing, self.existing_type,
                 self.modify_type)
            )
        if self.modify_nullable is not None:
            existing = {
                "existing_type": self.existing_type,
                "existing_server_default": self.existing_server_default,
                "existing_comment": self.existing_comment,
            }
            diffs.append(
                ("modify_nullable", schema, tname, cname, existing, self.existing_nullable,
                 self.modify_nullable)
            )
        if self.modify_server_default is not False:
            existing = {
                "existing_nullable": self.existing_nullable,
                "existing_type": self.existing_type,
                "existing_comment": self.existing_comment,
            }
            diffs.append(
                ("modify_default", schema, tname, cname, existing,
                 self.existing_server_default, self.modify_server_default)
            )
        if self.modify_comment is not False:
            existing = {
                "existing_nullable": self.existing_nullable,
                "existing_type": self.existing_type,
                "existing_server_default": self.existing_server_default,
            }
            diffs.append(
                ("modify_comment", schema, tname, cname, existing, self.existing_comment,
                 self.modify_comment)
            )
        return diffs

    def has_changes(self) -> bool:
        if (
            self.modify_nullable is not None
            or self.modify_server_default is not False
            or self.modify_type is not None
            or self.modify_comment is not False
        ):
            return True
        return any(k.startswith("modify_") for k in self.kw)

    def reverse(self) -> AlterColumnOp:
        kw = self.kw.copy()
        kw["existing_type"] = self.existing_type
        kw["existing_nullable"] = self.existing_nullable
        kw["existing_server_default"] = self.existing_server_default
        kw["existing_comment"] = self.existing_comment
        if self.modify_type is not None:
            kw["modify_type"] = self.modify_type
        if self.modify_nullable is not None:
            kw["modify_nullable"] = self.modify_nullable
        if self.modify_server_default is not False:
            kw["modify_server_default"] = self.modify_server_default
        if self.modify_comment is not False:
            kw["modify_comment"] = self.modify_comment

        attrs = {m.group(1) for m in (_ALTER_KEY.match(k) for k in kw) if m}
        for attr in attrs:
            if f"modify_{attr}" in kw:
                kw[f"existing_{attr}"], kw[f"modify_{attr}"] = (
                    kw[f"modify_{attr}"],
                    kw.get(f"existing_{attr}"),
                )
        return self.__class__(self.table_name, self.column_name, schema=self.schema, **kw)


class AddColumnOp(AlterTableOp):
    def __init__(
        self,
        table_name: str,
        column: Column[Any],
        *,
        schema: str | None = None,
        if_not_exists: bool | None = None,
        inline_references: bool | None = None,
        inline_primary_key: bool | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(table_name, schema=schema)
        self.column = column
        self.if_not_exists = if_not_exists
        self.inline_references = inline_references
        self.inline_primary_key = inline_primary_key
        self.kw = kw

    def reverse(self) -> DropColumnOp:
        op = DropColumnOp.from_column_and_tablename(self.schema, self.table_name, self.column)
        op.if_exists = self.if_not_exists
        return op

    def to_diff_tuple(self) -> tuple[str, str | None, str, Column[Any]]:
        return ("add_column", self.schema, self.table_name, self.column)

    def to_column(self) -> Column[Any]:
        return self.column

    @classmethod
    def from_column(cls, col: Column[Any]) -> AddColumnOp:
        return cls(col.table.name, col, schema=col.table.schema)

    @classmethod
    def from_column_and_tablename(
        cls, schema: str | None, tname: str, col: Column[Any]
    ) -> AddColumnOp:
        return cls(tname, col, schema=schema)


class DropColumnOp(AlterTableOp):
    def __init__(
        self,
        table_name: str,
        column_name: str,
        *,
        schema: str | None = None,
        if_exists: bool | None = None,
        _reverse: AddColumnOp | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(table_name, schema=schema)
        self.column_name = column_name
        self.kw = kw
        self.if_exists = if_exists
        self._reverse = _reverse

    def to_diff_tuple(self) -> tuple[str, str | None, str, Column[Any]]:
        return ("remove_column", self.schema, self.table_name, self.to_column())

    def reverse(self) -> AddColumnOp:
        if self._reverse is None:
            raise ValueError("operation is not reversible; original column is not present")
        op = AddColumnOp.from_column_and_tablename(
            self.schema, self.table_name, self._reverse.column
        )
        op.if_not_exists = self.if_exists
        return op

    @classmethod
    def from_column_and_tablename(
        cls, schema: str | None, tname: str, col: Column[Any]
    ) -> DropColumnOp:
        return cls(
            tname,
            col.name,
            schema=schema,
            _reverse=AddColumnOp.from_column_and_tablename(schema, tname, col),
        )

    def to_column(self, migration_context: Any | None = None) -> Column[Any]:
        if self._reverse is not None:
            return self._reverse.column
        return SchemaObjects(migration_context).column(self.column_name, NULLTYPE)


class BulkInsertOp(MigrateOperation):
    def __init__(
        self,
        table: Table | TableClause,
        rows: list[dict[str, Any]],
        *,
        multiinsert: bool = True,
    ) -> None:
        self.table = table
        self.rows = rows
        self.multiinsert = multiinsert


class ExecuteSQLOp(MigrateOperation):
    def __init__(
        self,
        sqltext: Executable | str,
        *,
        execution_options: dict[str, Any] | None = None,
    ) -> None:
        self.sqltext = sqltext
        self.execution_options = execution_options

    def to_diff_tuple(self) -> tuple[str, Executable | str]:
        return ("execute", self.sqltext)


class OpContainer(MigrateOperation):
    """An op holding a list of other ops."""

    def __init__(self, ops: Sequence[MigrateOperation] = ()) -> None:
        self.ops = list(ops)

    def is_empty(self) -> bool:
        return not self.ops

    def as_diffs(self) -> Any:
        """Flatten nested containers into Alembic-style diff tuples."""
        return list(OpContainer._ops_as_diffs(self))

    @classmethod
    def _ops_as_diffs(cls, migrations: OpContainer) -> Iterator[Any]:
        for op in migrations.ops:
            if hasattr(op, "ops"):
                yield from cls._ops_as_diffs(cast("OpContainer", op))
            else:
                yield op.to_diff_tuple()


class ModifyTableOps(OpContainer):
    """The ops that change one existing table (rendered as a batch block)."""

    def __init__(
        self,
        table_name: str,
        ops: Sequence[MigrateOperation],
        *,
        schema: str | None = None,
    ) -> None:
        super().__init__(ops)
        self.table_name = table_name
        self.schema = schema

    def reverse(self) -> ModifyTableOps:
        reversed_ops: list[MigrateOperation] = []
        for op in reversed(self.ops):
            if op.info.get(REVERSED_WITH_TABLE):
                continue
            reversed_ops.append(op.reverse())
            reversed_ops.extend(op.info.get(REVERSE_ALSO, ()))
        return ModifyTableOps(self.table_name, ops=reversed_ops, schema=self.schema)


class UpgradeOps(OpContainer):
    """The ops of an ``upgrade()`` function; the token names its template slot."""

    def __init__(
        self, ops: Sequence[MigrateOperation] = (), upgrade_token: str = "upgrades"
    ) -> None:
        super().__init__(ops=ops)
        self.upgrade_token = upgrade_token

    def reverse_into(self, downgrade_ops: DowngradeOps) -> DowngradeOps:
        reversed_ops: list[MigrateOperation] = []
        for op in reversed(self.ops):
            undo = op.reverse()
            emptied = isinstance(undo, ModifyTableOps) and not undo.ops
            if emptied and isinstance(op, ModifyTableOps) and op.ops:
                continue  # every op of the block goes with the table's drop
            reversed_ops.append(undo)
        downgrade_ops.ops[:] = reversed_ops
        return downgrade_ops

    def reverse(self) -> DowngradeOps:
        return self.reverse_into(DowngradeOps(ops=[]))


class DowngradeOps(OpContainer):
    """The ops of a ``downgrade()`` function."""

    def __init__(
        self, ops: Sequence[MigrateOperation] = (), downgrade_token: str = "downgrades"
    ) -> None:
        super().__init__(ops=ops)
        self.downgrade_token = downgrade_token

    def reverse(self) -> UpgradeOps:
        return UpgradeOps(ops=list(reversed([op.reverse() for op in self.ops])))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


class MigrationScript(MigrateOperation):
    """A whole revision file: identifiers plus one or more upgrade/downgrade
    op lists (several when autogenerating against multiple databases)."""

    _needs_render: bool | None
    _upgrade_ops: list[UpgradeOps]
    _downgrade_ops: list[DowngradeOps]

    def __init__(
        self,
        rev_id: str | None,
        upgrade_ops: UpgradeOps | list[UpgradeOps],
        downgrade_ops: DowngradeOps | list[DowngradeOps],
        *,
        message: str | None = None,
        imports: set[str] | None = None,
        head: str | None = None,
        splice: bool | None = None,
        branch_label: RevIdType = None,
        version_path: str | os.PathLike[str] | None = None,
        depends_on: RevIdType = None,
    ) -> None:
        self.rev_id = rev_id
        self.message = message
        self.imports = imports if imports is not None else set()
        self.head = head
        self.splice = splice
        self.branch_label = branch_label
        self.version_path = pathlib.Path(version_path).as_posix() if version_path else None
        self.depends_on = depends_on
        self.upgrade_ops = upgrade_ops
        self.downgrade_ops = downgrade_ops

    @property
    def upgrade_ops(self) -> UpgradeOps | None:
        """The single UpgradeOps; raises if there are several."""
        if len(self._upgrade_ops) > 1:
            raise ValueError(
                "This MigrationScript instance has a multiple-entry list for "
                "UpgradeOps; please use the upgrade_ops_list attribute."
            )
        return self._upgrade_ops[0] if self._upgrade_ops else None

    @upgrade_ops.setter
    def upgrade_ops(self, upgrade_ops: UpgradeOps | list[UpgradeOps]) -> None:
        items = _as_list(upgrade_ops)
        for elem in items:
            if not isinstance(elem, UpgradeOps):
                raise TypeError(f"expected UpgradeOps, got {type(elem).__name__}")
        self._upgrade_ops = items

    @property
    def downgrade_ops(self) -> DowngradeOps | None:
        """The single DowngradeOps; raises if there are several."""
        if len(self._downgrade_ops) > 1:
            raise ValueError(
                "This MigrationScript instance has a multiple-entry list for "
                "DowngradeOps; please use the downgrade_ops_list attribute."
            )
        return self._downgrade_ops[0] if self._downgrade_ops else None

    @downgrade_ops.setter
    def downgrade_ops(self, downgrade_ops: DowngradeOps | list[DowngradeOps]) -> None:
        items = _as_list(downgrade_ops)
        for elem in items:
            if not isinstance(elem, DowngradeOps):
                raise TypeError(f"expected DowngradeOps, got {type(elem).__name__}")
        self._downgrade_ops = items

    @property
    def upgrade_ops_list(self) -> list[UpgradeOps]:
        return self._upgrade_ops

    @property
    def downgrade_ops_list(self) -> list[DowngradeOps]:
        return self._downgrade_ops
