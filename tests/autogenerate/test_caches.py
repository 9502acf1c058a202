"""``clear_caches`` really empties what the comparators keep between comparisons."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import compare_metadata
from schema_lsp.autogenerate.compare import clear_caches, server_defaults, sqltext, types
from schema_lsp.runtime.migration import MigrationContext


def _models(length: int) -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "t",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(length), server_default="x"),
        sa.Column("at", sa.DateTime, server_default=sa.func.now()),
        sa.CheckConstraint("id > 0", name="ck_t_id"),
    )
    return md


def _sizes() -> list[int]:
    return [
        len(types._PARSED),
        sum(len(d) for d in types._BY_VALUE.values()),
        len(types._REFLECTED),
        sum(len(d) for d in server_defaults._RENDERED.values()),
        server_defaults.normalize_default.cache_info().currsize,
        sqltext.normalize_sql.cache_info().currsize,
    ]


def test_clear_caches_forgets_everything_and_results_stay_the_same(
    sqlite_engine: Engine,
) -> None:
    _models(10).create_all(sqlite_engine)
    opts = {"compare_server_default": True}
    with sqlite_engine.connect() as conn:
        warm = compare_metadata(MigrationContext.configure(conn, opts=opts), _models(20))
        sizes = _sizes()
        assert sizes[0] and sizes[2] and sizes[3] and sizes[4] and sizes[5], sizes
        clear_caches()
        assert _sizes() == [0, 0, 0, 0, 0, 0]
        cold = compare_metadata(MigrationContext.configure(conn, opts=opts), _models(20))
    assert [d[0][0] for d in warm] == [d[0][0] for d in cold] == ["modify_type"]
