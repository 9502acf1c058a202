"""Run a project's post-write hooks (formatters, linters) on a new revision file.

Alembic runs ``[post_write_hooks]`` after writing a revision so that, for
example, ``ruff format`` tidies it. This runs the same three hook types
(``exec``, ``module``, ``console_scripts``) with the same options. Writing and
hooks are separate steps so planning and writing stay free of side effects;
callers that write files for users (the CLI) run the hooks afterwards.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from schema_lsp.script.config import PostWriteHook
from schema_lsp.script.problems import ScriptProblem

REVISION_SCRIPT_TOKEN = "REVISION_SCRIPT_FILENAME"


class PostWriteHookError(Exception):
    """A hook is misconfigured or could not be started; the revision file itself was written."""

    def __init__(self, problem: ScriptProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class HookResult:
    """What one hook did: the command run, its exit status and its output."""

    name: str
    command: tuple[str, ...]
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def hook_command(hook: PostWriteHook, path: Path, *, python: str = sys.executable) -> list[str]:
    """The argument list a hook runs for revision file ``path``.

    ``REVISION_SCRIPT_FILENAME`` in the hook's ``options`` is replaced by the
    path; without the token the path is put first, as Alembic does.
    """
    kind = hook.type
    if kind == "exec":
        base = [_required(hook, "executable")]
    elif kind == "module":
        module = _required(hook, "module")
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise _hook_error(
                hook, f"module {module!r} is not installed; install it or remove the hook"
            )
        base = [python, "-m", module]
    elif kind == "console_scripts":
        name = _required(hook, "entrypoint")
        matches = importlib.metadata.entry_points(group="console_scripts", name=name)
        entry = next(iter(matches), None)
        if entry is None:
            raise _hook_error(
                hook, f"no console script {name!r} is installed; install it or remove the hook"
            )
        base = [python, "-c", f"import {entry.module}; {entry.module}.{entry.attr}()"]
    elif kind is None:
        raise _hook_error(hook, f"'{hook.name}.type' is required (exec, module or console_scripts)")
    else:
        raise _hook_error(hook, f"unknown type {kind!r}; use exec, module or console_scripts")
    options = hook.options.get("options", "")
    if REVISION_SCRIPT_TOKEN not in options:
        options = f"{REVISION_SCRIPT_TOKEN} {options}"
    args = shlex.split(options, posix=os.name == "posix")
    return [*base, *(arg.replace(REVISION_SCRIPT_TOKEN, str(path)) for arg in args)]


def run_post_write_hooks(
    path: Path,
    hooks: Sequence[PostWriteHook],
    *,
    python: str = sys.executable,
    timeout: float | None = 300,
) -> list[HookResult]:
    """Run ``hooks`` in order on the revision file at ``path``.

    A hook that exits non-zero does not stop the others (Alembic ignores exit
    codes too); its status and output are in the returned results. A hook
    that is misconfigured, cannot be started or times out raises
    :class:`PostWriteHookError`.
    """
    results: list[HookResult] = []
    for hook in hooks:
        command = hook_command(hook, path, python=python)
        cwd = hook.options.get("cwd") or None
        try:
            completed = subprocess.run(
                command,
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            missing = cwd if cwd and not Path(cwd).is_dir() else command[0]
            what = f"{missing!r} was not found; check the hook's settings"
            raise _hook_error(hook, what) from None
        except subprocess.TimeoutExpired:
            raise _hook_error(hook, f"did not finish within {timeout} seconds") from None
        except OSError as exc:
            raise _hook_error(hook, f"could not be started ({exc.strerror or exc})") from None
        results.append(
            HookResult(hook.name, tuple(command), completed.returncode, completed.stdout or "")
        )
    return results


def _required(hook: PostWriteHook, key: str) -> str:
    value = hook.options.get(key)
    if not value:
        raise _hook_error(hook, f"'{hook.name}.{key}' is required for a {hook.type} hook")
    return value


def _hook_error(hook: PostWriteHook, what: str) -> PostWriteHookError:
    return PostWriteHookError(
        ScriptProblem(
            "hook-failed",
            f"Post-write hook {hook.name!r}: {what}. The revision file was written; "
            "fix [post_write_hooks] in alembic.ini to have it formatted next time.",
        )
    )
