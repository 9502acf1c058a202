"""Fast checks that the benchmark generator and script work, so benchmarks stay runnable."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    """Import a benchmarks/ module by path (benchmarks/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


schema_gen = _load("schema_gen")


def _alembic_diff(engine: Engine, models: sa.MetaData) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, models))


def test_generator_20_tables_sqlite_clean_then_drifted(sqlite_engine: Engine) -> None:
    db_meta = schema_gen.make_metadata(20, "sqlite")
    db_meta.create_all(sqlite_engine)
    assert len(sa.inspect(sqlite_engine).get_table_names()) == 20
    assert _alembic_diff(sqlite_engine, db_meta) == []
    drifted = schema_gen.make_drifted(db_meta, ratio=0.25)
    assert schema_gen.spec_of(drifted).drift
    assert _alembic_diff(sqlite_engine, drifted) != []


def test_generator_is_deterministic_and_seeded() -> None:
    first = schema_gen.make_spec(40, "postgresql", seed=3)
    assert first == schema_gen.make_spec(40, "postgresql", seed=3)
    assert first != schema_gen.make_spec(40, "postgresql", seed=4)
    drift_a = schema_gen.spec_of(schema_gen.make_drifted(schema_gen.build_metadata(first), 0.2))
    drift_b = schema_gen.spec_of(schema_gen.make_drifted(schema_gen.build_metadata(first), 0.2))
    assert drift_a == drift_b


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mariadb"])
def test_generated_names_fit_every_backend(dialect: str) -> None:
    metadata = schema_gen.make_metadata(300, dialect)
    names: list[str] = []
    for table in metadata.tables.values():
        names.append(table.name)
        names.extend(c.name for c in table.columns)
        names.extend(str(i.name) for i in table.indexes)
        names.extend(str(c.name) for c in table.constraints if c.name)
        names.extend(str(c.type.name) for c in table.columns if isinstance(c.type, sa.Enum))
    assert max(len(n) for n in names) <= 63
    assert all(n == n.lower() for n in names)


def test_drift_covers_every_kind() -> None:
    metadata = schema_gen.make_metadata(120, "postgresql")
    drift = schema_gen.spec_of(schema_gen.make_drifted(metadata, ratio=0.5)).drift
    assert len(drift) == 60
    assert {entry.split(":")[0] for entry in drift} == set(schema_gen.DRIFT_KINDS)


def test_generated_schema_is_creatable_and_clean(backend: str, engine: Engine) -> None:
    """The generated schema creates on each backend and Alembic sees no type drift."""
    db_meta = schema_gen.make_metadata(40, backend, seed=1)
    db_meta.create_all(engine)
    assert set(sa.inspect(engine).get_table_names()) == set(db_meta.tables)
    assert _alembic_diff(engine, db_meta) == []


def test_benchmark_script_smoke(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both engines run on a tiny schema; ours starts cold before each measured run."""
    import schema_lsp.autogenerate.compare as compare

    bench = _load("compare_vs_alembic")
    cleared: list[int] = []
    clear = compare.clear_caches
    monkeypatch.setattr(compare, "clear_caches", lambda: (cleared.append(1), clear())[1])
    out = tmp_path / "results.json"
    code = bench.main(["--backends", "sqlite", "--tables", "10", "--repeats", "1",
                       "--json", str(out)])
    assert code == 0
    payload = json.loads(out.read_text())
    (case,) = payload["cases"]
    assert case["backend"] == "sqlite" and case["tables"] == 10
    for side in ("alembic", "ours"):
        assert case[side]["error"] is None
        assert case[side]["median_s"] > 0
        assert case[side]["statements"] > 0
        assert case[side]["peak_mib"] > 0
        assert case[side]["diffs"] > 0
    assert case["ratio"] > 0
    assert cleared == [1, 1]  # before the timed repeat and before the memory run
    # Every entry we report, Alembic reports too, with the same values.
    assert case["only_ours"] == [] and case["values_differ"] == []
    assert "sqlite" in capsys.readouterr().out


def test_agreement_compares_values_not_only_names(sqlite_engine: Engine) -> None:
    bench = _load("compare_vs_alembic")
    db = sa.MetaData()
    sa.Table("t", db, sa.Column("id", sa.Integer, primary_key=True), sa.Column("c", sa.String(5)))
    db.create_all(sqlite_engine)
    wider, longer = (sa.MetaData() for _ in range(2))
    for md, length in ((wider, 9), (longer, 12)):
        sa.Table("t", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("c", sa.String(length)))
    a = bench.diff_values(_alembic_diff(sqlite_engine, wider), sqlite_engine.dialect)
    b = bench.diff_values(_alembic_diff(sqlite_engine, longer), sqlite_engine.dialect)
    key = ("modify_type", None, "t", "c")
    assert a.keys() == b.keys() == {key}
    assert a[key] == ("VARCHAR(5)", "VARCHAR(9)") and b[key] == ("VARCHAR(5)", "VARCHAR(12)")
    case = bench.CaseResult(
        "sqlite", 1, 1, bench.SideResult("alembic"), bench.SideResult("ours"), agree=False,
        values_differ=[[*key, a[key], b[key]]],
    )
    assert bench.disagreement_summary(case) == "values differ: 1 modify_type"
    assert "ours ('VARCHAR(5)', 'VARCHAR(12)')" in bench.format_table([case])


def test_diff_keys_normalise_alembic_diffs(sqlite_engine: Engine) -> None:
    bench = _load("compare_vs_alembic")
    db_meta = schema_gen.make_metadata(12, "sqlite")
    db_meta.create_all(sqlite_engine)
    models = schema_gen.make_metadata(12, "sqlite")
    last = sorted(models.tables)[-1]
    models.remove(models.tables[last])
    sa.Table("brand_new", models, sa.Column("id", sa.Integer, primary_key=True))
    keys = bench.diff_keys(_alembic_diff(sqlite_engine, models))
    assert ("add_table", None, "brand_new", None) in keys
    assert ("remove_table", None, last, None) in keys


def test_disagreement_summary_counts_extra_entries_by_side_and_kind() -> None:
    bench = _load("compare_vs_alembic")
    case = bench.CaseResult(
        "sqlite", 10, 1, bench.SideResult("alembic"), bench.SideResult("ours"), agree=False,
        only_alembic=[["modify_default", None, "t", "a"], ["modify_default", None, "t", "b"]],
        only_ours=[["add_fk", None, "t", "fk->u"]],
    )
    assert bench.disagreement_summary(case) == "alembic+2 modify_default, ours+1 add_fk"
    assert "NO (alembic+2 modify_default, ours+1 add_fk)" in bench.format_table([case])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_schema_wide_names_are_unique(seed: int) -> None:
    """PostgreSQL wants index and enum names unique per schema, MariaDB FK names per database."""
    for metadata in (
        db := schema_gen.make_metadata(150, "postgresql", seed=seed),
        schema_gen.make_drifted(db, ratio=0.3, seed=seed),
    ):
        names: list[str] = []
        for table in metadata.tables.values():
            names.extend(str(i.name) for i in table.indexes)
            names.extend(str(c.name) for c in table.constraints if c.name)
            names.extend(str(c.type.name) for c in table.columns if isinstance(c.type, sa.Enum))
        assert len(names) == len(set(names))
