"""Locating model failures from Python and faulthandler tracebacks."""

from __future__ import annotations

from pathlib import Path

from schema_lsp.server.worker.failures import (
    deepest_workspace_frame,
    failure_from_exception,
    frames_from_faulthandler,
    locate_failure,
)
from schema_lsp.server.worker.protocol import Frame, ModelFailure


def test_faulthandler_dump_is_read_most_recent_last(tmp_path: Path) -> None:
    models = tmp_path / "models.py"
    dump = (
        "Timeout (0:00:01)!\n"
        "Thread 0x00007f (most recent call first):\n"
        f'  File "{models}", line 7 in loop\n'
        f'  File "{models}", line 12 in <module>\n'
        '  File "<frozen importlib._bootstrap>", line 241 in _call_with_frames_removed\n'
        "\n"
        "Thread 0x00007e (most recent call first):\n"
        '  File "/elsewhere.py", line 1 in other\n'
    )
    frames = frames_from_faulthandler(dump)
    assert [(f.line, f.name) for f in frames] == [
        (241, "_call_with_frames_removed"),
        (12, "<module>"),
        (7, "loop"),
    ]


def test_deepest_frame_inside_the_workspace_skips_libraries_and_venv(tmp_path: Path) -> None:
    (tmp_path / ".venv").mkdir()
    frames = [
        Frame("<frozen importlib._bootstrap>", 1),
        Frame(str(tmp_path / "app" / "models.py"), 10),
        Frame("/usr/lib/python3/site-packages/sqlalchemy/orm/decl.py", 99),
        Frame(str(tmp_path / ".venv" / "lib" / "x.py"), 5),
    ]
    found = deepest_workspace_frame(frames, tmp_path)
    assert found is not None and found.line == 10


def test_syntax_error_keeps_its_own_location(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    try:
        compile("x = (\n", str(path), "exec")
    except SyntaxError as exc:
        failure = failure_from_exception(exc)
    assert failure.kind == "syntax" and failure.line == 1 and failure.path == str(path)
    assert locate_failure(failure, tmp_path).line == 1


def test_failure_outside_the_workspace_stays_unlocated(tmp_path: Path) -> None:
    failure = ModelFailure(kind="exception", message="x", frames=[Frame("/lib/a.py", 3)])
    assert locate_failure(failure, tmp_path).path is None


PG_URL = "postgresql+psycopg://app:s3cret@db.example/shop"


def _pg_error(message: str) -> Exception:
    from sqlalchemy.exc import OperationalError

    return OperationalError("connect", {}, Exception(message))


def test_a_missing_role_is_a_login_problem_not_a_missing_database() -> None:
    from schema_lsp.server.worker.database import classify

    failure = classify(_pg_error('connection failed: FATAL:  role "app" does not exist'), PG_URL)
    assert failure.kind == "auth"
    assert "Cannot log in" in failure.message and "database at" not in failure.message
    assert "s3cret" not in failure.message


def test_a_missing_database_is_still_called_one() -> None:
    from schema_lsp.server.worker.database import classify

    failure = classify(_pg_error('FATAL:  database "shop" does not exist'), PG_URL)
    assert failure.kind == "missing_database"
    assert "does not exist" in failure.message and "Create it" in failure.message


def test_another_missing_object_is_not_called_a_missing_database() -> None:
    from schema_lsp.server.worker.database import classify

    failure = classify(_pg_error('schema "reporting" does not exist'), PG_URL)
    assert failure.kind == "error" and "database at" in failure.message


def test_a_connection_limit_is_not_called_an_unreachable_server() -> None:
    from schema_lsp.server.worker.database import classify

    failure = classify(_pg_error('FATAL:  too many connections for role "app"'), PG_URL)
    assert failure.kind == "unreachable" and "no connection to spare" in failure.message
    assert "Start the server" not in failure.message
