"""One drift check, end to end: load the models, read the database, compare, describe.

The CLI's ``check`` and the language server's worker both call ``check_drift``; it is the
only place that strings the layers together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

from .autogenerate.api import produce_migrations
from .autogenerate.compare.failures import failed_object
from .autogenerate.drift import Drift, drift_records
from .database import (
    DatabaseError,
    anchor_sqlite_path,
    explain_connect_error,
    mask_url,
    open_engine,
)
from .loader import ModelLoadError, load_metadata
from .operations import ops
from .runtime.migration import MigrationContext
from .table_filters import table_filters


class CheckError(Exception):
    """A check could not run; the message says what and how to fix it."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


@dataclass
class CheckResult:
    models: list[str]
    database: str
    drift: list[Drift]
    script: ops.MigrationScript


@contextmanager
def comparison(
    models: str | Sequence[str],
    url: str,
    *,
    project_dir: Path | str = ".",
    opts: dict[str, Any] | None = None,
    exclude_tables: Sequence[str] = (),
) -> Iterator[tuple[MetaData | list[MetaData], MigrationContext]]:
    """Load the models and open the database; yields the target metadata and a context.

    Every failure on the way (models that don't import, a bad URL, a missing driver, an
    unreachable server) becomes a ``CheckError`` with one clear sentence.
    """
    specs = [models] if isinstance(models, str) else list(models)
    try:
        loaded = load_metadata(specs, project_dir)
    except ModelLoadError as exc:
        raise CheckError(str(exc), exc.path, exc.line) from None
    metadata: list[MetaData] = loaded if isinstance(loaded, list) else [loaded]
    try:
        engine = open_engine(anchor_sqlite_path(url, project_dir))
    except DatabaseError as exc:
        raise CheckError(str(exc)) from None
    options = dict(opts or {})
    options.update(table_filters(exclude_tables))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=options)
            yield (metadata if len(metadata) > 1 else metadata[0]), context
    except (DBAPIError, NoSuchModuleError, ImportError) as exc:
        raise CheckError(explain_connect_error(url, exc)) from None
    except SQLAlchemyError as exc:
        raise CheckError(f"reading {mask_url(url)} failed: {exc}") from None
    finally:
        engine.dispose()


#: Appended to every message about a failure that is schema-lsp's fault, not the user's.
REPORT_HINT = "this is a bug in schema-lsp: please report it with this message"


def internal_error_message(exc: BaseException) -> str:
    """One line for an unexpected exception during the comparison: what was being compared,
    the exception, and the hint to report it."""
    what = failed_object(exc) or "the models with the database"
    return f"comparing {what} failed: {exception_summary(exc)}; {REPORT_HINT}"


def exception_summary(exc: BaseException) -> str:
    """``TypeName: first line of the message`` (at most 300 characters of it)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__


def check_drift(
    models: str | Sequence[str],
    url: str,
    *,
    project_dir: Path | str = ".",
    opts: dict[str, Any] | None = None,
    exclude_tables: Sequence[str] = (),
) -> CheckResult:
    """Compare ``models`` with the database at ``url`` and describe every difference."""
    specs = [models] if isinstance(models, str) else list(models)
    with comparison(
        specs, url, project_dir=project_dir, opts=opts, exclude_tables=exclude_tables
    ) as (metadata, context):
        try:
            script = produce_migrations(context, metadata)
        except DBAPIError:
            raise  # the database refused a read: ``comparison`` explains it
        except Exception as exc:
            raise CheckError(internal_error_message(exc)) from None
        dialect = context.dialect
    assert script.upgrade_ops is not None
    return CheckResult(specs, mask_url(url), drift_records(script.upgrade_ops, dialect), script)
