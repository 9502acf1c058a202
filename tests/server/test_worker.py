"""The worker process: broken models become located failures, and the worker survives.

Each test drives a real worker (the project's interpreter is this one) against a real
SQLite database; the last check of every test proves the worker still answers.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from schema_lsp.server.worker.client import WorkerClient
from schema_lsp.server.worker.protocol import (
    CANCELLED,
    DB_ERROR,
    MODEL_ERROR,
    OK,
    UNCHANGED,
    CheckResult,
)

GOOD = """\
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(GOOD)
    with sqlite3.connect(root / "app.db") as conn:
        conn.execute(
            "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL)"
        )
    return root


@pytest.fixture
async def worker(project: Path) -> AsyncIterator[WorkerClient]:
    client = WorkerClient(sys.executable, project)
    try:
        yield client
    finally:
        await client.stop()


async def check(worker: WorkerClient, project: Path, **overrides: object) -> CheckResult:
    fields: dict[str, object] = {
        "root": str(project),
        "models": ["app.models:Base"],
        "database_url": f"sqlite:///{project / 'app.db'}",
        "import_timeout": 10.0,
    }
    fields.update(overrides)
    return await worker.check(**fields)


def kinds(result: CheckResult) -> set[str]:
    return {d["kind"] for d in result.drifts}


async def assert_alive(worker: WorkerClient, project: Path) -> None:
    (project / "app" / "models.py").write_text(GOOD)
    result = await check(worker, project)
    assert result.status == OK, result
    assert "add_column" not in kinds(result)


async def test_clean_models_then_unchanged_periodic_check(
    worker: WorkerClient, project: Path
) -> None:
    first = await check(worker, project)
    assert first.status == OK
    assert str(project / "app" / "models.py") in first.model_files
    again = await check(worker, project, models_changed=False)
    assert again.status == UNCHANGED
    with sqlite3.connect(project / "app.db") as conn:
        conn.execute("ALTER TABLE users ADD COLUMN extra INTEGER")
    moved = await check(worker, project, models_changed=False)
    assert moved.status == OK
    assert any(d["kind"] == "remove_column" and d["name"] == "extra" for d in moved.drifts)


async def test_every_edit_is_seen_even_within_the_same_second(
    worker: WorkerClient, project: Path
) -> None:
    models = project / "app" / "models.py"
    assert (await check(worker, project)).status == OK
    stat = models.stat()
    # Same size, same mtime second: a .pyc keyed on (mtime, size) would be stale.
    models.write_text(GOOD.replace("String(50))", "String(51))"))
    edited = models.stat()
    assert edited.st_size == stat.st_size
    result = await check(worker, project)
    assert "modify_type" in kinds(result)
    assert not list(project.rglob("*.pyc")), "no bytecode is written into the workspace"


async def test_syntax_error_points_at_file_and_line(worker: WorkerClient, project: Path) -> None:
    models = project / "app" / "models.py"
    models.write_text(GOOD + "\n\nclass Broken(Base)\n    pass\n")
    result = await check(worker, project)
    assert result.status == MODEL_ERROR
    failure = result.model_failure
    assert failure is not None and failure.kind == "syntax"
    assert failure.path == str(models)
    assert failure.line == GOOD.count("\n") + 3
    await assert_alive(worker, project)


async def test_exception_in_an_imported_module_points_at_the_deepest_workspace_frame(
    worker: WorkerClient, project: Path
) -> None:
    (project / "app" / "helpers.py").write_text("def boom():\n    return {}['missing']\n")
    (project / "app" / "models.py").write_text("from app.helpers import boom\n\nboom()\n" + GOOD)
    result = await check(worker, project)
    assert result.status == MODEL_ERROR
    failure = result.model_failure
    assert failure is not None and failure.kind == "exception"
    assert "KeyError" in failure.message
    assert failure.path == str(project / "app" / "helpers.py") and failure.line == 2
    assert str(project / "app" / "models.py") in result.model_files
    await assert_alive(worker, project)


async def test_infinite_loop_is_stopped_at_the_time_limit(
    worker: WorkerClient, project: Path
) -> None:
    (project / "app" / "models.py").write_text("x = 0\nwhile True:\n    x += 1\n")
    started = time.monotonic()
    result = await check(worker, project, import_timeout=1.0)
    assert time.monotonic() - started < 10
    assert result.status == MODEL_ERROR
    failure = result.model_failure
    assert failure is not None and failure.kind == "timeout"
    assert failure.path == str(project / "app" / "models.py") and failure.line in (2, 3)
    await assert_alive(worker, project)


async def test_os_exit_is_reported_where_it_was_called(worker: WorkerClient, project: Path) -> None:
    (project / "app" / "models.py").write_text("import os\n\n\nos._exit(3)\n")
    result = await check(worker, project)
    assert result.status == MODEL_ERROR
    failure = result.model_failure
    assert failure is not None and failure.kind == "exit" and "os._exit(3)" in failure.message
    assert failure.path == str(project / "app" / "models.py") and failure.line == 4
    await assert_alive(worker, project)


