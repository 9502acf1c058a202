"""Read revision files statically and build the revision graph.

Migration files are programs: importing one runs its module body. Here they
are only parsed with :mod:`ast` and their identifier variables are read as
literals, so an editor can show the history of any checkout safely. Every
defect (syntax error, missing ``revision``, duplicate id, missing parent,
cycle) becomes a :class:`ScriptProblem` on the graph; one bad file never hides
the others.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from schema_lsp.script.config import ScriptConfig
from schema_lsp.script.problems import ScriptProblem

_REVISION_FILE = re.compile(r"(?!\.#|__init__)(.*\.py)$")
_LEGACY_REVISION_FILE = re.compile(r"([a-f0-9]+)\.py$")
_ILLEGAL_ID_CHARS = frozenset("@-+:")


class RevisionLookupError(LookupError):
    """A revision identifier matched nothing, or more than one revision."""


@dataclass(frozen=True)
class SourceRange:
    """A span of source: lines are 1-based, columns 0-based (as :mod:`ast` reports)."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int


@dataclass(frozen=True)
class RevisionScript:
    """What one revision file declares, read without executing it."""

    revision: str
    down_revisions: tuple[str, ...]
    path: Path
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    longdoc: str = ""
    revision_line: int | None = None
    down_revision_line: int | None = None
    upgrade: SourceRange | None = None
    downgrade: SourceRange | None = None
    value_ranges: Mapping[str, SourceRange] = field(default_factory=dict, compare=False)
    """Where the value of ``revision``, ``down_revision``, ``branch_labels`` and
    ``depends_on`` is written, for diagnostics and go-to-definition."""

    def line_of(self, name: str) -> int | None:
        """The line assigning ``name`` (one of the identifier variables), if present."""
        found = self.value_ranges.get(name)
        return found.start_line if found is not None else None

    @property
    def doc(self) -> str:
        """The message: the docstring's first paragraph, as Alembic shows it."""
        return re.split("\n\n", self.longdoc)[0]

    @property
    def down_revision(self) -> str | tuple[str, ...] | None:
        """``down_revision`` in Alembic's form: None, one id, or a tuple for a merge."""
        if not self.down_revisions:
            return None
        if len(self.down_revisions) == 1:
            return self.down_revisions[0]
        return self.down_revisions

    @property
    def is_base(self) -> bool:
        return not self.down_revisions

    @property
    def is_merge_point(self) -> bool:
        return len(self.down_revisions) > 1


