"""Time schema-lsp's compare_metadata against Alembic's on the same databases.

For each backend and schema size a fresh database is created from
``schema_gen.make_metadata`` and compared with drifted models
(``schema_gen.make_drifted``).  Both engines run in the same process on the
same database, interleaved repeat by repeat, after one untimed warm-up each.

Reported per backend/size/engine: median and p95 (nearest rank) wall time,
SQL statements executed (cursor events, counted on the warm-up run), peak
Python memory (tracemalloc, a separate run so tracing does not skew timings),
the speed ratio alembic/ours, and whether both report the same differences:
the same entries (kind + object names) and, for each entry both report, the
same values (types and defaults rendered for the dialect, nullability, columns).

Our engine keeps per-process caches (compiled types, rendered defaults) that a
language server reuses between checks; they are cleared before every timed and
memory run, so each one costs what a one-shot ``schema-lsp check`` would.

    python benchmarks/compare_vs_alembic.py --backends sqlite,postgresql,mariadb \
        --tables 50,200,1000 --repeats 5 [--json results.json]
    python benchmarks/compare_vs_alembic.py --tables 50 --repeats 1     # smoke
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.schema import ColumnCollectionConstraint

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from databases import (  # noqa: E402  (test helpers: real throw-away databases)
    BACKENDS,
    fresh_database,
    make_engine,
    record_statements,
    unavailable_reason,
)
from schema_gen import make_drifted, make_metadata, spec_of  # noqa: E402

OPTS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}
"""MigrationContext options for both engines (``--no-server-default`` turns defaults off)."""

CompareFn = Callable[[Connection, sa.MetaData], list[Any]]
DiffKey = tuple[str, str | None, str | None, str | None]


def _no_caches() -> None:
    """Alembic keeps no caches of its own between runs."""


#: What runs before each timed or memory run of an engine, so it starts cold.
COLD_START: dict[str, Callable[[], None]] = {"alembic": _no_caches, "ours": _no_caches}


def _alembic_compare() -> CompareFn:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def run(conn: Connection, models: sa.MetaData) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn, opts=OPTS), models))

    return run


def _ours_compare() -> tuple[CompareFn | None, str | None]:
    """Our engine, or the reason it cannot be imported yet."""
    try:
        from schema_lsp.autogenerate import compare_metadata
        from schema_lsp.autogenerate.compare import clear_caches
        from schema_lsp.runtime.migration import MigrationContext
    except ImportError as exc:
        return None, f"schema_lsp engine not importable: {exc}"
    COLD_START["ours"] = clear_caches

    def run(conn: Connection, models: sa.MetaData) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn, opts=OPTS), models))

    return run, None


# --------------------------------------------------------------------------- diff normalisation


def _owner(obj: Any) -> tuple[str | None, str | None]:
    table = getattr(obj, "table", None)
    if isinstance(table, sa.Table):
        return table.schema, table.name
    return None, None


def _obj_name(obj: Any) -> str | None:
    name = getattr(obj, "name", None)
    if name:
        return str(name)
    cols = getattr(obj, "columns", None)
    if cols is not None:
        try:
            return "(" + ",".join(c.name for c in cols) + ")"
        except TypeError:
            return None
    return None


def diff_key(entry: Sequence[Any]) -> DiffKey:
    """Normalise one Alembic-style diff tuple to (kind, schema, table, object name)."""
    kind = str(entry[0])
    rest = list(entry[1:])
    if kind.startswith("modify_"):  # (kind, schema, table, column, existing, old, new)
        if kind in ("modify_table_comment",):
            return kind, rest[0], rest[1], None
        return kind, rest[0], rest[1], rest[2]
    if kind in ("add_column", "remove_column"):  # (kind, schema, table, Column)
        return kind, rest[0], rest[1], rest[2].name
    obj = rest[0] if rest else None
    if isinstance(obj, sa.Table):
        return kind, obj.schema, obj.name, None
    schema, table = _owner(obj)
    if isinstance(obj, sa.ForeignKeyConstraint):
        target = obj.elements[0].target_fullname.rsplit(".", 1)[0] if obj.elements else ""
        return kind, schema, table, f"{_obj_name(obj)}->{target}"
    return kind, schema, table, _obj_name(obj)


def _flat(diffs: Iterable[Any]) -> Iterable[Sequence[Any]]:
    for entry in diffs:
        if isinstance(entry, list):
            yield from entry
        else:
            yield entry


def diff_keys(diffs: Iterable[Any]) -> set[DiffKey]:
    """All diff entries (flattening Alembic's per-column modify lists) as a set of keys."""
    return {diff_key(entry) for entry in _flat(diffs)}


def _sql(obj: Any, dialect: sa.engine.Dialect) -> str | None:
    """A type or server default as the dialect writes it (None: none; "-": unset)."""
    if obj is None or obj is False:
        return None if obj is None else "-"
    if isinstance(obj, sa.types.TypeEngine):
        try:
            return str(obj.compile(dialect=dialect))
        except sa.exc.SQLAlchemyError:
            return repr(obj)
    if isinstance(obj, sa.DefaultClause):
        arg = obj.arg
        if isinstance(arg, str):
            return f"'{arg}'"
        if isinstance(arg, sa.TextClause):
            return arg.text
        return str(arg.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    return repr(obj)


def _column_value(col: sa.Column[Any], dialect: sa.engine.Dialect) -> tuple[Any, ...]:
    return (_sql(col.type, dialect), col.nullable, _sql(col.server_default, dialect))


def diff_value(entry: Sequence[Any], dialect: sa.engine.Dialect) -> tuple[Any, ...]:
    """What one diff entry says beyond its key: rendered types and defaults, nullability,
    columns, targets. Compared between engines for the entries both report."""
    kind = str(entry[0])
    if kind in ("modify_type", "modify_default"):
        return (_sql(entry[5], dialect), _sql(entry[6], dialect))
    if kind.startswith("modify_") and len(entry) == 7:  # nullable, comment
        return (entry[5], entry[6])
    if kind in ("add_column", "remove_column"):
        return _column_value(entry[3], dialect)
    obj = entry[1]
    if isinstance(obj, sa.Table):
        if kind.endswith("table_comment"):
            return (obj.comment,)
        return tuple(sorted((c.name, *_column_value(c, dialect)) for c in obj.columns))
    if isinstance(obj, sa.Index):
        return (tuple(str(e) for e in obj.expressions), bool(obj.unique))
    if isinstance(obj, sa.ForeignKeyConstraint):
        return (
            tuple(obj.column_keys),
            tuple(e.target_fullname for e in obj.elements),
            obj.ondelete,
            obj.onupdate,
        )
    if isinstance(obj, sa.CheckConstraint):
        return (str(obj.sqltext),)
    if isinstance(obj, ColumnCollectionConstraint):
        return (type(obj).__name__, tuple(c.name for c in obj.columns))
    return ()


def diff_values(diffs: Iterable[Any], dialect: sa.engine.Dialect) -> dict[DiffKey, Any]:
    """Each entry's value by its key (see ``diff_value``)."""
    return {diff_key(entry): diff_value(entry, dialect) for entry in _flat(diffs)}


# --------------------------------------------------------------------------- measuring


@dataclass
class SideResult:
    engine: str
    times_s: list[float] = field(default_factory=list)
    median_s: float | None = None
    p95_s: float | None = None
    statements: int | None = None
    peak_mib: float | None = None
    diffs: int | None = None
    error: str | None = None


@dataclass
class CaseResult:
    backend: str
    tables: int
    drift: int
    alembic: SideResult
    ours: SideResult
    ratio: float | None = None
    agree: bool | None = None
    only_alembic: list[list[Any]] = field(default_factory=list)
    only_ours: list[list[Any]] = field(default_factory=list)
    #: Entries both report with different values: [kind, schema, table, name, alembic, ours].
    values_differ: list[list[Any]] = field(default_factory=list)
    setup_s: float = 0.0


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (the maximum for fewer than 20 values)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _timed(
    fn: CompareFn, engine: Engine, models: sa.MetaData, cold: Callable[[], None]
) -> float:
    with engine.connect() as conn:
        cold()
        gc.collect()
        start = time.perf_counter()
        fn(conn, models)
        elapsed = time.perf_counter() - start
        conn.rollback()
    return elapsed


def _counted(fn: CompareFn, engine: Engine, models: sa.MetaData) -> tuple[list[Any], int]:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # keep connection setup out of the count
        with record_statements(engine) as statements:
            diffs = fn(conn, models)
        conn.rollback()
    return diffs, len(statements)


def _peak_mib(
    fn: CompareFn, engine: Engine, models: sa.MetaData, cold: Callable[[], None]
) -> float:
    with engine.connect() as conn:
        cold()
        gc.collect()
        tracemalloc.start()
        try:
            fn(conn, models)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        conn.rollback()
    return peak / (1024 * 1024)


def run_case(
    backend: str,
    n_tables: int,
    repeats: int,
    ratio: float,
    seed: int,
    sides: dict[str, CompareFn | None],
    ours_reason: str | None,
    measure_memory: bool,
) -> CaseResult:
    """Create the database for one backend/size and measure both engines on it."""
    db_meta = make_metadata(n_tables, backend, seed)
    models = make_drifted(db_meta, ratio, seed)
    results = {name: SideResult(name) for name in ("alembic", "ours")}
    if sides["ours"] is None:
        results["ours"].error = ours_reason
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(fresh_database(backend, tmp))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        start = time.perf_counter()
        db_meta.create_all(engine)
        setup_s = time.perf_counter() - start

        values: dict[str, dict[DiffKey, Any]] = {}
        active: dict[str, CompareFn] = {}
        for name, fn in sides.items():
            if fn is None:
                continue
            try:  # warm-up run, also counting statements and collecting the diff
                diffs, count = _counted(fn, engine, models)
            except Exception as exc:  # report, don't abort the whole benchmark
                results[name].error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                continue
            results[name].statements = count
            results[name].diffs = len(diffs)
            values[name] = diff_values(diffs, engine.dialect)
            active[name] = fn
        for _ in range(repeats):
            for name, fn in active.items():
                results[name].times_s.append(_timed(fn, engine, models, COLD_START[name]))
        if measure_memory:
            for name, fn in active.items():
                results[name].peak_mib = _peak_mib(fn, engine, models, COLD_START[name])

    for side in results.values():
        if side.times_s:
            side.median_s = statistics.median(side.times_s)
            side.p95_s = p95(side.times_s)
    case = CaseResult(backend, n_tables, len(spec_of(models).drift), results["alembic"],
                      results["ours"], setup_s=setup_s)
    if results["alembic"].median_s and results["ours"].median_s:
        case.ratio = results["alembic"].median_s / results["ours"].median_s
    if "alembic" in values and "ours" in values:
        theirs, ours = values["alembic"], values["ours"]
        case.only_alembic = [list(k) for k in sorted(theirs.keys() - ours.keys(), key=str)]
        case.only_ours = [list(k) for k in sorted(ours.keys() - theirs.keys(), key=str)]
        case.values_differ = [
            [*k, theirs[k], ours[k]]
            for k in sorted(theirs.keys() & ours.keys(), key=str)
            if theirs[k] != ours[k]
        ]
        case.agree = not (case.only_alembic or case.only_ours or case.values_differ)
    return case


# --------------------------------------------------------------------------- reporting


def _fmt(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def disagreement_summary(case: CaseResult) -> str:
    """Which side has extra entries, by kind: ``alembic+10 modify_default, ours+1 add_fk``."""
    parts: list[str] = []
    for label, keys in (("alembic", case.only_alembic), ("ours", case.only_ours)):
        by_kind = Counter(str(key[0]) for key in keys)
        parts.extend(f"{label}+{n} {kind}" for kind, n in sorted(by_kind.items()))
    by_kind = Counter(str(entry[0]) for entry in case.values_differ)
    parts.extend(f"values differ: {n} {kind}" for kind, n in sorted(by_kind.items()))
    return ", ".join(parts)


def _agree_text(case: CaseResult) -> str:
    if case.agree is None:
        return "-"
    return "yes" if case.agree else f"NO ({disagreement_summary(case)})"


def format_table(cases: Sequence[CaseResult]) -> str:
    header = (f"{'backend':<11}{'tables':>7}{'engine':>9}{'median s':>10}{'p95 s':>9}"
              f"{'stmts':>8}{'peak MiB':>10}{'diffs':>7}{'ratio':>8}  agree")
    lines = [header, "-" * len(header)]
    for case in cases:
        for side in (case.alembic, case.ours):
            first = side is case.alembic
            lines.append(
                f"{case.backend:<11}{case.tables:>7}{side.engine:>9}"
                f"{_fmt(side.median_s, '.3f'):>10}{_fmt(side.p95_s, '.3f'):>9}"
                f"{_fmt(side.statements, 'd'):>8}{_fmt(side.peak_mib, '.1f'):>10}"
                f"{_fmt(side.diffs, 'd'):>7}"
                f"{(_fmt(case.ratio, '.2f') + 'x') if first and case.ratio else '':>8}"
                f"  {_agree_text(case) if first else ''}"
            )
            if side.error:
                lines.append(f"{'':<18}{side.engine}: {side.error}")
        if case.agree is False:
            for label, keys in (("only alembic", case.only_alembic), ("only ours", case.only_ours)):
                for key in keys[:5]:
                    lines.append(f"{'':<18}{label}: {tuple(key)}")
                if len(keys) > 5:
                    lines.append(f"{'':<18}{label}: ... {len(keys) - 5} more")
            for entry in case.values_differ[:5]:
                lines.append(
                    f"{'':<18}values differ: {tuple(entry[:4])} alembic {entry[4]!r} "
                    f"ours {entry[5]!r}"
                )
            if len(case.values_differ) > 5:
                lines.append(f"{'':<18}values differ: ... {len(case.values_differ) - 5} more")
    return "\n".join(lines)


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backends", type=_csv, default=list(BACKENDS),
                        help="comma-separated: sqlite,postgresql,mariadb (default: all)")
    parser.add_argument("--tables", type=lambda v: [int(x) for x in _csv(v)],
                        default=[50, 200, 1000], help="comma-separated schema sizes")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per engine")
    parser.add_argument("--ratio", type=float, default=0.05, help="fraction of drifted tables")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    parser.add_argument("--no-server-default", action="store_true",
                        help="compare with compare_server_default=False")
    parser.add_argument("--alembic-only", action="store_true", help="do not run schema-lsp")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when the engines disagree (default: only on errors)")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON here")
    args = parser.parse_args(argv)
    unknown = [b for b in args.backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backends {unknown}; expected some of {BACKENDS}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    OPTS["compare_server_default"] = not args.no_server_default
    ours, ours_reason = (None, "disabled by --alembic-only") if args.alembic_only \
        else _ours_compare()
    sides: dict[str, CompareFn | None] = {"alembic": _alembic_compare(), "ours": ours}
    if ours is None:
        print(f"note: {ours_reason}; timing alembic only", file=sys.stderr)
    cases: list[CaseResult] = []
    skipped: dict[str, str] = {}
    started = time.perf_counter()
    for backend in args.backends:
        reason = unavailable_reason(backend)
        if reason is not None:
            skipped[backend] = reason
            print(f"skip: {reason}", file=sys.stderr)
            continue
        for n_tables in args.tables:
            case = run_case(backend, n_tables, args.repeats, args.ratio, args.seed, sides,
                            ours_reason, not args.no_memory)
            cases.append(case)
            print(f"done {backend} {n_tables} tables (setup {case.setup_s:.1f}s, "
                  f"elapsed {time.perf_counter() - started:.0f}s)", file=sys.stderr)
    print(format_table(cases))
    if args.json is not None:
        payload = {
            "python": platform.python_version(),
            "sqlalchemy": sa.__version__,
            "options": OPTS,
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "skipped": skipped,
            "cases": [asdict(c) for c in cases],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    errors = any(c.alembic.error or (ours is not None and c.ours.error) for c in cases)
    disagree = any(c.agree is False for c in cases)
    return 1 if errors or (args.strict and disagree) else 0


if __name__ == "__main__":
    sys.exit(main())
