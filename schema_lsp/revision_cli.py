"""``schema-lsp revision`` (write a revision file) and ``schema-lsp diff`` (print the code).

Both use the project's settings (``[tool.schema-lsp]``, ``alembic.ini``) like ``check``;
revision files come from the project's own ``script.py.mako``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .check import CheckError, comparison
from .script import ScriptConfig, ScriptConfigError, discover_config, load_graph
from .script.writer import RevisionWriteError


def add_revision_commands(sub: Any) -> None:
    """Register ``revision`` and ``diff`` on the CLI's subparsers."""
    rev = sub.add_parser(
        "revision",
        help="write a new revision file from the project's script.py.mako",
        description="Write a new revision file. With --autogenerate, its upgrade() and "
        "downgrade() hold the ops that make the database match the models.",
    )
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--autogenerate", action="store_true")
    rev.add_argument("--head", help="parent revision (default: the single current head)")
    rev.add_argument("--rev-id", help="use this id instead of a generated one")
    rev.add_argument("--splice", action="store_true", help="allow a parent that is not a head")
    rev.add_argument("--branch-label", action="append")
    rev.add_argument("--depends-on", action="append")
    rev.add_argument("--version-path")
    _common(rev)
    rev.set_defaults(handler=run_revision)

    diff = sub.add_parser(
        "diff",
        help="print the upgrade and downgrade code for the drift, writing nothing",
    )
    _common(diff)
    diff.set_defaults(handler=run_diff)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", type=Path, default=Path("."))
    p.add_argument("--models", action="append", metavar="MODULE:ATTR")
    p.add_argument("--db", metavar="URL")
    p.add_argument(
        "--batch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="render batch_alter_table blocks (default: on for SQLite)",
    )
    p.add_argument("--compare-server-default", action=argparse.BooleanOptionalAction, default=None)


def _error(message: str) -> int:
    print(f"schema-lsp: error: {message}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> Any:
    from .server.config import resolve_config

    return resolve_config(args.project.resolve(), {})


def _script_config(args: argparse.Namespace, settings: Any) -> ScriptConfig:
    project = args.project.resolve()
    if settings.migrations:
        location = Path(settings.migrations)
        if not location.is_absolute():
            location = project / location
        ini = project / "alembic.ini"
        if ini.is_file():
            try:
                found = discover_config(project)
                if found.script_location.resolve() == location.resolve():
                    return found
            except ScriptConfigError:
                pass
        return ScriptConfig(script_location=location)
    return discover_config(project)


def _opts(args: argparse.Namespace, settings: Any, dialect_name: str) -> dict[str, Any]:
    batch = args.batch if args.batch is not None else dialect_name == "sqlite"
    return {
        "compare_type": settings.compare_type,
        "compare_server_default": settings.compare_server_default
        if args.compare_server_default is None
        else args.compare_server_default,
        "include_schemas": settings.include_schemas,
        "render_as_batch": batch,
    }


def run_revision(args: argparse.Namespace) -> int:
    from .autogenerate.revision import RevisionArgs, RevisionContext, RevisionError
    from .config_errors import settings_errors

    try:
        settings = _settings(args)
        config = _script_config(args, settings)
    except settings_errors() as exc:
        return _error(str(exc))
    revision_args = RevisionArgs(
        message=args.message,
        rev_id=args.rev_id,
        head=args.head,
        splice=args.splice,
        branch_label=args.branch_label,
        version_path=args.version_path,
        depends_on=args.depends_on,
    )
    context = RevisionContext(config, revision_args)
    try:
        if args.autogenerate:
            models = args.models or settings.models
            url = args.db or settings.database_url
            if not models or not url:
                return _error(
                    "--autogenerate needs the models and the database: pass "
                    "--models and --db or set them under [tool.schema-lsp]"
                )
            from sqlalchemy import make_url

            dialect_name = make_url(url).get_backend_name()
            with comparison(
                models,
                url,
                project_dir=args.project,
                opts=_opts(args, settings, dialect_name),
                exclude_tables=settings.exclude_tables,
            ) as (metadata, mc):
                graph = load_graph(config)
                current = set(mc.get_current_heads())
                if graph.heads and current != set(graph.heads) and not args.head:
                    return _error(
                        "the database is not up to date: it is at "
                        f"{', '.join(sorted(current)) or 'no revision'}, the migrations' "
                        f"head is {', '.join(graph.heads)}; run 'alembic upgrade head' first"
                    )
                context.run_autogenerate(tuple(current), mc, metadata)
        else:
            from .runtime.migration import MigrationContext

            context.run_no_autogenerate((), MigrationContext.configure(dialect_name="sqlite"))
        if not context.generated_revisions:
            print(
                "process_revision_directives removed every revision: nothing written",
                file=sys.stderr,
            )
            return 0
        written = context.generate_scripts()
    except (CheckError, RevisionError, RevisionWriteError, ScriptConfigError) as exc:
        return _error(str(exc))
    from .script.hooks import PostWriteHookError, run_post_write_hooks

    for w in written:
        print(f"Generating {w.path} ... done")
        try:
            results = run_post_write_hooks(w.path, config.post_write_hooks)
        except PostWriteHookError as exc:
            return _error(f"{w.path} was written, but a post-write hook failed: {exc}")
        for result in results:
            state = "done" if result.ok else f"exited with {result.returncode}"
            print(f"Running post-write hook {result.name!r} on {w.path} ... {state}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    from sqlalchemy import make_url

    from .autogenerate.api import produce_migrations
    from .autogenerate.render import render_python_code
    from .config_errors import settings_errors

    try:
        settings = _settings(args)
    except settings_errors() as exc:
        return _error(str(exc))
    models = args.models or settings.models
    url = args.db or settings.database_url
    if not models or not url:
        return _error("pass --models and --db or set them under [tool.schema-lsp]")
    opts = _opts(args, settings, make_url(url).get_backend_name())
    try:
        with comparison(
            models, url, project_dir=args.project, opts=opts, exclude_tables=settings.exclude_tables
        ) as (metadata, mc):
            script = produce_migrations(mc, metadata)
    except CheckError as exc:
        return _error(str(exc))
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    batch = bool(opts["render_as_batch"])
    print("def upgrade() -> None:")
    print(
        "    " + render_python_code(script.upgrade_ops, render_as_batch=batch, migration_context=mc)
    )
    print("\n\ndef downgrade() -> None:")
    print(
        "    "
        + render_python_code(script.downgrade_ops, render_as_batch=batch, migration_context=mc)
    )
    return 1 if not script.upgrade_ops.is_empty() else 0