@dataclass(frozen=True)
class RevisionGraph:
    """All revisions of a project and how they connect.

    ``revisions`` keeps file order (sorted by path within each versions
    folder). ``heads`` are revisions no other revision names as
    ``down_revision``; ``bases`` have no ``down_revision``; both match
    Alembic's ``ScriptDirectory.get_heads()``/``get_bases()``.
    ``dependencies`` holds each revision's ``depends_on`` resolved to ids.
    """

    revisions: Mapping[str, RevisionScript] = field(default_factory=dict)
    problems: tuple[ScriptProblem, ...] = ()
    heads: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    branch_label_map: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, revision: object) -> bool:
        return revision in self.revisions

    def __len__(self) -> int:
        return len(self.revisions)

    def get_revision(self, ident: str) -> RevisionScript:
        """Look up a revision by id, branch label, or unique id prefix.

        Raises :class:`RevisionLookupError` naming the candidates when the
        identifier is unknown or ambiguous.
        """
        found = self.revisions.get(ident)
        if found is not None:
            return found
        labelled = self.branch_label_map.get(ident)
        if labelled is not None:
            return self.revisions[labelled]
        matches = [rev for rev in self.revisions if rev.startswith(ident)] if ident else []
        if len(matches) == 1:
            return self.revisions[matches[0]]
        if matches:
            raise RevisionLookupError(
                f"Revision prefix '{ident}' is ambiguous: it matches {', '.join(sorted(matches))}; "
                "give more characters."
            )
        known = ", ".join(self.heads) or "none"
        raise RevisionLookupError(
            f"No revision '{ident}' in the versions folder (current heads: {known}); "
            "check the id or branch label."
        )

    def current_head(self) -> str | None:
        """The single head (None for an empty history); several heads raise, naming them."""
        if len(self.heads) > 1:
            raise RevisionLookupError(
                f"There are {len(self.heads)} heads ({', '.join(self.heads)}); "
                "name one of them or merge them."
            )
        return self.heads[0] if self.heads else None

    def is_head(self, revision: str) -> bool:
        return revision in self.revisions and not self.children.get(revision)

    def parents_of(self, revision: str, *, include_dependencies: bool = False) -> tuple[str, ...]:
        """Known parent ids (unknown ``down_revision`` entries are skipped; see problems)."""
        script = self.revisions[revision]
        parents = [rev for rev in script.down_revisions if rev in self.revisions]
        if include_dependencies:
            parents += [dep for dep in self.dependencies.get(revision, ()) if dep not in parents]
        return tuple(parents)

    def iterate_ancestors(
        self, *starts: str, include_dependencies: bool = False
    ) -> Iterator[RevisionScript]:
        """Yield ``starts`` (default: all heads) and their ancestors, newest first.

        A revision is yielded only after every descendant of it in the walk,
        which is the order a downgrade runs in. Revisions caught in a cycle
        are never yielded (the cycle is reported in ``problems``).
        """
        roots = [self.get_revision(start).revision for start in starts] or list(self.heads)
        members: set[str] = set()
        stack = list(roots)
        while stack:
            rev = stack.pop()
            if rev in members:
                continue
            members.add(rev)
            stack.extend(self.parents_of(rev, include_dependencies=include_dependencies))
        waiting = dict.fromkeys(members, 0)
        for rev in members:
            for parent in self.parents_of(rev, include_dependencies=include_dependencies):
                waiting[parent] += 1
        order = {rev: index for index, rev in enumerate(self.revisions)}
        ready = sorted((rev for rev in members if waiting[rev] == 0), key=order.__getitem__)
        ready.reverse()
        while ready:
            rev = ready.pop()
            yield self.revisions[rev]
            for parent in self.parents_of(rev, include_dependencies=include_dependencies):
                waiting[parent] -= 1
                if waiting[parent] == 0:
                    ready.append(parent)


def list_revision_files(config: ScriptConfig) -> list[Path]:
    """Candidate revision files in the versions folders, in Alembic's order.

    A file reachable twice (overlapping folders, symlinks) is listed once.
    """
    seen: set[str] = set()
    files: list[Path] = []
    for folder in config.versions_dirs:
        if not folder.is_dir():
            continue
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            dirs[:] = [name for name in dirs if name != "__pycache__"]
            real_root = os.path.realpath(root)
            for name in sorted(names):
                if not _REVISION_FILE.match(name):
                    continue
                path = os.path.join(root, name)
                real = (
                    os.path.realpath(path)
                    if os.path.islink(path)
                    else os.path.join(real_root, name)
                )
                if real not in seen:
                    seen.add(real)
                    files.append(Path(path))
            if not config.recursive_version_locations:
                break
    return files


class ParseCache:
    """Parsed revision files remembered with the exact text they were parsed from.

    Parsing is the cost of loading a graph; an editor reloads the graph on
    every change, so keeping one cache per project means only changed files
    are parsed again. Files are still read each time and compared byte for
    byte, because timestamps can miss a same-size rewrite within one clock tick.
    """

    def __init__(self) -> None:
        self._entries: dict[
            Path, tuple[str | bytes, RevisionScript | None, tuple[ScriptProblem, ...]]
        ] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def parse(
        self, path: Path, source: str | bytes | None = None
    ) -> tuple[RevisionScript | None, list[ScriptProblem]]:
        """Like :func:`parse_revision_file`, reusing the last result if the text is unchanged."""
        if source is None:
            try:
                source = path.read_bytes()
            except OSError:
                self._entries.pop(path, None)
                return parse_revision_file(path)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == source:
            return entry[1], list(entry[2])
        script, problems = parse_revision_file(path, source)
        self._entries[path] = (source, script, tuple(problems))
        return script, problems

    def forget(self, path: Path) -> None:
        """Drop one file (e.g. when the editor reports it deleted)."""
        self._entries.pop(path.absolute(), None)

    def retain(self, paths: Iterable[Path]) -> None:
        """Drop entries for files no longer present."""
        keep = set(paths)
        for path in [p for p in self._entries if p not in keep]:
            del self._entries[path]


