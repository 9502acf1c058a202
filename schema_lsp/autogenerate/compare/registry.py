"""The two comparator registries.

``comparators`` is the public one (Alembic's name): plugins register on it. The built-in
comparators live in ``builtin_comparators``; each ``AutogenContext`` merges the two, plugins
first, so at equal priority a plugin runs before the built-ins of its target (as in Alembic
1.18+) and can ``STOP`` them within its subgroup.
"""

from __future__ import annotations

from ..dispatch import PriorityDispatcher

comparators = PriorityDispatcher()
builtin_comparators = PriorityDispatcher()
