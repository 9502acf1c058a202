"""The command line on the bundled example: drift lines, exit codes, clear errors,
revision files that Alembic itself runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schema_lsp.autogenerate import comparators
from schema_lsp.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A private copy of the example project (its database gets migrated by some tests)."""
    target = tmp_path / "shop"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schema_lsp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_reports_the_example_drift(shop: Path) -> None:
    result = _run("check", "--project", str(shop))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "reviews: table is in the models but not in the database" in lines
    assert any(line.startswith("users.email_verified: column is in the models") for line in lines)
    assert "products.name: model says VARCHAR(200), database has VARCHAR(100)" in lines
    assert "users.name: model says NOT NULL, database has NULL" in lines
    assert f"{len(lines)} differences" in result.stderr


def test_check_json(shop: Path) -> None:
    result = _run("check", "--project", str(shop), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    kinds = {d["kind"] for d in data["drift"]}
    assert {"add_table", "add_column", "remove_column", "modify_type"} <= kinds
    assert data["count"] == len(data["drift"])
    removed = next(d for d in data["drift"] if d["kind"] == "remove_column")
    assert removed["destructive"] is True and "deletes" in removed["loss"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--db", "not a url"], "invalid database URL"),
        (["--db", "postgresql+psycopg://app:s3cret@127.0.0.1:1/app"], "cannot connect"),
        (["--db", "oracle+cx_oracle://app:s3cret@h/x"], "driver"),
        (["--db", "sqlite:///missing.db"], "does not exist"),
        (["--models", "shop.nope:Base"], "cannot import 'shop.nope'"),
        (["--models", "shop.models:Nope"], "has no attribute 'Nope'"),
    ],
)
def test_check_errors_are_one_line(shop: Path, args: list[str], expected: str) -> None:
    result = _run("check", "--project", str(shop), *args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


REPORT = "this is a bug in schema-lsp: please report it with this message"


@contextmanager
def _failing_comparator(target: str, exc: Exception) -> Iterator[None]:
    """A plugin comparator that raises ``exc`` on the users table, as a bug in ours would."""

    def fail(autogen_context: Any, op: Any, schema: Any, tname: str, *rest: Any) -> None:
        if tname == "users":
            raise exc

    comparators.dispatch_for(target)(fail)
    try:
        yield
    finally:
        for entries in comparators._registry.values():
            entries[:] = [e for e in entries if e[0] is not fail]


@pytest.mark.parametrize(
    ("target", "exc", "expected"),
    [
        (
            "table",
            sa.exc.CompileError("can't render element"),
            "comparing table users failed: CompileError: can't render element",
        ),
        (
            "column",
            KeyError("name"),
            "comparing column users.id failed: KeyError: 'name'",
        ),
    ],
)
def test_check_internal_error_is_one_line_exit_2(
    shop: Path, capsys: pytest.CaptureFixture[str], target: str, exc: Exception, expected: str
) -> None:
    with _failing_comparator(target, exc):
        code = main(["check", "--project", str(shop)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"schema-lsp: error: {expected}; {REPORT}\n"


def test_check_unexpected_error_anywhere_is_exit_2(
    shop: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import schema_lsp.check

    def broken(*args: Any, **kw: Any) -> None:
        raise RuntimeError("postgresql://app:s3cret@h/x went away\nsecond line")

    monkeypatch.setattr(schema_lsp.check, "check_drift", broken)
    code = main(["check", "--project", str(shop), "--db", "postgresql://app:s3cret@h/x"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "schema-lsp: error: check failed: RuntimeError: postgresql://app:***@h/x went away; "
        f"{REPORT}\n"
    )


@pytest.mark.parametrize(
    ("url", "module", "hint"),
    [
        (
            "postgresql+psycopg://app:s3cret@h/x",
            "psycopg",
            "install it with: pip install 'schema-lsp[postgresql]'",
        ),
        (
            "mysql+pymysql://app:s3cret@h/x",
            "pymysql",
            "install it with: pip install 'schema-lsp[mysql]'",
        ),
        (
            "mysql+mysqldb://app:s3cret@h/x",
            "MySQLdb",
            "install it with: pip install 'mysqlclient', or use the driver schema-lsp "
            "installs: write the URL as mysql+pymysql:// and pip install 'schema-lsp[mysql]'",
        ),
        (
            "postgresql+pg8000://app:s3cret@h/x",
            "pg8000",
            "install it with: pip install 'pg8000', or use the driver schema-lsp installs: "
            "write the URL as postgresql+psycopg:// and pip install 'schema-lsp[postgresql]'",
        ),
    ],
)
def test_check_missing_driver_names_the_install_that_fixes_it(
    shop: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    module: str,
    hint: str,
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the driver were not installed
    code = main(["check", "--project", str(shop), "--db", url])
    err = capsys.readouterr().err
    shown = url.replace("s3cret", "***")
    assert code == 2
    assert err == (
        f"schema-lsp: error: the database driver for {shown} is not installed "
        f"(import of {module} halted; None in sys.modules); {hint}\n"
    )


def test_check_import_error_names_file_and_line(shop: Path) -> None:
    models = shop / "shop" / "models.py"
    text = models.read_text()
    models.write_text(text + "\nbroken = undefined_name\n")
    line = len((text + "\nbroken = undefined_name\n").splitlines())
    result = _run("check", "--project", str(shop))
    assert result.returncode == 2
    assert f"models.py:{line}:" in result.stderr
    assert "NameError" in result.stderr


def test_check_never_writes_the_sqlite_file(shop: Path) -> None:
    db = shop / "shop.db"
    before = db.read_bytes()
    assert main(["check", "--project", str(shop)]) == 1
    assert db.read_bytes() == before
    assert not (shop / "missing.db").exists()
    main(["check", "--project", str(shop), "--db", "sqlite:///missing.db"])
    assert not (shop / "missing.db").exists()


def test_no_drift_exit_zero(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "models.py").write_text(
        "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
        "t = sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER NOT NULL, PRIMARY KEY (id))")
    result = _run(
        "check",
        "--project",
        str(tmp_path),
        "--models",
        "app.models:metadata",
        "--db",
        "sqlite:///db.sqlite",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "No drift" in result.stderr


def test_diff_prints_upgrade_and_downgrade(shop: Path) -> None:
    result = _run("diff", "--project", str(shop))
    assert result.returncode == 1
    upgrade, downgrade = result.stdout.split("def downgrade() -> None:")
    assert "op.create_table('reviews'" in upgrade
    assert "batch_op.add_column(sa.Column('email_verified'" in upgrade
    assert "op.drop_table('reviews')" in downgrade
    compile(result.stdout, "diff", "exec")


def _alembic(shop: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=shop,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_revision_autogenerate_runs_under_alembic(shop: Path) -> None:
    written = _run("revision", "--project", str(shop), "-m", "sync models", "--autogenerate")
    assert written.returncode == 0, written.stderr
    files = sorted((shop / "migrations" / "versions").glob("*_sync_models.py"))
    assert len(files) == 1
    text = files[0].read_text()
    assert "down_revision" in text and "op.create_table('reviews'" in text

    # The example's users have no name: users.name NOT NULL needs them named first.
    with sa.create_engine(f"sqlite:///{shop / 'shop.db'}").begin() as conn:
        conn.exec_driver_sql("UPDATE users SET name = 'someone' WHERE name IS NULL")
    up = _alembic(shop, "upgrade", "head")
    assert up.returncode == 0, up.stderr
    assert _run("check", "--project", str(shop)).returncode == 0

    down = _alembic(shop, "downgrade", "-1")
    assert down.returncode == 0, down.stderr
    again = _run("check", "--project", str(shop))
    assert again.returncode == 1
    assert "reviews: table is in the models but not in the database" in again.stdout


def test_revision_refuses_when_database_is_behind(shop: Path) -> None:
    assert _run("revision", "--project", str(shop), "-m", "empty").returncode == 0
    behind = _run("revision", "--project", str(shop), "-m", "auto", "--autogenerate")
    assert behind.returncode == 2
    assert "not up to date" in behind.stderr
    assert len(list((shop / "migrations" / "versions").glob("*_auto.py"))) == 0


def test_exclude_tables_leaves_out_model_and_database_tables(shop: Path) -> None:
    """``exclude_tables`` hides a table on both sides: ``reviews`` exists only in the models,
    ``orders`` (with its extra column) in both."""
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8") + 'exclude_tables = ["rev*", "orders"]\n',
        encoding="utf-8",
    )
    result = _run("check", "--project", str(shop), "--format", "json")
    assert result.returncode == 1, result.stderr
    tables = {d["table"] for d in json.loads(result.stdout)["drift"]}
    assert tables == {"users", "products"}, result.stdout