def load_graph(
    config: ScriptConfig,
    *,
    sources: Mapping[Path, str] | None = None,
    cache: ParseCache | None = None,
) -> RevisionGraph:
    """Read every revision file of ``config`` and build the graph.

    ``sources`` maps absolute file paths to text that replaces (or adds to)
    what is on disk, e.g. unsaved editor buffers inside a versions folder.
    ``cache`` lets repeated loads skip files that have not changed.
    """
    overrides = {Path(path).absolute(): text for path, text in (sources or {}).items()}
    paths = [path.absolute() for path in list_revision_files(config)]
    if cache is not None:
        cache.retain(paths)
    folders = [folder.absolute() for folder in config.versions_dirs]
    for extra in overrides:
        if (
            extra not in paths
            and _REVISION_FILE.match(extra.name)
            and _inside(extra, folders, recursive=config.recursive_version_locations)
        ):
            paths.append(extra)
    scripts: list[RevisionScript] = []
    problems: list[ScriptProblem] = []
    for path in paths:
        if cache is not None:
            script, found = cache.parse(path, overrides.get(path))
        else:
            script, found = parse_revision_file(path, overrides.get(path))
        problems.extend(found)
        if script is not None:
            scripts.append(script)
    return build_graph(scripts, problems)


def _inside(path: Path, folders: list[Path], *, recursive: bool) -> bool:
    if recursive:
        return any(folder in path.parents for folder in folders)
    return path.parent in folders


def parse_revision_file(
    path: Path, source: str | bytes | None = None
) -> tuple[RevisionScript | None, list[ScriptProblem]]:
    """Parse one revision file (or the given ``source`` for it) without running it."""
    if source is None:
        try:
            source = path.read_bytes()
        except OSError as exc:
            return None, [
                ScriptProblem(
                    "unreadable",
                    f"Cannot read revision file: {exc.strerror or exc}; check permissions.",
                    path,
                )
            ]
    try:
        module = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return None, [
            ScriptProblem(
                "syntax-error",
                f"Syntax error in revision file: {exc.msg}; fix it so the revision can be read.",
                path,
                exc.lineno,
            )
        ]
    except (ValueError, UnicodeDecodeError) as exc:
        return None, [
            ScriptProblem(
                "syntax-error",
                f"Revision file is not valid Python source ({exc}); save it as UTF-8 text.",
                path,
            )
        ]
    return _read_module(module, path)


