"""Helpers for the source-mapping tests: real model packages and text positions."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from schema_lsp.sources import ModuleSyntax, SourceLocation, Span, parse_module


def span_of(text: str, needle: str, occurrence: int = 0) -> tuple[int, int, int, int]:
    """0-based (start_line, start_char, end_line, end_char) of ``needle`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    end = start + len(needle)
    return (*_position(text, start), *_position(text, end))


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    line = before.count("\n")
    return line, offset - (before.rfind("\n") + 1)


def as_tuple(value: Span | SourceLocation | None) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    return (value.start_line, value.start_character, value.end_line, value.end_character)


@dataclass
class ModelPackage:
    """A package of model files written to disk and imported under a unique name."""

    name: str
    root: Path
    texts: dict[str, str]

    def path(self, module: str) -> str:
        return str(self.root / f"{module}.py")

    def module(self, module: str) -> ModuleType:
        return sys.modules[f"{self.name}.{module}"]

    def parse(self) -> dict[str, ModuleSyntax]:
        return {
            self.path(module): parse_module(self.path(module), text)
            for module, text in self.texts.items()
        }


@contextmanager
def model_package(
    tmp_path: Path, files: dict[str, str], imports: tuple[str, ...]
) -> Iterator[ModelPackage]:
    """Write ``files`` (module name -> source) as a package and import ``imports``."""
    name = f"models_{uuid.uuid4().hex}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    texts = {module: textwrap.dedent(text).lstrip("\n") for module, text in files.items()}
    for module, text in texts.items():
        (root / f"{module}.py").write_text(text, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.invalidate_caches()
        for module in imports:
            importlib.import_module(f"{name}.{module}")
        yield ModelPackage(name, root, texts)
    finally:
        sys.path.remove(str(tmp_path))
        for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
            del sys.modules[key]
