"""The comparison engine's public API, shaped like ``alembic.autogenerate``."""

from .api import (
    AutogenContext,
    compare_metadata,
    compare_reflected,
    produce_migrations,
)
from .compare import comparators
from .render import render_op_text, render_python_code, renderers
from .revision import RevisionContext
from .rewriter import Rewriter

__all__ = [
    "AutogenContext",
    "RevisionContext",
    "Rewriter",
    "comparators",
    "compare_metadata",
    "compare_reflected",
    "produce_migrations",
    "render_op_text",
    "render_python_code",
    "renderers",
]
