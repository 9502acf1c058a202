"""``schema-lsp``: check drift from a terminal or CI, or serve the language server.

Exit codes of ``check`` follow ``alembic check``: 0 no drift, 1 drift, 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


def _add_check(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="compare the models with the database and print the drift",
        description="Compare SQLAlchemy models with a live database. Exit code 0: no drift, "
        "1: drift, 2: error.",
    )
    p.add_argument(
        "--models",
        action="append",
        metavar="MODULE:ATTR",
        help="the models: a MetaData or declarative base, e.g. app.models:Base (repeatable)",
    )
    p.add_argument("--db", metavar="URL", help="the database URL, e.g. sqlite:///app.db")
    p.add_argument(
        "--project",
        type=Path,
        default=Path("."),
        help="the project's root, where the models package is importable from (default: .)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--compare-server-default",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compare server defaults (default: off, as Alembic; or the project setting)",
    )
    p.add_argument(
        "--compare-type",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compare column types (default: on)",
    )
    p.add_argument(
        "--include-schemas", action="store_true", default=None, help="compare every schema"
    )


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    """``serve``'s options; shared with ``python -m schema_lsp.server``."""
    parser.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    parser.add_argument("--log-file", metavar="PATH", help="also write the log to this file")
    parser.add_argument("--verbose", action="store_true", help="log debug messages too")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="schema-lsp",
        description="Keep SQLAlchemy models, Alembic migrations and the live database in "
        "agreement.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_check(sub)
    add_serve_options(
        sub.add_parser(
            "serve",
            help="run the language server (stdio by default)",
            description="Run the language server: LSP over stdio, or TCP for debugging.",
        )
    )
    from .revision_cli import add_revision_commands

    add_revision_commands(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .server.server import serve

        return serve(tcp=args.tcp, log_file=args.log_file, verbose=args.verbose)
    if args.command == "check":
        return run_check(args)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.error(f"unknown command {args.command}")
    code: int = handler(args)
    return code


def _error(message: str) -> int:
    print(f"schema-lsp: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_check(args: argparse.Namespace) -> int:
    """``check``: every failure, even an unexpected one, is one line and exit code 2."""
    try:
        return _check(args)
    except Exception as exc:
        from .check import REPORT_HINT, exception_summary

        detail = exception_summary(exc)
        password = _password(args.db)
        if password:
            detail = detail.replace(password, "***")
        return _error(f"check failed: {detail}; {REPORT_HINT}")


def _password(url: str | None) -> str | None:
    from sqlalchemy import make_url

    try:
        return make_url(url).password if url else None
    except Exception:  # not a URL: nothing to hide
        return None


def _check(args: argparse.Namespace) -> int:
    from .server.config import ConfigError, resolve_config

    try:
        settings = resolve_config(args.project.resolve(), {})
    except ConfigError as exc:
        return _error(str(exc))
    models = args.models or settings.models
    url = args.db or settings.database_url
    if not models:
        return _error(
            "no models given: pass --models MODULE:ATTR (e.g. app.models:Base) or set "
            "'models' under [tool.schema-lsp] in pyproject.toml"
        )
    if not url:
        return _error(
            "no database given: pass --db URL (e.g. sqlite:///app.db) or set 'database_url' "
            "under [tool.schema-lsp] in pyproject.toml"
        )
    opts: dict[str, Any] = {
        "compare_type": settings.compare_type if args.compare_type is None else args.compare_type,
        "compare_server_default": settings.compare_server_default
        if args.compare_server_default is None
        else args.compare_server_default,
        "include_schemas": settings.include_schemas
        if args.include_schemas is None
        else args.include_schemas,
    }
    from .check import CheckError, check_drift

    try:
        result = check_drift(
            models, url, project_dir=args.project, opts=opts, exclude_tables=settings.exclude_tables
        )
    except CheckError as exc:
        return _error(str(exc))
    if args.format == "json":
        print(
            json.dumps(
                {
                    "database": result.database,
                    "models": result.models,
                    "count": len(result.drift),
                    "drift": [d.to_dict() for d in result.drift],
                },
                indent=2,
                default=str,
            )
        )
    else:
        for d in result.drift:
            print(d.message)
        if result.drift:
            n = len(result.drift)
            print(
                f"\n{n} difference{'s' if n != 1 else ''} between {', '.join(result.models)} "
                f"and {result.database}",
                file=sys.stderr,
            )
        else:
            print(
                f"No drift: {', '.join(result.models)} matches {result.database}", file=sys.stderr
            )
    return EXIT_DRIFT if result.drift else EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
