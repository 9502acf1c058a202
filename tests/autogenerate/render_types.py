"""User-defined types used by the rendering tests (a module of their own so
that the default ``user_module_prefix`` is predictable)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


class Money(sa.types.TypeDecorator[Any]):
    impl = sa.Numeric(12, 2)
    cache_ok = True


class MyString(sa.types.TypeDecorator[Any]):
    impl = sa.String
    cache_ok = True
