"""Built-in comparators, one module per kind of object; all register into
``builtin_comparators`` on import. Plugins use ``comparators``.

Import order is dispatch order within a priority: Alembic runs the index/unique, foreign key
(and here primary key) comparators before the table comment one, and its opt-in CHECK
constraint plugin after it.
"""

from . import constraints

# isort: split
from . import columns, comments, schema, server_defaults, tables, types

# isort: split
from . import checks
from .caches import clear_caches
from .registry import builtin_comparators, comparators

__all__ = [
    "builtin_comparators",
    "checks",
    "clear_caches",
    "columns",
    "comments",
    "comparators",
    "constraints",
    "schema",
    "server_defaults",
    "tables",
    "types",
]