class _ModuleReader:
    """Collects the identifier variables of one parsed revision module."""

    def __init__(self, module: ast.Module, path: Path) -> None:
        self.path = path
        self.problems: list[ScriptProblem] = []
        self.values: dict[str, tuple[object, int]] = {}
        self.ranges: dict[str, SourceRange] = {}
        self.functions: dict[str, SourceRange] = {}
        wanted = {"revision", "down_revision", "branch_labels", "depends_on"}
        for node in module.body:
            target, value = _assignment(node)
            if target in wanted and value is not None:
                try:
                    literal = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    self.problems.append(
                        ScriptProblem(
                            "not-literal",
                            f"'{target}' must be a literal (a string, None, or a tuple/list of "
                            "strings): schema-lsp reads migrations without running them.",
                            path,
                            node.lineno,
                        )
                    )
                    self.values.pop(target, None)
                    self.ranges.pop(target, None)
                    continue
                self.values[target] = (literal, node.lineno)
                self.ranges[target] = SourceRange(
                    value.lineno,
                    value.col_offset,
                    value.end_lineno or value.lineno,
                    value.end_col_offset or 0,
                )
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in (
                "upgrade",
                "downgrade",
            ):
                self.functions[node.name] = SourceRange(
                    node.lineno,
                    node.col_offset,
                    node.end_lineno or node.lineno,
                    node.end_col_offset or 0,
                )

    def ids(self, name: str) -> tuple[tuple[str, ...], int | None]:
        """A None/str/sequence-of-str variable as a tuple of ids."""
        if name not in self.values:
            return (), None
        value, line = self.values[name]
        if value is None:
            return (), line
        if isinstance(value, str):
            return ((value,) if value else ()), line
        if isinstance(value, (tuple, list, set, frozenset)) and all(
            isinstance(item, str) for item in value
        ):
            return tuple(value), line
        self.problems.append(
            ScriptProblem(
                "invalid-value",
                f"'{name}' must be None, a string, or a tuple/list of strings, "
                f"not {type(value).__name__}.",
                self.path,
                line,
            )
        )
        return (), line


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            return target.id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _read_module(
    module: ast.Module, path: Path
) -> tuple[RevisionScript | None, list[ScriptProblem]]:
    reader = _ModuleReader(module, path)
    revision: str | None = None
    revision_line: int | None = None
    if "revision" in reader.values:
        value, revision_line = reader.values["revision"]
        if isinstance(value, str) and value:
            revision = value
        else:
            reader.problems.append(
                ScriptProblem(
                    "invalid-value",
                    f"'revision' must be a non-empty string, not {value!r}.",
                    path,
                    revision_line,
                )
            )
            return None, reader.problems
    else:
        legacy = _LEGACY_REVISION_FILE.match(path.name)
        if legacy is None:
            if not any(p.code == "not-literal" for p in reader.problems):
                reader.problems.append(
                    ScriptProblem(
                        "missing-revision",
                        "No 'revision' variable: add \"revision = '<id>'\" at module level "
                        "(or move the file out of the versions folder if it is not a migration).",
                        path,
                        1,
                    )
                )
            return None, reader.problems
        revision = legacy.group(1)
    bad = sorted(_ILLEGAL_ID_CHARS.intersection(revision))
    if bad:
        reader.problems.append(
            ScriptProblem(
                "invalid-value",
                f"Revision id '{revision}' contains {', '.join(repr(c) for c in bad)}, which "
                "Alembic does not allow in ids; use letters, digits and '_'.",
                path,
                revision_line,
            )
        )
    down, down_line = reader.ids("down_revision")
    if "down_revision" not in reader.values and not any(
        p.code == "not-literal" for p in reader.problems
    ):
        reader.problems.append(
            ScriptProblem(
                "missing-down-revision",
                "No 'down_revision' variable: add \"down_revision = None\" for a first "
                "revision, or the id of the revision this one follows.",
                path,
                revision_line,
            )
        )
    labels, _ = reader.ids("branch_labels")
    depends, _ = reader.ids("depends_on")
    doc = ast.get_docstring(module, clean=False) or ""
    script = RevisionScript(
        revision=revision,
        down_revisions=down,
        path=path,
        branch_labels=labels,
        depends_on=depends,
        longdoc=doc.strip(),
        revision_line=revision_line,
        down_revision_line=down_line,
        upgrade=reader.functions.get("upgrade"),
        downgrade=reader.functions.get("downgrade"),
        value_ranges=reader.ranges,
    )
    return script, reader.problems


