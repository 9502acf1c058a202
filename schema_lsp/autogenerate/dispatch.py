"""Dispatch registries: the extension points of the engine and the renderer.

Two shapes, both Alembic-compatible so third-party plugins port by changing an import:

* ``Dispatcher`` maps a class (or a string key) to one function, found along the MRO; the
  renderers use it (``renderers.dispatch_for(MyOp)``).
* ``PriorityDispatcher`` keeps *lists* of functions per target string (``"schema"``,
  ``"table"``, ``"column"``), qualifier (a dialect name or ``"default"``) and priority; the
  comparators use it (``comparators.dispatch_for("schema")``).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])


class DispatchPriority(enum.IntEnum):
    """Order in which comparators for one target run (lowest value first)."""

    FIRST = 50
    HIGH = 40
    MEDIUM = 30
    LOW = 20
    LAST = 10

    @classmethod
    def in_order(cls) -> list[DispatchPriority]:
        return sorted(cls, reverse=True)


class PriorityDispatchResult(enum.Enum):
    """What a comparator returns: ``STOP`` skips the later ones of its subgroup."""

    CONTINUE = enum.auto()
    STOP = enum.auto()


class Deferred:
    """An argument that is expensive to build and only built when a plugin needs it.

    The built-in comparators work on reflected records and never touch the SQLAlchemy
    ``Table``/``Column`` objects Alembic's signature promises; third-party comparators get
    the real object, built on first use.
    """

    __slots__ = ("_built", "_factory", "_value", "record")

    def __init__(self, factory: Callable[[], Any], record: Any = None) -> None:
        #: The plain reflected record the built-in comparators read.
        self.record = record
        self._factory = factory
        self._value: Any = None
        self._built = False

    @property
    def value(self) -> Any:
        if not self._built:
            self._value = self._factory()
            self._built = True
        return self._value


def builtin(fn: _F) -> _F:
    """Mark a comparator as ours: it receives ``Deferred`` arguments unresolved."""
    fn.__schema_lsp_builtin__ = True  # type: ignore[attr-defined]
    return fn


def _resolve(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.value if isinstance(a, Deferred) else a for a in args)


_Entry = tuple[Callable[..., Any], "str | None"]


class PriorityDispatcher:
    """Lists of functions per (target, qualifier, priority), run in a documented order.

    Order for one target: priorities from FIRST to LAST; within a priority the dialect's
    qualifier before ``"default"``; within those, registration order. A function returning
    ``PriorityDispatchResult.STOP`` skips the later functions of its ``subgroup``.
    """

    def __init__(self) -> None:
        self._registry: dict[tuple[str, str, DispatchPriority], list[_Entry]] = defaultdict(list)

    def dispatch_for(
        self,
        target: str,
        *,
        priority: DispatchPriority = DispatchPriority.MEDIUM,
        qualifier: str = "default",
        subgroup: str | None = None,
    ) -> Callable[[_F], _F]:
        def decorate(fn: _F) -> _F:
            self._registry[(target, qualifier, priority)].append((fn, subgroup))
            return fn

        return decorate

    def functions(self, target: str, qualifier: str = "default") -> list[_Entry]:
        """The entries for ``target`` in the order they run."""
        qualifiers = [qualifier, "default"] if qualifier != "default" else ["default"]
        out: list[_Entry] = []
        for priority in DispatchPriority.in_order():
            for q in qualifiers:
                out.extend(self._registry.get((target, q, priority), ()))
        return out

    def has_plugins(self, target: str, qualifier: str = "default") -> bool:
        """True when a non-builtin function is registered for ``target``."""
        return any(
            not getattr(fn, "__schema_lsp_builtin__", False)
            for fn, _ in self.functions(target, qualifier)
        )

    def dispatch(self, target: str, *, qualifier: str = "default") -> Callable[..., None]:
        entries = [
            (fn, subgroup, bool(getattr(fn, "__schema_lsp_builtin__", False)))
            for fn, subgroup in self.functions(target, qualifier)
        ]
        if all(is_builtin for _, _, is_builtin in entries):
            # The common case, run once per column: no plugin, nothing to resolve.
            def go_builtin(*args: Any, **kw: Any) -> None:
                stopped: set[str | None] = set()
                for fn, subgroup, _ in entries:
                    if stopped and subgroup in stopped:
                        continue
                    if fn(*args, **kw) is PriorityDispatchResult.STOP:
                        stopped.add(subgroup)

            return go_builtin

        def go(*args: Any, **kw: Any) -> None:
            stopped: set[str | None] = set()
            resolved: tuple[Any, ...] | None = None
            for fn, subgroup, is_builtin in entries:
                if subgroup in stopped:
                    continue
                if is_builtin:
                    result = fn(*args, **kw)
                else:
                    if resolved is None:
                        resolved = _resolve(args)
                    result = fn(*resolved, **kw)
                if result is PriorityDispatchResult.STOP:
                    stopped.add(subgroup)

        return go

    def branch(self) -> PriorityDispatcher:
        """A copy that can be extended without touching this one."""
        d = PriorityDispatcher()
        d.populate_with(self)
        return d

    def populate_with(self, other: PriorityDispatcher) -> None:
        for key, entries in other._registry.items():
            self._registry[key].extend(entries)


class Dispatcher:
    """One function per class (looked up along the MRO) or per string key."""

    def __init__(self) -> None:
        self._registry: dict[tuple[Any, str], Callable[..., Any]] = {}

    def dispatch_for(
        self, target: Any, qualifier: str = "default", replace: bool = False
    ) -> Callable[[_F], _F]:
        def decorate(fn: _F) -> _F:
            if not replace and (target, qualifier) in self._registry:
                raise ValueError(
                    f"Can not set dispatch function for object {target!r}: "
                    "key already exists. To replace existing function, "
                    "use replace=True."
                )
            self._registry[(target, qualifier)] = fn
            return fn

        return decorate

    def dispatch(self, obj: Any, qualifier: str = "default") -> Callable[..., Any]:
        targets: list[Any]
        if isinstance(obj, str):
            targets = [obj]
        elif isinstance(obj, type):
            targets = list(obj.__mro__)
        else:
            targets = list(type(obj).__mro__)
        for target in targets:
            for q in (qualifier, "default") if qualifier != "default" else ("default",):
                fn = self._registry.get((target, q))
                if fn is not None:
                    return fn
        raise ValueError(f"no dispatch function for object: {obj!r}")

    def branch(self) -> Dispatcher:
        d = Dispatcher()
        d._registry.update(self._registry)
        return d
