"""Loading a project's ``process_revision_directives`` hook (``package.module:attr``).

Like the models, the hook is the user's code: only the CLI, which the user ran, imports it,
from the project's directory. Failures to import it or inside it become one-line
``RevisionHookError``s naming the hook and, when known, the file and line that failed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .loader import failure_location, project_on_path
from .operations import ops

CONFIG_KEY = "process_revision_directives"

RevisionHook = Callable[[Any, Any, list[ops.MigrationScript]], None]


class RevisionHookError(Exception):
    """The hook can't be loaded or failed while running; the message says where and why."""


def _where(path: str | None, line: int | None) -> str:
    return f" at {path}:{line}" if path and line else ""


def load_revision_hook(spec: str, project_dir: Path) -> RevisionHook:
    """Import ``spec`` from ``project_dir``; the result re-raises the hook's own failures as
    ``RevisionHookError`` so the CLI can print them in one line."""
    module_name, _, attr = spec.strip().partition(":")
    if not attr or not all(p.isidentifier() for p in (*module_name.split("."), *attr.split("."))):
        raise RevisionHookError(
            f"invalid {CONFIG_KEY} {spec!r}: expected 'package.module:attribute', e.g. "
            "'app.migration_hooks:writer'"
        )
    project = project_dir.resolve()
    with project_on_path(project):
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            path, line = failure_location(exc, project)
            raise RevisionHookError(
                f"cannot import the {CONFIG_KEY} hook {spec}{_where(path, line)}: "
                f"{type(exc).__name__}: {exc} (modules are imported from {project})"
            ) from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise RevisionHookError(
                f"the {CONFIG_KEY} hook {spec} does not exist: {module_name} has no "
                f"attribute {attr!r}"
            )
        target = getattr(target, part)
    if not callable(target):
        raise RevisionHookError(
            f"the {CONFIG_KEY} hook {spec} is a {type(target).__name__}, expected a function "
            "(context, revision, directives) or a Rewriter"
        )
    hook: RevisionHook = target

    def run(context: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
        try:
            hook(context, revision, directives)
        except Exception as exc:
            path, line = failure_location(exc, project)
            raise RevisionHookError(
                f"the {CONFIG_KEY} hook {spec} failed{_where(path, line)}: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    return run
