"""A thousand mapped classes across files: every table still resolves exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from schema_lsp.sources import SourceMap, collect_hints, map_sources

from .support import as_tuple, model_package, span_of

COUNT = 1000
PER_FILE = 250

BASE = """
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class AuditMixin:
    from sqlalchemy.orm import Mapped, mapped_column

    audited_by: Mapped[str | None] = mapped_column(comment="who")
"""


def _model(i: int) -> str:
    return (
        f"class Model{i}(AuditMixin, Base):\n"
        f'    __tablename__ = "table_{i}"\n'
        f"    id: Mapped[int] = mapped_column(primary_key=True)\n"
        f'    value_{i}: Mapped[str] = mapped_column("val_{i}", String({i + 1}), index=True)\n'
        f"\n\n"
    )


def _files() -> dict[str, str]:
    files = {"base": BASE}
    header = (
        "from sqlalchemy import String\n"
        "from sqlalchemy.orm import Mapped, mapped_column\n"
        "from .base import AuditMixin, Base\n\n\n"
    )
    for start in range(0, COUNT, PER_FILE):
        body = "".join(_model(i) for i in range(start, start + PER_FILE))
        files[f"models_{start // PER_FILE}"] = header + body
    return files


@pytest.mark.parametrize("use_hints", [True, False], ids=["hinted", "static"])
def test_thousand_classes(tmp_path: Path, use_hints: bool) -> None:
    files = _files()
    imports = tuple(name for name in files if name.startswith("models_")) if use_hints else ()
    with model_package(tmp_path, files, imports) as package:
        hints = collect_hints(package.module("base").Base) if use_hints else []
        if use_hints:
            assert len(hints) == COUNT
        source_map: SourceMap = map_sources(package.parse(), hints)
        assert len(source_map.table_keys()) == COUNT
        mixin_line = span_of(package.texts["base"], "audited_by: Mapped[str | None]")
        for i in range(COUNT):
            module = f"models_{i // PER_FILE}"
            text = package.texts[module]
            path = package.path(module)
            typed = source_map.locate("modify_type", None, f"table_{i}", f"val_{i}")
            assert typed is not None and typed.path == path
            assert as_tuple(typed) == span_of(text, f"String({i + 1})")
            header = source_map.locate("remove_column", None, f"table_{i}", "gone")
            assert header is not None
            assert as_tuple(header) == span_of(text, f"class Model{i}(AuditMixin, Base):")
            index = source_map.locate("add_index", None, f"table_{i}", None, columns=[f"val_{i}"])
            assert index is not None
            assert as_tuple(index) == span_of(text, "index=True", occurrence=i % PER_FILE)
            comment = source_map.locate("modify_comment", None, f"table_{i}", "audited_by")
            assert comment is not None and comment.path == package.path("base")
            assert (comment.start_line, comment.start_character) == (
                mixin_line[0],
                text_offset(package.texts["base"]),
            )


def text_offset(text: str) -> int:
    """Column of ``comment="who"`` in the mixin line."""
    line = next(line for line in text.splitlines() if "audited_by" in line)
    return line.index('comment="who"')
