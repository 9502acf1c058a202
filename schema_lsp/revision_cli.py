"""``schema-lsp revision`` (write a revision file) and ``schema-lsp diff`` (print the code).

Both use the project's settings (``[tool.schema-lsp]``, ``alembic.ini``) like ``check``;
revision files come from the project's own ``script.py.mako``, after the project's
``process_revision_directives`` hook (if configured) has reshaped them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .check import CheckError, comparison
from .database import DatabaseError, parse_url
from .revision_hook import CONFIG_KEY, RevisionHook, RevisionHookError, load_revision_hook
from .script import (
    CLI_OPTION_NAMES,
    RevisionGraph,
    ScriptConfig,
    ScriptConfigError,
    discover_config,
    load_graph,
)
from .script.writer import RevisionWriteError

if TYPE_CHECKING:
    from .autogenerate.revision import RevisionContext


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
    parent = rev.add_mutually_exclusive_group()
    parent.add_argument(
        "--head", metavar="REV", help="parent revision (default: the single current head)"
    )
    parent.add_argument(
        "--merge",
        action="store_true",
        help="join every current head: down_revision becomes the tuple of heads",
    )
    rev.add_argument("--rev-id", help="use this id instead of a generated one")
    rev.add_argument("--splice", action="store_true", help="allow a parent that is not a head")
    rev.add_argument("--branch-label", action="append")
    rev.add_argument("--depends-on", action="append")
    rev.add_argument("--version-path")
    rev.add_argument(
        "--process-revision-directives",
        metavar="MODULE:ATTR",
        help=f"a hook that may edit, drop or split the revision (default: '{CONFIG_KEY}' "
        "under [tool.schema-lsp])",
    )
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


def _dialect_name(url: str) -> str:
    return parse_url(url).get_backend_name()


def _hook_spec(args: argparse.Namespace, settings: Any) -> str | None:
    """The hook from ``--process-revision-directives``, else from ``[tool.schema-lsp]``."""
    if args.process_revision_directives:
        return str(args.process_revision_directives)
    value: str | None = settings.process_revision_directives
    return value


CLI_BEHIND_REASON = "--autogenerate compares the models with the database"


def _check_up_to_date(
    current: set[str], graph: RevisionGraph, reason: str = CLI_BEHIND_REASON
) -> str | None:
    """Why autogenerating now would be wrong, or None.

    As in Alembic, the database must be at every head, whichever parent ``--head`` picks:
    the comparison is against the database, so a database behind the parent would put
    the parent's own changes into the new revision again. ``reason`` says, in the caller's
    words, why the database matters.
    """
    heads = set(graph.heads)
    if current == heads:
        return None
    plural = len(heads) > 1
    return (
        "the database is not up to date: it is at "
        f"{', '.join(sorted(current)) or 'no revision'}, the migrations' "
        f"head{'s are' if plural else ' is'} {', '.join(graph.heads) or 'no revision'}; "
        f"run 'alembic upgrade {'heads' if plural else 'head'}' first ({reason}, "
        "so it must be at the migrations' heads)"
    )


def revision_failures() -> tuple[type[Exception], ...]:
    """What writing a revision can fail with that deserves one plain line, not a
    traceback (imported on use: the engine is not needed to parse the command line)."""
    from .autogenerate.revision import RevisionError

    return (
        CheckError,
        DatabaseError,
        RevisionError,
        RevisionHookError,
        RevisionWriteError,
        ScriptConfigError,
    )


def autogenerate_into(
    context: RevisionContext,
    *,
    models: str | Sequence[str],
    url: str,
    project: Path,
    opts: dict[str, Any],
    exclude_tables: Sequence[str] = (),
    behind_reason: str = CLI_BEHIND_REASON,
) -> None:
    """Compare the models with the database and run the hooks, all in one read-only
    transaction: the heads, the comparison and whatever a hook does with ``context.bind``
    are reads that are rolled back, so a revision never changes the user's database.

    Raises ``RevisionError`` when the database is behind the migrations' heads.
    """
    from .autogenerate.revision import RevisionError
    from .reflect import read_only

    opened = comparison(
        models,
        url,
        project_dir=project,
        opts={**opts, "template_args": context.template_args},
        exclude_tables=exclude_tables,
    )
    with opened as (metadata, mc):
        assert mc.bind is not None
        with read_only(mc.bind):
            current = set(mc.get_current_heads())
            behind = _check_up_to_date(current, load_graph(context.config), behind_reason)
            if behind:
                raise RevisionError(behind)
            context.run_autogenerate(tuple(current), mc, metadata)


def _script_config(args: argparse.Namespace, settings: Any) -> ScriptConfig:
    return script_config_for(args.project, settings.migrations)


def script_config_for(project_dir: Path, migrations: str | None) -> ScriptConfig:
    """The scripts folder: ``migrations`` (relative to the project) with ``alembic.ini``'s
    options when it names the same folder, else what ``alembic.ini`` says."""
    project = project_dir.resolve()
    if migrations:
        location = Path(migrations)
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
    batch = args.batch
    if batch is None:
        batch = settings.render_as_batch
    return comparison_opts(
        dialect_name,
        compare_type=settings.compare_type,
        compare_server_default=settings.compare_server_default
        if args.compare_server_default is None
        else args.compare_server_default,
        include_schemas=settings.include_schemas,
        render_as_batch=batch,
    )


def comparison_opts(
    dialect_name: str,
    *,
    compare_type: bool,
    compare_server_default: bool,
    include_schemas: bool | Sequence[str],
    render_as_batch: bool | None,
) -> dict[str, Any]:
    """The comparison's options; batch blocks default to on for SQLite only."""
    return {
        "compare_type": compare_type,
        "compare_server_default": compare_server_default,
        "include_schemas": include_schemas,
        "render_as_batch": dialect_name == "sqlite" if render_as_batch is None else render_as_batch,
    }


