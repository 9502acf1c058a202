"""The database fixtures really create, isolate and drop databases."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import (
    backend_of,
    database_exists,
    extra_schema,
    fresh_database,
    is_read_only,
    make_engine,
    record_statements,
)
from sqlalchemy.engine import URL, Engine


def _exists(backend: str, url: URL) -> bool:
    if backend == "sqlite":
        return Path(str(url.database)).exists()
    return database_exists(backend, str(url.database))


def test_fresh_database_is_created_usable_and_dropped(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        assert backend_of(url) == backend
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
                conn.exec_driver_sql("INSERT INTO probe (id) VALUES (1)")
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM probe").scalar() == 1
            assert _exists(backend, url)
            # An open connection must not prevent the drop (PG uses WITH (FORCE)).
            conn_left_open = engine.connect()
        finally:
            engine.dispose()
    assert not _exists(backend, url)
    conn_left_open.invalidate()


def test_fresh_databases_are_unique_and_empty(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as first, fresh_database(backend, tmp_path) as second:
        assert first.database != second.database
        for url in (first, second):
            engine = make_engine(url)
            try:
                assert sa.inspect(engine).get_table_names() == []
            finally:
                engine.dispose()


def test_engine_fixture_points_at_fresh_database(engine: Engine, db_url: URL) -> None:
    assert engine.url == db_url
    assert sa.inspect(engine).get_table_names() == []


@pytest.mark.backends("postgresql", "mariadb")
def test_extra_schema_is_usable_and_dropped(backend: str, db_url: URL, engine: Engine) -> None:
    with extra_schema(db_url) as schema:
        meta = sa.MetaData()
        sa.Table("in_schema", meta, sa.Column("id", sa.Integer, primary_key=True), schema=schema)
        meta.create_all(engine)
        assert sa.inspect(engine).get_table_names(schema=schema) == ["in_schema"]
        assert sa.inspect(engine).get_table_names() == []
    engine.dispose()
    assert schema not in sa.inspect(engine).get_schema_names()


@pytest.mark.backends("sqlite")
def test_backends_marker_restricts_parametrisation(
    backend: str, request: pytest.FixtureRequest
) -> None:
    assert backend == "sqlite"
    assert request.node.callspec.id == "sqlite"


def test_record_statements_sees_reads_and_writes(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # connect first so dialect setup is not recorded
    with record_statements(engine) as statements, engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE rec (id INTEGER PRIMARY KEY)")
        conn.execute(sa.text("SELECT id FROM rec"))
    assert any(s.startswith("CREATE TABLE rec") for s in statements)
    assert any(s.startswith("SELECT id FROM rec") for s in statements)
    assert [s for s in statements if not is_read_only(s)] == [
        "CREATE TABLE rec (id INTEGER PRIMARY KEY)"
    ]
    # The listener is removed on exit.
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 2")
    assert not any(s == "SELECT 2" for s in statements)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("SELECT 1", True),
        ("  show tables", True),
        ("PRAGMA table_info(x)", True),
        ("PRAGMA foreign_keys = ON", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),
        ("(SELECT 1) UNION (SELECT 2)", True),
        ("INSERT INTO t VALUES (1)", False),
        ("ALTER TABLE t ADD c INT", False),
        ("", False),
    ],
)
def test_is_read_only(statement: str, expected: bool) -> None:
    assert is_read_only(statement) is expected


_UNREACHABLE_TEST = textwrap.dedent(
    """
    import pytest
    from databases import fresh_database

    def test_needs_postgres(tmp_path):
        with fresh_database("postgresql", tmp_path):
            pass

    def test_sqlite_still_runs(tmp_path):
        with fresh_database("sqlite", tmp_path) as url:
            assert url.database.endswith(".db")
    """
)


def _run_with_unreachable_postgres(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> pytest.RunResult:
    """Run a tiny suite in a subprocess with PostgreSQL pointed at a closed port."""
    pytester.makepyfile(test_unreachable=_UNREACHABLE_TEST)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    monkeypatch.setenv(
        "SCHEMA_LSP_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none"
    )
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    return pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider")


def test_unreachable_server_is_skipped_with_reason_locally(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_with_unreachable_postgres(pytester, monkeypatch, ci=None)
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*postgresql server unavailable*127.0.0.1:1*"])


def test_unreachable_server_fails_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_with_unreachable_postgres(pytester, monkeypatch, ci="true")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*postgresql server unavailable*CI=true*"])


_MARKED_TESTS = textwrap.dedent(
    """
    import pytest

    @pytest.mark.backends("postgresql", "mariadb")
    def test_servers_only(backend):
        pass

    def test_everywhere(backend):
        pass
    """
)


def _use_our_conftest(pytester: pytest.Pytester) -> None:
    """Give an inner pytest run this suite's conftest and database helpers."""
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.syspathinsert(Path(__file__).parent)


def test_backends_marker_selects_ids(pytester: pytest.Pytester) -> None:
    _use_our_conftest(pytester)
    pytester.makepyfile(test_marked=_MARKED_TESTS)
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "test_marked.py::test_servers_only[[]postgresql[]]",
            "test_marked.py::test_servers_only[[]mariadb[]]",
            "test_marked.py::test_everywhere[[]sqlite[]]",
            "test_marked.py::test_everywhere[[]postgresql[]]",
            "test_marked.py::test_everywhere[[]mariadb[]]",
        ],
        consecutive=True,
    )
    assert "test_servers_only[sqlite]" not in result.stdout.str()


def test_backends_marker_rejects_unknown_names(pytester: pytest.Pytester) -> None:
    _use_our_conftest(pytester)
    pytester.makepyfile(
        test_bad=textwrap.dedent(
            """
            import pytest

            @pytest.mark.backends("oracle")
            def test_bad(backend):
                pass
            """
        )
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*backends('oracle',)*expected names from*"])


@pytest.mark.backends("postgresql", "mariadb")
def test_extra_schema_referenced_from_main_database_is_dropped(
    backend: str, tmp_path: Path
) -> None:
    """A foreign key from the main database into the extra schema must not block cleanup."""
    with fresh_database(backend, tmp_path) as url:
        with extra_schema(url) as schema:
            meta = sa.MetaData()
            sa.Table("parent", meta, sa.Column("id", sa.Integer, primary_key=True), schema=schema)
            sa.Table(
                "child",
                meta,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("parent_id", sa.ForeignKey(f"{schema}.parent.id")),
            )
            engine = make_engine(url)
            try:
                meta.create_all(engine)
            finally:
                engine.dispose()
        if backend == "mariadb":
            assert not database_exists(backend, schema)
        assert _exists(backend, url)
    assert not _exists(backend, url)
