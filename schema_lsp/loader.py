"""Importing a project's models (``package.module:attr``) and finding their ``MetaData``.

This runs the user's code, so it belongs in processes that may run it: the CLI (the user
asked for it) and the language server's worker, never the server itself. Failures become a
``ModelLoadError`` naming the file and line in the user's project that raised.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData


@dataclass
class ModelLoadError(Exception):
    """The models could not be loaded; ``path``/``line`` point into the user's code."""

    message: str
    path: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path and self.line else ""
        return f"{where}{self.message}"


def parse_target(spec: str) -> tuple[str, str | None]:
    """Split ``pkg.module:attr``; the attribute is optional (the module is searched)."""
    module, _, attr = spec.strip().partition(":")
    if not module or not all(p.isidentifier() for p in module.split(".")):
        raise ModelLoadError(
            f"invalid models target {spec!r}: expected 'package.module:attribute', "
            "e.g. 'app.models:Base'"
        )
    return module, attr or None


def metadata_of(obj: Any) -> MetaData | None:
    """The ``MetaData`` of a MetaData, a declarative base or a mapped class."""
    if isinstance(obj, MetaData):
        return obj
    md = getattr(obj, "metadata", None)
    return md if isinstance(md, MetaData) else None


def _find_metadata(module: Any) -> list[tuple[str, MetaData]]:
    found: dict[int, tuple[str, MetaData]] = {}
    for name, value in vars(module).items():
        md = metadata_of(value)
        if md is not None and id(md) not in found:
            found[id(md)] = (name, md)
    return list(found.values())


@contextmanager
def project_on_path(project_dir: Path) -> Iterator[None]:
    """Make the project's top-level packages importable for the duration of a load."""
    entry = str(project_dir)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def failure_location(exc: BaseException, project_dir: Path) -> tuple[str | None, int | None]:
    """The deepest frame of ``exc`` inside ``project_dir`` (SyntaxError: its own position)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    root = project_dir.resolve()
    best: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            path = Path(frame.filename).resolve()
        except OSError:
            continue
        if path == root or root in path.parents:
            best = (str(path), frame.lineno)
    return best


def load_metadata(
    spec: str | Sequence[str], project_dir: Path | str = "."
) -> MetaData | list[MetaData]:
    """Import each target and return its MetaData (a list when several are given)."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    project = Path(project_dir)
    result = [_load_one(s, project) for s in specs]
    return result[0] if isinstance(spec, str) else result


def _load_one(spec: str, project: Path) -> MetaData:
    module_name, attr = parse_target(spec)
    with project_on_path(project):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise ModelLoadError(
                    f"cannot import {module_name!r}: no module named {exc.name!r} "
                    f"(looked in {project} and the installed packages; run from the "
                    "project's root or set the models target)"
                ) from None
            path, line = failure_location(exc, project)
            raise ModelLoadError(f"importing {module_name} failed: {exc}", path, line) from None
        except SyntaxError as exc:
            raise ModelLoadError(
                f"syntax error in {module_name}: {exc.msg}", exc.filename, exc.lineno
            ) from None
        except Exception as exc:
            path, line = failure_location(exc, project)
            raise ModelLoadError(
                f"importing {module_name} failed: {type(exc).__name__}: {exc}", path, line
            ) from None
    if attr is None:
        candidates = _find_metadata(module)
        if len(candidates) != 1:
            names = ", ".join(n for n, _ in candidates) or "none"
            raise ModelLoadError(
                f"{module_name} defines {len(candidates)} MetaData objects ({names}); name one "
                f"as '{module_name}:ATTRIBUTE'"
            )
        return candidates[0][1]
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ModelLoadError(f"{module_name} has no attribute {attr!r}") from None
    md = metadata_of(obj)
    if md is None:
        raise ModelLoadError(
            f"{spec} is a {type(obj).__name__}, expected a MetaData or a declarative base"
        )
    return md
