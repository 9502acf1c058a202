"""Which object a comparison was on when it failed.

An exception escaping a comparator keeps its type and traceback (library callers, tests and
plugins see what they would see with Alembic); it only gains a note naming the table or
column, so ``schema-lsp check`` can say what failed in one line.
"""

from __future__ import annotations

import contextlib

_ATTR = "schema_lsp_comparing"


def blame(exc: BaseException, what: str) -> None:
    """Record on ``exc`` that it escaped while comparing ``what``; the innermost one wins."""
    if getattr(exc, _ATTR, None) is None:
        with contextlib.suppress(AttributeError):  # an exception type with __slots__
            setattr(exc, _ATTR, what)


def failed_object(exc: BaseException) -> str | None:
    """``"table shop.users"``, ``"column users.email"``, or None when nothing was named."""
    what = getattr(exc, _ATTR, None)
    return what if isinstance(what, str) else None


def qualified(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name
