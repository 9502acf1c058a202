"""Plain functions behind the code actions, revision commands and migration-aware drift.

The server never imports the user's models: every op it writes comes from the ``fix`` the
worker rendered into each drift record. Here those fixes are ordered, combined, aimed at a
migration file (via :mod:`schema_lsp.script.edits`) or rendered as a new revision, and each
drift is classified against the pending revisions. No LSP I/O happens in this module, so it
is tested without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from schema_lsp.script import (
    RevisionGraph,
    RevisionScript,
    ScriptConfig,
    ScriptConfigError,
    discover_config,
)
from schema_lsp.script.edits import END_MARKER, START_MARKER, MigrationEdit
from schema_lsp.script.pending import (
    BY_HAND,
    PENDING,
    Classification,
    CoveredOp,
    classify,
    pending_revisions,
)
from schema_lsp.script.pending import upgrade_ops as history_ops

from .config import ServerConfig

#: Where each drift kind goes in a combined upgrade: tables before what references them,
#: drops after every addition, and tables dropped last (their FKs and indexes first).
KIND_RANK = {
    "add_table": 0,
    "add_table_comment": 1,
    "remove_table_comment": 1,
    "add_column": 1,
    "modify_type": 1,
    "modify_nullable": 1,
    "modify_default": 1,
    "modify_comment": 1,
    "add_constraint": 2,
    "add_index": 2,
    "add_fk": 3,
    "remove_fk": 4,
    "remove_index": 5,
    "remove_constraint": 5,
    "remove_column": 6,
    "remove_table": 7,
}

MIGRATION_KEY = "migration"
"""Key added to a drift record's ``data`` with its classification against the migrations."""


def has_fix(drift: Mapping[str, Any]) -> bool:
    fix = drift.get("fix")
    return isinstance(fix, Mapping) and bool(str(fix.get("upgrade") or "").strip())