def build_graph(
    scripts: Iterable[RevisionScript], problems: Iterable[ScriptProblem] = ()
) -> RevisionGraph:
    """Connect parsed revisions into a graph, adding problems for structural defects."""
    found = list(problems)
    revisions: dict[str, RevisionScript] = {}
    for script in scripts:
        first = revisions.get(script.revision)
        if first is not None:
            found.append(
                ScriptProblem(
                    "duplicate-id",
                    f"Revision id '{script.revision}' is already used by {first.path}; "
                    "give one of them a new id (and update any down_revision naming it).",
                    script.path,
                    script.revision_line,
                )
            )
            continue
        revisions[script.revision] = script

    labels = _branch_labels(revisions, found)
    children: dict[str, list[str]] = {rev: [] for rev in revisions}
    for script in revisions.values():
        for parent in script.down_revisions:
            if parent in revisions:
                children[parent].append(script.revision)
            else:
                found.append(
                    ScriptProblem(
                        "missing-parent",
                        f"down_revision names '{parent}', but no revision file has that id; "
                        "fix the id or restore the missing migration.",
                        script.path,
                        script.down_revision_line,
                    )
                )
    dependencies = _resolve_dependencies(revisions, labels, found)
    found.extend(_cycles(revisions, dependencies))
    heads = tuple(rev for rev in revisions if not children[rev])
    bases = tuple(rev for rev, script in revisions.items() if script.is_base)
    return RevisionGraph(
        revisions=revisions,
        problems=tuple(found),
        heads=heads,
        bases=bases,
        children={rev: tuple(kids) for rev, kids in children.items()},
        dependencies=dependencies,
        branch_label_map=labels,
    )


def _branch_labels(
    revisions: Mapping[str, RevisionScript], found: list[ScriptProblem]
) -> dict[str, str]:
    labels: dict[str, str] = {}
    for script in revisions.values():
        for label in script.branch_labels:
            owner = labels.get(label) or (label if label in revisions else None)
            if owner is not None and owner != script.revision:
                found.append(
                    ScriptProblem(
                        "duplicate-branch-label",
                        f"Branch label '{label}' is already used by revision {owner}; "
                        "choose a different label.",
                        script.path,
                        script.line_of("branch_labels") or script.revision_line,
                    )
                )
                continue
            labels[label] = script.revision
    return labels


def _resolve_dependencies(
    revisions: Mapping[str, RevisionScript],
    labels: Mapping[str, str],
    found: list[ScriptProblem],
) -> dict[str, tuple[str, ...]]:
    resolved: dict[str, tuple[str, ...]] = {}
    for script in revisions.values():
        ids: list[str] = []
        for name in script.depends_on:
            target = name if name in revisions else labels.get(name)
            if target is None:
                prefixed = [rev for rev in revisions if rev.startswith(name)]
                target = prefixed[0] if len(prefixed) == 1 else None
            if target is None:
                found.append(
                    ScriptProblem(
                        "unknown-dependency",
                        f"depends_on names '{name}', which is neither a revision id nor a "
                        "branch label; fix the name.",
                        script.path,
                        script.line_of("depends_on") or script.revision_line,
                    )
                )
            elif target not in ids:
                ids.append(target)
        resolved[script.revision] = tuple(ids)
    return resolved


def _cycles(
    revisions: Mapping[str, RevisionScript], dependencies: Mapping[str, tuple[str, ...]]
) -> list[ScriptProblem]:
    """One problem per revision that lies on a cycle of down_revision/depends_on edges."""
    edges = {
        rev: [p for p in (*script.down_revisions, *dependencies.get(rev, ())) if p in revisions]
        for rev, script in revisions.items()
    }
    problems: list[ScriptProblem] = []
    for component in _strongly_connected(edges):
        members = set(component)
        if len(component) == 1 and component[0] not in edges[component[0]]:
            continue
        for rev in sorted(members, key=list(revisions).index):
            path = _cycle_path(rev, edges, members)
            script = revisions[rev]
            problems.append(
                ScriptProblem(
                    "cycle",
                    f"Revision '{rev}' is part of a cycle ({' -> '.join(path)}); a revision "
                    "cannot come after itself: fix down_revision/depends_on.",
                    script.path,
                    script.down_revision_line or script.revision_line,
                )
            )
    return problems


def _cycle_path(start: str, edges: Mapping[str, list[str]], members: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for nxt in edges[current]:
            if nxt not in members:
                continue
            if nxt == start:
                path = [current]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt not in previous:
                previous[nxt] = current
                queue.append(nxt)
    return [start, start]


def _strongly_connected(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so long histories cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_pos = work.pop()
            if child_pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            recursed = False
            for pos in range(child_pos, len(targets)):
                target = targets[pos]
                if target not in index:
                    work.append((node, pos + 1))
                    work.append((target, 0))
                    recursed = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if recursed:
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components
