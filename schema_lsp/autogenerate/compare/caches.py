"""The comparators' process-wide caches, registered where they are defined.

Compiled type signatures, rendered defaults and normalised SQL are kept across comparisons
because the language server re-checks after every edit. ``clear_caches`` forgets them all,
so a measurement (or a test) can see what a one-shot ``schema-lsp check`` costs.
"""

from __future__ import annotations

from collections.abc import Callable

_CLEARERS: list[Callable[[], None]] = []


def register_cache(clear: Callable[[], None]) -> None:
    """Have ``clear_caches`` call ``clear``; every module-level cache registers here."""
    _CLEARERS.append(clear)


def clear_caches() -> None:
    """Empty every cache the comparators keep between comparisons."""
    for clear in _CLEARERS:
        clear()