def run_revision(args: argparse.Namespace) -> int:
    from .autogenerate.revision import RevisionArgs, RevisionContext
    from .config_errors import settings_errors

    try:
        settings = _settings(args)
        config = _script_config(args, settings)
        hook_spec = _hook_spec(args, settings)
        hook: RevisionHook | None = (
            load_revision_hook(hook_spec, args.project) if hook_spec else None
        )
    except settings_errors() as exc:
        return _error(str(exc))
    except RevisionHookError as exc:
        return _error(str(exc))
    revision_args = RevisionArgs(
        message=args.message,
        rev_id=args.rev_id,
        head=args.head,
        merge=args.merge,
        splice=args.splice,
        branch_label=args.branch_label,
        version_path=args.version_path,
        depends_on=args.depends_on,
    )
    context = RevisionContext(
        config, revision_args, process_revision_directives=hook, option_names=CLI_OPTION_NAMES
    )
    try:
        if args.autogenerate:
            models = args.models or settings.models
            url = args.db or settings.database_url
            if not models or not url:
                return _error(
                    "--autogenerate needs the models and the database: pass "
                    "--models and --db or set them under [tool.schema-lsp]"
                )
            autogenerate_into(
                context,
                models=models,
                url=url,
                project=args.project,
                opts=_opts(args, settings, _dialect_name(url)),
                exclude_tables=settings.exclude_tables,
            )
        else:
            from .runtime.migration import MigrationContext

            mc = MigrationContext.configure(
                dialect_name="sqlite", opts={"template_args": context.template_args}
            )
            context.run_no_autogenerate((), mc)
        if not context.generated_revisions:
            print(
                f"No revision file written: the {CONFIG_KEY} hook {hook_spec} removed every "
                "revision (hooks do this, e.g., when there is nothing to migrate)",
                file=sys.stderr,
            )
            return 0
        written = context.generate_scripts()
    except revision_failures() as exc:
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
    try:
        opts = _opts(args, settings, _dialect_name(url))
    except DatabaseError as exc:
        return _error(str(exc))
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
