"""CHECK constraints, by name and normalised expression.

Alembic ignores CHECK constraints unless its opt-in ``checkconstraint_byname`` plugin is on,
and that plugin compares names only, reporting every unnamed model check as removed on
PostgreSQL and MariaDB (which name them). Here:

* named model checks are matched by name; a changed expression is a drop and an add;
* unnamed checks can't be matched reliably (the database invents their names), so they are
  skipped on both sides: database checks with a generated name (PostgreSQL
  ``<table>_<col>_check``, MariaDB ``CONSTRAINT_<n>``, MySQL ``<table>_chk_<n>``) or whose
  expression is an unnamed model check's are not reported as removed;
* checks SQLAlchemy creates for ``Boolean``/``Enum(create_constraint=True)`` exist or not
  depending on the backend's native types: never reported; nor are MariaDB's implicit
  ``json_valid()`` checks of JSON columns.

Registered after the table comment comparator, where Alembic's plugin runs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, Table, exc, text

from ...operations import ops
from ..dispatch import Deferred, PriorityDispatchResult, builtin
from .constraints import final_name, reflected_name
from .registry import builtin_comparators
from .sqltext import compile_sql, normalize_sql
from .tables import conn_table_record

if TYPE_CHECKING:
    from ..api import AutogenContext


def model_checks(table: Table) -> list[CheckConstraint]:
    """Table- and column-level CHECK constraints of a model table."""
    found = [c for c in table.constraints if isinstance(c, CheckConstraint)]
    for col in table.columns:
        found.extend(c for c in col.constraints if isinstance(c, CheckConstraint))
    return found


def _generated_name(name: str, tname: str, dialect_name: str) -> bool:
    """Whether ``name`` looks like one the database made up for an unnamed check."""
    if dialect_name == "postgresql":
        prefix = tname[:63]
        return name.startswith(prefix) and re.search(r"_check\d*$", name) is not None
    if dialect_name in ("mysql", "mariadb"):
        return (
            re.fullmatch(r"CONSTRAINT_\d+", name) is not None
            or re.fullmatch(re.escape(tname) + r"_chk_\d+", name) is not None
        )
    return False


@builtin_comparators.dispatch_for("table", subgroup="checkconstraints")
@builtin
def compare_check_constraints(
    autogen_context: AutogenContext,
    modify_ops: ops.ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Any,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    ac = autogen_context
    record = conn_table_record(conn_table)
    if record is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE  # created/dropped with the table
    meta_checks = model_checks(metadata_table)
    conn_records = [ck for ck in record.check_constraints if ck.get("name")]
    if ac._name_filters:
        conn_records = [
            ck
            for ck in conn_records
            if ac.run_name_filters(
                ck["name"], "check_constraint", {"table_name": tname, "schema_name": schema}
            )
        ]
    if not meta_checks and not conn_records:
        return PriorityDispatchResult.CONTINUE

    dialect = ac.dialect
    dname = dialect.name
    named: dict[str, CheckConstraint] = {}
    ignored_names: set[str] = set()
    ignored_exprs: set[str] | None = None
    unnamed: list[CheckConstraint] = []
    for ck in meta_checks:
        try:
            name = final_name(ck, dialect)
        except exc.InvalidRequestError:  # a convention needing a name it wasn't given
            name = None
        if ck._type_bound:
            if name is not None:
                ignored_names.add(name)
            unnamed.append(ck)
        elif name is None:
            unnamed.append(ck)
        else:
            named[name] = ck

    conn_by_name: dict[str, Any] = {ck["name"]: ck for ck in conn_records if ck["name"]}
    table: list[Table] = []

    def conn_obj(ck: Any) -> CheckConstraint:
        if not table:
            assert isinstance(conn_table, Deferred)
            table.append(conn_table.value)
        name = reflected_name(ck["name"])
        return CheckConstraint(text(ck["sqltext"]), name=name, table=table[0])

    for name in sorted(n for n in conn_by_name if n not in named):
        rec = conn_by_name[name]
        if name in ignored_names or _generated_name(name, tname, dname):
            continue
        expr = normalize_sql(rec["sqltext"], dname)
        if dname in ("mysql", "mariadb") and expr.startswith("json_valid"):
            continue
        if ignored_exprs is None:
            ignored_exprs = {normalize_sql(compile_sql(u.sqltext, dialect), dname) for u in unnamed}
        if expr in ignored_exprs:
            continue
        obj = conn_obj(rec)
        if ac.run_object_filters(obj, name, "check_constraint", True, None):
            modify_ops.ops.append(ops.DropConstraintOp.from_constraint(obj))

    for name in sorted(n for n in named if n in conn_by_name):
        meta_ck = named[name]
        rec = conn_by_name[name]
        if normalize_sql(compile_sql(meta_ck.sqltext, dialect), dname) == normalize_sql(
            rec["sqltext"], dname
        ):
            continue
        obj = conn_obj(rec)
        if ac.run_object_filters(meta_ck, name, "check_constraint", False, obj):
            modify_ops.ops.append(ops.DropConstraintOp.from_constraint(obj))
            modify_ops.ops.append(ops.AddConstraintOp.from_constraint(meta_ck))

    for name in sorted(n for n in named if n not in conn_by_name):
        meta_ck = named[name]
        if ac.run_object_filters(meta_ck, name, "check_constraint", False, None):
            modify_ops.ops.append(ops.AddConstraintOp.from_constraint(meta_ck))

    return PriorityDispatchResult.CONTINUE