def order_drifts(drifts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Dependency order for one upgrade; the worker's order is kept within a rank (it
    already sorts created tables by their foreign keys)."""
    items = list(drifts)
    return sorted(items, key=lambda d: KIND_RANK.get(str(d.get("kind")), 1))


def dedupe(drifts: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One record per drift (the same drift can reach us from several diagnostics)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in drifts:
        key = (d.get("kind"), d.get("schema"), d.get("table"), d.get("name"), d.get("attribute"))
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def is_pending(drift: Mapping[str, Any]) -> bool:
    info = drift.get(MIGRATION_KEY)
    return isinstance(info, Mapping) and info.get("category") == PENDING


def select_for_all(
    drifts: Iterable[Mapping[str, Any]], *, include_destructive: bool
) -> list[Mapping[str, Any]]:
    """What "add all" writes: drifts with a fix, not already covered by a pending revision,
    destructive ones only on request; deduplicated and in dependency order."""
    chosen = [
        d
        for d in dedupe(drifts)
        if has_fix(d) and not is_pending(d) and (include_destructive or not d.get("destructive"))
    ]
    return order_drifts(chosen)


@dataclass(frozen=True)
class CombinedFix:
    """Upgrade and downgrade code for several drifts, plus the imports they need."""

    upgrade: str
    downgrade: str
    imports: tuple[str, ...]
    count: int


def combine(drifts: Sequence[Mapping[str, Any]]) -> CombinedFix:
    """Concatenate the fixes of ``drifts`` (already ordered); the downgrade runs in reverse."""
    ups: list[str] = []
    downs: list[str] = []
    imports: set[str] = set()
    for d in drifts:
        fix = d.get("fix")
        if not isinstance(fix, Mapping):
            continue
        up = str(fix.get("upgrade") or "").strip("\n")
        down = str(fix.get("downgrade") or "").strip("\n")
        if up.strip():
            ups.append(up)
        if down.strip():
            downs.append(down)
        imports.update(str(i) for i in fix.get("imports") or () if str(i).strip())
    downs.reverse()
    return CombinedFix("\n".join(ups), "\n".join(downs), tuple(sorted(imports)), len(ups))


def template_body(code: str, indent: str = "    ") -> str:
    """Code for ``${upgrades}`` of a template that places it after ``indent``: Alembic's
    markers around it, continuation lines indented."""
    if not code.strip():
        return "pass"
    lines = [START_MARKER, *code.split("\n"), END_MARKER]
    return "\n".join([lines[0], *[(indent + ln) if ln.strip() else "" for ln in lines[1:]]])


def revision_message(drifts: Sequence[Mapping[str, Any]]) -> str:
    """A short default message for a new revision made from ``drifts``."""
    if len(drifts) == 1:
        d = drifts[0]
        what = str(d.get("kind") or "change").replace("_", " ")
        target = ".".join(str(x) for x in (d.get("table"), d.get("name")) if x)
        return f"{what} {target}".strip()
    tables = sorted({str(d.get("table")) for d in drifts if d.get("table")})
    return "update " + ", ".join(tables[:3]) + (" and more" if len(tables) > 3 else "")


def fix_title(drift: Mapping[str, Any], target: str) -> str:
    """Quick-fix title; destructive drifts say so before anyone clicks."""
    title = f"Add to migration {target}"
    if drift.get("destructive"):
        title += " (drops data)"
    return title


STALE_MARK = " (stale: "


def with_loss(diagnostic: types.Diagnostic) -> types.Diagnostic:
    """A destructive drift's diagnostic says what applying it would lose (before any stale
    mark), so the warning is read before the quick fix is picked."""
    data = diagnostic.data
    if not isinstance(data, Mapping) or not data.get("destructive") or not data.get("loss"):
        return diagnostic
    loss = str(data["loss"])
    if loss in diagnostic.message:
        return diagnostic
    message = diagnostic.message
    cut = message.rfind(STALE_MARK)
    head, tail = (message[:cut], message[cut:]) if cut != -1 else (message, "")
    record = dict(data)
    if isinstance(record.get("message"), str) and loss not in record["message"]:
        record["message"] = f"{record['message']} — {loss}"  # the record's text stays the shown one
    return types.Diagnostic(
        range=diagnostic.range,
        message=f"{head} — {loss}{tail}",
        severity=diagnostic.severity,
        code=diagnostic.code,
        source=diagnostic.source,
        data=record,
        tags=diagnostic.tags,
        related_information=diagnostic.related_information,
    )


# -- the project's migrations ---------------------------------------------------------------


def script_config(cfg: ServerConfig) -> ScriptConfig | None:
    """The migration scripts of a root: the configured folder, else alembic.ini; None when
    the project has no migrations."""
    root = cfg.root
    if cfg.migrations:
        location = Path(cfg.migrations)
        if not location.is_absolute():
            location = root / location
        try:
            found = discover_config(root)
            if found.script_location.resolve() == location.resolve():
                return found
        except (ScriptConfigError, OSError):
            pass
        return ScriptConfig(script_location=location)
    try:
        return discover_config(root)
    except (ScriptConfigError, OSError):
        return None


def in_versions(config: ScriptConfig, path: Path) -> bool:
    """Whether ``path`` is a file in one of the versions folders."""
    real = path.resolve()
    for folder in config.versions_dirs:
        base = folder.resolve()
        if real.parent == base or (config.recursive_version_locations and base in real.parents):
            return True
    return False


def newest_first(graph: RevisionGraph) -> list[RevisionScript]:
    """Revisions from the heads down (the order a downgrade runs)."""
    try:
        return list(graph.iterate_ancestors())
    except Exception:  # an unknown head (broken graph): fall back to file order
        return list(reversed(list(graph.revisions.values())))


def migration_targets(graph: RevisionGraph, open_paths: Iterable[Path]) -> list[RevisionScript]:
    """Where quick fixes write: the open migration files (newest first), else the heads."""
    open_set = {p.resolve() for p in open_paths}
    ordered = newest_first(graph)
    chosen = [r for r in ordered if r.path.resolve() in open_set]
    if chosen:
        return chosen
    return [graph.revisions[h] for h in graph.heads if h in graph.revisions]


# -- LSP shapes -----------------------------------------------------------------------------


def lsp_edits(plan: MigrationEdit) -> list[types.TextEdit]:
    return [
        types.TextEdit(
            range=types.Range(
                start=types.Position(line=e.start_line, character=e.start_character),
                end=types.Position(line=e.end_line, character=e.end_character),
            ),
            new_text=e.new_text,
        )
        for e in plan.edits
    ]


def workspace_edit(
    uri: str, version: int | None, edits: list[types.TextEdit], *, document_changes: bool
) -> types.WorkspaceEdit:
    """A versioned ``TextDocumentEdit`` when the client takes them (the client then refuses
    an edit computed against an older text), else plain ``changes``."""
    if document_changes:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=list(edits),
                )
            ]
        )
    return types.WorkspaceEdit(changes={uri: list(edits)})


# -- migration-aware drift ------------------------------------------------------------------


@dataclass(frozen=True)
class MigrationState:
    """The revision graph plus what the database has applied, for classifying drift."""

    graph: RevisionGraph
    applied_heads: tuple[str, ...] | None
    sources: Mapping[Path, str] | None = None

    def classifier(self) -> Any:
        if self.applied_heads is None:
            return None
        sources = dict(self.sources or {})
        pending = [
            op
            for script in pending_revisions(self.graph, list(self.applied_heads))
            for op in script_ops(script, sources)
        ]
        history = [op for s in self.graph.revisions.values() for op in script_ops(s, sources)]

        def run(drift: Mapping[str, Any]) -> Classification:
            return classify(
                str(drift.get("kind")),
                _str_or_none(drift.get("table")),
                _str_or_none(drift.get("name")),
                pending,
                history,
            )

        return run


_OPS_CACHE: dict[tuple[str, str], list[CoveredOp]] = {}


def script_ops(script: RevisionScript, sources: Mapping[Path, str]) -> list[CoveredOp]:
    """The upgrade ops of one revision, parsed once per distinct text (diagnostics are
    classified on every publish; the history rarely changes)."""
    text = sources.get(script.path.absolute())
    if text is None:
        try:
            text = script.path.read_text(encoding="utf-8")
        except OSError:
            return []
    key = (str(script.path), text)
    found = _OPS_CACHE.get(key)
    if found is None:
        if len(_OPS_CACHE) > 4096:
            _OPS_CACHE.clear()
        found = history_ops([script], {script.path: text})
        _OPS_CACHE[key] = found
    return found


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def annotate(
    diagnostic: types.Diagnostic, classification: Classification, root: Path | None = None
) -> types.Diagnostic:
    """The diagnostic as the migrations explain it: covered by a pending revision becomes
    information pointing at the op; changed by hand says so; missing stays as it is."""
    data = dict(diagnostic.data or {})
    info: dict[str, Any] = {"category": classification.category}
    if classification.category == PENDING and classification.path is not None:
        name = classification.path.name
        info.update(
            revision=classification.revision,
            path=str(classification.path),
            line=classification.line,
        )
        data[MIGRATION_KEY] = info
        line = max((classification.line or 1) - 1, 0)
        location = types.Location(
            uri=classification.path.absolute().as_uri(),
            range=types.Range(
                start=types.Position(line=line, character=0),
                end=types.Position(line=line + 1, character=0),
            ),
        )
        return types.Diagnostic(
            range=diagnostic.range,
            message=(
                f"{diagnostic.message} — covered by pending revision {classification.revision} "
                f"({name}), not applied yet; run 'alembic upgrade head'"
            ),
            severity=types.DiagnosticSeverity.Information,
            code=diagnostic.code,
            source=diagnostic.source,
            data=data,
            tags=diagnostic.tags,
            related_information=[
                types.DiagnosticRelatedInformation(
                    location=location,
                    message=f"the op in revision {classification.revision}",
                )
            ],
        )
    data[MIGRATION_KEY] = info
    message = diagnostic.message
    if classification.category == BY_HAND:
        message += " — changed by hand: no model and no migration created it"
    return types.Diagnostic(
        range=diagnostic.range,
        message=message,
        severity=diagnostic.severity,
        code=diagnostic.code,
        source=diagnostic.source,
        data=data,
        tags=diagnostic.tags,
        related_information=diagnostic.related_information,
    )


GRAPH_CODE = "migration-graph"


def graph_diagnostics(
    graph: RevisionGraph, texts: Mapping[Path, str] | None = None
) -> dict[Path, list[types.Diagnostic]]:
    """Problems of the revision graph (syntax errors, missing parents, cycles, duplicate
    ids, several heads) at their lines in the migration files. ``texts``: the editor's
    buffers by absolute path, which the graph was read from where a file is open (a range
    fitted to the file on disk may lie outside the unsaved text)."""
    out: dict[Path, list[types.Diagnostic]] = {}

    def line_range(path: Path, line: int) -> types.Range:
        return _line_range(path, line, (texts or {}).get(path.absolute()))

    for problem in graph.problems:
        if problem.path is None or problem.path.suffix != ".py":
            continue
        line = max((problem.line or 1) - 1, 0)
        out.setdefault(problem.path.absolute(), []).append(
            types.Diagnostic(
                range=line_range(problem.path, line),
                message=problem.message,
                severity=types.DiagnosticSeverity.Error,
                code=problem.code,
                source="schema-lsp",
                data={"kind": GRAPH_CODE, "problem": problem.code},
            )
        )
    if len(graph.heads) > 1:
        names = ", ".join(graph.heads)
        for head in graph.heads:
            script = graph.revisions[head]
            line = max((script.revision_line or 1) - 1, 0)
            out.setdefault(script.path.absolute(), []).append(
                types.Diagnostic(
                    range=line_range(script.path, line),
                    message=(
                        f"the migrations have {len(graph.heads)} heads ({names}); "
                        "merge them with 'alembic merge heads' before adding revisions"
                    ),
                    severity=types.DiagnosticSeverity.Warning,
                    code="multiple-heads",
                    source="schema-lsp",
                    data={"kind": GRAPH_CODE, "problem": "multiple-heads"},
                )
            )
    return out


def _line_range(path: Path, line: int, source: str | None = None) -> types.Range:
    """Line ``line`` of ``source`` (else of the file), without its indentation, in the
    UTF-16 units LSP positions count."""
    if source is None:
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            source = ""
    lines = source.splitlines()
    if line >= len(lines):  # past the end (an error at EOF): the last line's end
        line = max(len(lines) - 1, 0)
    text = lines[line] if lines else ""
    start = len(text) - len(text.lstrip())
    end = len(text.encode("utf-16-le")) // 2
    return types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=line, character=max(end, start)),
    )


# -- command arguments ----------------------------------------------------------------------


@dataclass(frozen=True)
class CommandArgs:
    """Arguments of our commands as editors send them: a URI (``file:``), a message, a list
    of drift records and/or an options object, in any order."""

    uri: str | None = None
    message: str | None = None
    drifts: list[Mapping[str, Any]] | None = None
    options: Mapping[str, Any] | None = None


def parse_args(args: Sequence[Any]) -> CommandArgs:
    uri = message = None
    drifts: list[Mapping[str, Any]] | None = None
    options: dict[str, Any] = {}
    for arg in args:
        if isinstance(arg, str):
            if uri is None and arg.startswith("file:"):
                uri = arg
            elif message is None:
                message = arg
        elif isinstance(arg, list):
            drifts = [d for d in arg if isinstance(d, Mapping)]
        elif isinstance(arg, Mapping):
            options.update(arg)
    if isinstance(options.get("uri"), str):
        uri = options["uri"]
    if isinstance(options.get("message"), str):
        message = options["message"]
    if isinstance(options.get("drifts"), list):
        drifts = [d for d in options["drifts"] if isinstance(d, Mapping)]
    return CommandArgs(uri, message, drifts, options or None)
