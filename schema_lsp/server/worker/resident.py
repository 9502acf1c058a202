"""A child kept alive with the models imported, to answer the next check from the edit alone.

At a thousand tables most of a check after a one-table edit is re-running the whole model
file in a fresh child. A child whose answer holds (verified, or nothing trusted) stays
*resident* instead of exiting: it keeps the imported models, the tables each block defined
(``origins``), its table cache entries and the hints the server holds. The next check of
the same scope asks it first. It removes the tables (and mapped classes) of the blocks the
edit replaced, runs the new blocks in the same module namespaces, puts the new tables where
the old ones stood, and answers like a child, trusting every other table.

That answer is speculative: what a block did besides defining tables (a name another
module imported, a mapper configured against the old class) is not undone. So the worker
then runs the ordinary full import in a fresh child, which verifies every table and hint
against the answer; a difference makes the server check again (``stale``), as for a wrongly
trusted table. A resident answers once and exits. It declines, and the worker forks a fresh
child at once, whenever it cannot mirror the edit: a file that runs as one block, a table
added or removed (blocks that do not pair up one run for one run), a changed block that
defines no table or raises.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from sqlalchemy import MetaData, Table

from . import loader
from .compiled import BlockKey
from .loader import workspace_module_files
from .origins import BlockOrigins
from .protocol import CheckRequest, write_all
from .table_cache import Entries

if TYPE_CHECKING:
    from .child import Imported

#: Key of the line a resident sends instead of an answer when it cannot mirror the edit.
DECLINED_FIELD = "declined"


class Declined(Exception):
    """The edit is not one a resident can mirror exactly enough to answer from."""


@dataclass
class Resident:
    """What a resident answers from: its import, reflection, entries and the hints the
    server holds (all of them, none left out)."""

    imported: Imported
    reflected: Any
    dialect: Any
    entries: Entries
    hints: list[dict[str, Any]]


def serve(resident: Resident, cmd_fd: int, result_fd: int) -> NoReturn:
    """Wait for one request on ``cmd_fd``, answer it from the edit or decline, exit."""
    from .child import Imported, answer

    line = _read_line(cmd_fd)
    if line is None:  # the worker is gone or dropped this resident
        os._exit(0)
    started = time.perf_counter()
    req = CheckRequest.from_dict(json.loads(line))
    imported = resident.imported
    try:
        files = workspace_module_files(req.root, imported.before)
        rerun_changed_blocks(imported.origins, imported.metadatas, files)
    except BaseException as exc:  # the fresh child reports errors in the user's code
        why = str(exc) if isinstance(exc, Declined) else f"{type(exc).__name__}: {exc}"
        write_all(result_fd, (json.dumps({DECLINED_FIELD: why}) + "\n").encode())
        os._exit(0)
    again = Imported(
        req,
        imported.targets,
        imported.metadatas,
        imported.before,
        imported.origins,
        started,
        timings={"speculative": 1},
    )
    trusted = imported.origins.trusted(imported.metadatas)
    answer(
        again,
        resident.reflected,
        resident.dialect,
        result_fd,
        resident.entries,
        resident.hints,
        trusted,
    )
    os._exit(0)


def rerun_changed_blocks(
    origins: BlockOrigins, metadatas: Sequence[MetaData], model_files: Sequence[str]
) -> None:
    """Bring the imported models to the model files as they are now, by their changed
    blocks only (see the module); raises ``Declined`` for an edit it cannot mirror."""
    compiler = loader.BLOCKS
    if compiler is None:
        raise Declined("no compiled blocks")
    if not set(model_files) <= set(origins.files):
        raise Declined("a model file did not run block by block")
    runs: list[_FileEdit] = []
    for path, digests in origins.files.items():
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError as exc:
            raise Declined(f"{path} cannot be read") from exc
        if source == origins.sources.get(path):
            continue
        if path in origins.whole:
            raise Declined(f"{path} runs as one block")
        keyed = compiler.compile_keyed(path, source)
        if any(key.whole for key, _ in keyed):
            raise Declined(f"{path} runs as one block")
        runs.append(_FileEdit(path, _paired_runs(digests, keyed), [key.digest for key, _ in keyed]))
        origins.sources[path] = source
    gone = [d for _, pairs, _ in runs for old, _ in pairs for d in old]
    if any(not origins.tables_of.get(d) for d in gone):
        raise Declined("a changed block defined no table")
    old_tables = {d: list(origins.tables_of[d]) for d in gone}
    gone_tables = {id(t): t for tables in old_tables.values() for t in tables}
    before = {id(m): list(m.tables.values()) for m in metadatas}
    _forget_mapped_classes(list(gone_tables.values()))
    for table in gone_tables.values():
        if table.metadata is not None:
            table.metadata.remove(table)
    origins.rerun(gone)
    run_of: dict[int, int] = {}  # id of a replaced table -> its run
    new_tables: list[list[Table]] = []  # per run: the tables that replace it
    for path, pairs, digests in runs:
        namespace = origins.namespaces[path]
        for old, new in pairs:
            first = origins.fresh_count()
            for key, code in new:
                origins.run(path, key, code, namespace)
            run_of.update((id(t), len(new_tables)) for d in old for t in old_tables[d])
            new_tables.append(origins.fresh_since(first))
        origins.files[path] = digests
    origins.importing = False
    if origins.untrusting:
        raise Declined("a changed block defined no table")
    origins.executed = [d for digests in origins.files.values() for d in digests]
    for metadata in metadatas:
        _restore_order(metadata, before[id(metadata)], run_of, new_tables)


#: A compiled block and the key of its text (``BlockCompiler.compile_keyed``).
Keyed = tuple[BlockKey, CodeType]
#: Old blocks (digests) replaced by new ones.
Pair = tuple[list[int], list[Keyed]]


class _FileEdit(NamedTuple):
    """One changed model file: its replaced runs of blocks and its blocks now, in order."""

    path: str
    pairs: list[Pair]
    digests: list[int]


def _paired_runs(digests: Sequence[int], keyed: Sequence[Keyed]) -> list[Pair]:
    """The edit as runs of old blocks each replaced by a run of new ones, between blocks
    both versions share in the same order; ``Declined`` when a run has no counterpart."""
    new_digests = [key.digest for key, _ in keyed]
    old_set, new_set = set(digests), set(new_digests)
    if len(old_set) != len(digests) or len(new_set) != len(new_digests):
        raise Declined("a file repeats a block")
    shared_old = [d for d in digests if d in new_set]
    shared_new = [d for d in new_digests if d in old_set]
    if shared_old != shared_new:
        raise Declined("blocks moved")
    pairs: list[Pair] = []
    old_run: list[int] = []
    new_run: list[Keyed] = []
    i = j = 0
    while i < len(digests) or j < len(keyed):
        while i < len(digests) and digests[i] not in new_set:
            old_run.append(digests[i])
            i += 1
        while j < len(keyed) and keyed[j][0].digest not in old_set:
            new_run.append(keyed[j])
            j += 1
        if old_run or new_run:
            if not old_run or not new_run:
                raise Declined("a table was added or removed")
            pairs.append((old_run, new_run))
            old_run, new_run = [], []
        i += 1
        j += 1
    return pairs


def _forget_mapped_classes(tables: list[Table]) -> None:
    """Drop the mapped classes of ``tables`` from their registries, so the new classes
    register cleanly (SQLAlchemy has no public per-class disposal)."""
    if not tables:
        return
    registries = getattr(sys.modules.get("sqlalchemy.orm.mapper"), "_mapper_registries", ())
    ids = {id(t) for t in tables}
    for registry in list(registries):
        managers = list(registry._managers)
        doomed = [m for m in managers if m.is_mapped and id(m.mapper.local_table) in ids]
        for manager in managers:
            inherits = manager.is_mapped and manager.mapper.inherits
            if inherits and inherits.class_manager in doomed and manager not in doomed:
                raise Declined("a subclass of a changed class lives in another block")
        for manager in doomed:
            registry._dispose_manager_and_mapper(manager)
            registry._managers.pop(manager, None)


def _restore_order(
    metadata: MetaData, before: list[Table], run_of: dict[int, int], new_tables: list[list[Table]]
) -> None:
    """Put the new tables where the ones they replace stood: a full import orders them
    so, and the hints the server holds are matched by position."""
    ordered: list[Table] = []
    placed: set[int] = set()
    for table in before:
        run = run_of.get(id(table))
        if run is None:
            ordered.append(table)
        elif run not in placed:
            placed.add(run)
            ordered.extend(t for t in new_tables[run] if t.metadata is metadata)
    current = metadata.tables
    if [id(t) for t in ordered] != [id(t) for t in current.values()]:
        if {id(t) for t in ordered} != {id(t) for t in current.values()}:
            raise Declined("the new tables cannot be placed where the old ones stood")
        dict.clear(current)
        dict.update(current, {t.key: t for t in ordered})


def _read_line(fd: int) -> str | None:
    buffer = b""
    while b"\n" not in buffer:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        buffer += chunk
    return buffer.partition(b"\n")[0].decode()