async def test_interpreter_crash_is_reported_where_it_happened(
    worker: WorkerClient, project: Path
) -> None:
    (project / "app" / "models.py").write_text("import ctypes\n\nctypes.string_at(0)\n")
    result = await check(worker, project)
    assert result.status == MODEL_ERROR
    failure = result.model_failure
    assert failure is not None and failure.kind == "crash" and "SIGSEGV" in failure.message
    assert failure.path == str(project / "app" / "models.py") and failure.line == 3
    await assert_alive(worker, project)


async def test_sys_exit_and_prints_do_not_break_the_protocol(
    worker: WorkerClient, project: Path
) -> None:
    noisy = 'import sys\nprint("{\\"id\\": 1}")\nsys.stdout.write("garbage\\n" * 1000)\n'
    (project / "app" / "models.py").write_text(noisy + GOOD)
    assert (await check(worker, project)).status == OK
    (project / "app" / "models.py").write_text("import sys\nsys.exit(2)\n")
    result = await check(worker, project)
    assert result.model_failure is not None and result.model_failure.kind == "exit"
    assert result.model_failure.line == 2
    await assert_alive(worker, project)


async def test_bad_models_setting_is_a_config_failure(worker: WorkerClient, project: Path) -> None:
    result = await check(worker, project, models=["app.models:Nope"])
    assert result.status == MODEL_ERROR
    assert result.model_failure is not None and result.model_failure.kind == "config"
    assert "Nope" in result.model_failure.message
    result = await check(worker, project, models=["nosuchpkg.models:Base"])
    assert result.model_failure is not None and "nosuchpkg" in result.model_failure.message
    await assert_alive(worker, project)


async def test_a_newer_check_cancels_the_running_one(worker: WorkerClient, project: Path) -> None:
    (project / "app" / "models.py").write_text("import time\ntime.sleep(30)\n")
    slow = asyncio.create_task(check(worker, project, import_timeout=60.0))
    await asyncio.sleep(0)  # let the slow request go out first
    while worker.process is None or not worker._pending:
        await asyncio.sleep(0.01)
    (project / "app" / "models.py").write_text(GOOD)
    started = time.monotonic()
    fast = await check(worker, project)
    assert fast.status == OK
    assert (await slow).status == CANCELLED
    assert time.monotonic() - started < 10


async def test_missing_sqlite_file_is_a_database_failure_not_a_new_file(
    worker: WorkerClient, project: Path
) -> None:
    missing = project / "nope.db"
    result = await check(worker, project, database_url=f"sqlite:///{missing}")
    assert result.status == DB_ERROR
    assert result.db_failure is not None and result.db_failure.kind == "missing_database"
    assert not missing.exists()
    await assert_alive(worker, project)


async def test_unreachable_server_fails_fast_without_leaking_the_password(
    worker: WorkerClient, project: Path
) -> None:
    url = "postgresql+psycopg://someone:hunter2@127.0.0.1:1/nothing"
    started = time.monotonic()
    result = await check(worker, project, database_url=url)
    assert time.monotonic() - started < 15
    assert result.status == DB_ERROR and result.db_failure is not None
    assert result.db_failure.kind == "unreachable"
    assert "hunter2" not in result.db_failure.message
    assert "127.0.0.1" in result.db_failure.message
    await assert_alive(worker, project)


async def test_missing_driver_names_the_extra(worker: WorkerClient, project: Path) -> None:
    result = await check(worker, project, database_url="postgresql+nodriverhere://u@h/db")
    assert result.status == DB_ERROR and result.db_failure is not None
    assert result.db_failure.kind == "driver"
    assert "pip install 'schema-lsp[postgresql]'" in result.db_failure.message


async def test_interpreter_without_sqlalchemy_is_a_clear_error(tmp_path: Path) -> None:
    import venv

    from schema_lsp.server.worker.client import WorkerUnavailable

    env_dir = tmp_path / "bare"
    venv.create(env_dir, with_pip=False)
    client = WorkerClient(str(env_dir / "bin" / "python"), tmp_path)
    with pytest.raises(WorkerUnavailable) as info:
        await client.check(root=str(tmp_path), models=["a:b"], database_url="sqlite://")
    assert "SQLAlchemy" in str(info.value) and str(env_dir) in str(info.value)


TAG = """

class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(primary_key=True)
"""
EDITS = [
    GOOD,
    GOOD.replace("String(50))", "String(80))"),  # the table's type drifts
    GOOD + TAG,  # a table only in the models
    GOOD.replace("name: Mapped[str]", "full_name: Mapped[str]"),  # a column renamed
    GOOD,
]


async def test_a_warm_worker_answers_each_edit_as_a_fresh_one_would(
    worker: WorkerClient, project: Path
) -> None:
    """The warm worker sends only what changed (table cache entries, hints); every answer,
    restored, must equal the answer of a worker that never saw the earlier edits."""
    models = project / "app" / "models.py"
    for text in EDITS:
        models.write_text(text)
        warm = await check(worker, project)
        fresh_worker = WorkerClient(sys.executable, project)
        try:
            fresh = await check(fresh_worker, project)
        finally:
            await fresh_worker.stop()
        assert warm.status == fresh.status == OK, (warm, fresh)
        assert warm.drifts == fresh.drifts
        assert warm.hints == fresh.hints
        assert warm.hints_base is None  # restored by the client before anyone sees it
