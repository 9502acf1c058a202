"""Importing the user's models inside a freshly forked child, always from source.

A forked child starts from the warm worker, which never imported user code, so every check
sees every edit. Workspace modules are compiled from source (never from a ``.pyc`` whose
mtime may not have moved within the same second) and no bytecode is written into the
user's tree.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from sqlalchemy import MetaData

from .compiled import BlockCompiler
from .origins import BlockOrigins


class ConfigProblem(Exception):
    """The ``models`` setting points at something that is not there or not metadata."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


#: The warm parent's block compiler, inherited by the forked child: holding the blocks of
#: the last import, it compiles only the blocks an edit changed.
BLOCKS: BlockCompiler | None = None
#: Set in the forked child when per-table results may be trusted by block (``origins``).
ORIGINS: BlockOrigins | None = None


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: ModuleType) -> None:
        """Run the module block by block (same statements, lines and tracebacks)."""
        if BLOCKS is None:
            super().exec_module(module)
            return
        source = self.get_data(self.path)
        blocks = BLOCKS.compile_keyed(self.path, source)
        if ORIGINS is None:
            for _, code in blocks:
                exec(code, module.__dict__)
            return
        ORIGINS.begin_file(self.path, source, module.__dict__)
        for key, code in blocks:
            ORIGINS.run(self.path, key, code, module.__dict__)


class _WorkspaceFinder(importlib.abc.MetaPathFinder):
    """Hand workspace modules to a loader that ignores and never writes bytecode."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root) + os.sep

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            return spec
        if not os.path.realpath(spec.origin).startswith(self.root):
            return spec
        if ".venv" in Path(spec.origin).parts:
            return spec
        loader = _SourceOnlyLoader(fullname, spec.origin)
        new = importlib.machinery.ModuleSpec(
            fullname,
            loader,
            origin=spec.origin,
            is_package=spec.submodule_search_locations is not None,
        )
        if spec.submodule_search_locations is not None:
            new.submodule_search_locations = spec.submodule_search_locations
        new.has_location = True
        return new


def prepare_imports(root: str) -> None:
    """Put the workspace first on ``sys.path`` and compile its modules from source."""
    sys.dont_write_bytecode = True
    entries = [root]
    if os.path.isdir(os.path.join(root, "src")):
        entries.append(os.path.join(root, "src"))
    sys.path[:0] = entries
    sys.meta_path.insert(0, _WorkspaceFinder(root))


def load_target(spec: str) -> Any:
    """Resolve ``module:attr`` (attr may be dotted)."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigProblem(
                f"models entry {spec!r}: module {exc.name!r} was not found on the workspace's "
                "path. Fix models in [tool.schema-lsp] or the editor settings."
            ) from exc
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigProblem(
                f"models entry {spec!r}: {module_name} has no attribute {part!r}. "
                "Point models at a MetaData or declarative base, e.g. 'pkg.models:Base'.",
                path=getattr(module, "__file__", None),
            ) from None
    return obj


def metadata_of(spec: str, obj: Any) -> list[MetaData]:
    """The MetaData behind a target: MetaData, declarative base/registry, or a list of them."""
    if isinstance(obj, MetaData):
        return [obj]
    meta = getattr(obj, "metadata", None)
    if isinstance(meta, MetaData):
        return [meta]
    if isinstance(obj, (list, tuple)):
        return [m for item in obj for m in metadata_of(spec, item)]
    raise ConfigProblem(
        f"models entry {spec!r} is a {type(obj).__name__}, not a MetaData or declarative base. "
        "Point it at your Base or MetaData object."
    )


def workspace_module_files(root: str, before: set[str]) -> list[str]:
    """Files of the workspace modules imported since ``before`` (the model files)."""
    prefix = os.path.realpath(root) + os.sep
    files = []
    for name, module in list(sys.modules.items()):
        if name in before:
            continue
        path = getattr(module, "__file__", None)
        if not path:
            continue
        real = os.path.realpath(path)
        if real.startswith(prefix) and ".venv" not in Path(real).parts:
            files.append(os.path.abspath(path))
    return sorted(set(files))
