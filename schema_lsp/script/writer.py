"""Create new revision files from the project's own ``script.py.mako``.

The revision is planned first (id, parent, file name, rendered text) without
touching the disk, so the language server can preview it; writing then puts
the text in place atomically and never replaces an existing file.
"""

from __future__ import annotations

import ast
import datetime
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mako import exceptions as mako_exceptions
from mako.lookup import TemplateLookup
from mako.template import Template

from schema_lsp.script.config import ScriptConfig
from schema_lsp.script.problems import ScriptProblem
from schema_lsp.script.revisions import (
    RevisionGraph,
    RevisionLookupError,
    load_graph,
    parse_revision_file,
)
from schema_lsp.script.template_config import TemplateConfig

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "generic" / "script.py.mako"
_SLUG_WORD = re.compile(r"\w+")
_ILLEGAL_ID_CHARS = frozenset("@-+:")
_MAX_PROBLEMS_SHOWN = 5

RevisionIds: TypeAlias = str | Iterable[str] | None


@dataclass(frozen=True)
class OptionNames:
    """How the caller's user spells the parent-choosing options, so messages name them.

    The defaults are the Python keyword arguments; the CLI passes :data:`CLI_OPTION_NAMES`.
    """

    head: str = "head=<revision>"
    merge: str = "merge=True"
    splice: str = "splice=True"
    version_path: str = "version_path="


PYTHON_OPTION_NAMES = OptionNames()
CLI_OPTION_NAMES = OptionNames(
    head="--head REV", merge="--merge", splice="--splice", version_path="--version-path"
)


class RevisionWriteError(Exception):
    """A revision cannot be created; ``problem`` says what, where and how to fix."""

    def __init__(self, problem: ScriptProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class RevisionPlan:
    """Everything about a new revision, decided but not yet written."""

    revision: str
    down_revision: str | tuple[str, ...] | None
    branch_labels: tuple[str, ...]
    depends_on: str | list[str] | None
    message: str
    path: Path
    text: str
    create_date: datetime.datetime
    template_file: Path


@dataclass(frozen=True)
class WrittenRevision:
    """A revision file that now exists on disk."""

    revision: str
    down_revision: str | tuple[str, ...] | None
    path: Path
    message: str
    text: str


def new_rev_id() -> str:
    """A fresh 12-hex-digit revision id (the tail of a uuid4, as Alembic makes them)."""
    return uuid.uuid4().hex[-12:]


def slugify(message: str | None, truncate_length: int) -> str:
    """The file-name slug for a message: its words joined by ``_``, lower-cased.

    Long slugs are cut at a word boundary and end in ``_``, like Alembic's.
    """
    slug = "_".join(_SLUG_WORD.findall(message or "")).lower()
    if len(slug) > truncate_length:
        slug = slug[:truncate_length].rsplit("_", 1)[0] + "_"
    return slug


def revision_file_name(
    file_template: str,
    rev_id: str,
    message: str | None,
    create_date: datetime.datetime,
    truncate_slug_length: int = 40,
) -> str:
    """The new file's path relative to its versions folder (``file_template`` + ``.py``)."""
    tokens = {
        "rev": rev_id,
        "slug": slugify(message, truncate_slug_length),
        "epoch": int(create_date.timestamp()),
        "year": create_date.year,
        "month": create_date.month,
        "day": create_date.day,
        "hour": create_date.hour,
        "minute": create_date.minute,
        "second": create_date.second,
    }
    try:
        return f"{file_template % tokens}.py"
    except (KeyError, ValueError, TypeError) as exc:
        raise RevisionWriteError(
            ScriptProblem(
                "config-invalid",
                f"file_template {file_template!r} cannot be filled in ({exc!r}); use the tokens "
                "rev, slug, epoch, year, month, day, hour, minute, second.",
            )
        ) from None


def create_date_now(timezone: str | None) -> datetime.datetime:
    """Now, in ``timezone`` if given (tried as written, then upper-cased), else local time."""
    if timezone is None:
        return datetime.datetime.now()
    for name in (timezone, timezone.upper()):
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return datetime.datetime.now(tz=datetime.timezone.utc).astimezone(zone)
    raise RevisionWriteError(
        ScriptProblem(
            "config-invalid",
            f"Unknown timezone {timezone!r} in the 'timezone' option; use an IANA name such as "
            "'UTC' or 'Europe/Paris' (install the 'tzdata' package if none are found).",
        )
    )


def plan_revision(
    config: ScriptConfig,
    message: str | None,
    *,
    upgrades: str = "pass",
    downgrades: str = "pass",
    imports: Iterable[str] | None = None,
    head: str | None = None,
    merge: bool = False,
    rev_id: str | None = None,
    template_args: Mapping[str, Any] | None = None,
    splice: bool = False,
    branch_label: RevisionIds = None,
    depends_on: RevisionIds = None,
    version_path: Path | None = None,
    create_date: datetime.datetime | None = None,
    graph: RevisionGraph | None = None,
    option_names: OptionNames = PYTHON_OPTION_NAMES,
) -> RevisionPlan:
    """Decide id, parent(s), file name and text of a new revision; writes nothing.

    ``head`` picks the parent (an id, unique prefix, branch label,
    ``label@head``, ``"head"`` or ``"base"``); without it the single current
    head is used, and several heads are refused unless ``merge`` is true.
    ``splice`` allows a parent that is not a head. ``graph`` may be passed
    when the caller already loaded it (with unsaved editor buffers, say);
    ``option_names`` is how error messages name these options.
    """
    graph = graph if graph is not None else load_graph(config)
    _refuse_broken_graph(graph)
    revision = rev_id if rev_id is not None else new_rev_id()
    _check_rev_id(revision, graph)
    parents = _choose_parents(graph, head=head, merge=merge, splice=splice, names=option_names)
    labels = _to_tuple(branch_label)
    _check_labels(labels, graph)
    dependencies = _resolve_depends_on(graph, _to_tuple(depends_on))
    when = create_date if create_date is not None else create_date_now(config.timezone)
    folder = _version_folder(config, graph, parents, version_path, option_names)
    relative = revision_file_name(
        config.file_template, revision, message, when, config.truncate_slug_length
    )
    path = Path(os.path.normpath(folder.absolute() / relative))
    if folder.absolute() not in path.parents:
        raise RevisionWriteError(
            ScriptProblem(
                "config-invalid",
                f"file_template {config.file_template!r} produces {relative!r}, which leaves the "
                f"versions folder {folder}; remove '..' or absolute parts from file_template.",
                config.config_file,
            )
        )
    down = _scalar(parents)
    template_file = config.template_file if config.template_file.is_file() else DEFAULT_TEMPLATE
    variables: dict[str, Any] = {"config": TemplateConfig(config)}
    variables.update(template_args or {})
    variables.update(
        up_revision=revision,
        down_revision=down,
        branch_labels=labels or None,
        depends_on=dependencies,
        create_date=when,
        comma=_comma,
        message=message if message is not None else "empty message",
        upgrades=upgrades,
        downgrades=downgrades,
        imports="\n".join(sorted(imports or ())),
    )
    text = render_template(template_file, variables)
    return RevisionPlan(
        revision=revision,
        down_revision=down,
        branch_labels=labels,
        depends_on=dependencies,
        message=variables["message"],
        path=path,
        text=text,
        create_date=when,
        template_file=template_file,
    )


def render_revision(
    config: ScriptConfig,
    message: str | None,
    *,
    upgrades: str = "pass",
    downgrades: str = "pass",
    imports: Iterable[str] | None = None,
    head: str | None = None,
    merge: bool = False,
    rev_id: str | None = None,
    template_args: Mapping[str, Any] | None = None,
    splice: bool = False,
    branch_label: RevisionIds = None,
    depends_on: RevisionIds = None,
    version_path: Path | None = None,
    create_date: datetime.datetime | None = None,
    graph: RevisionGraph | None = None,
) -> str:
    """The text :func:`write_revision` would write, for previews; writes nothing."""
    return plan_revision(
        config,
        message,
        upgrades=upgrades,
        downgrades=downgrades,
        imports=imports,
        head=head,
        merge=merge,
        rev_id=rev_id,
        template_args=template_args,
        splice=splice,
        branch_label=branch_label,
        depends_on=depends_on,
        version_path=version_path,
        create_date=create_date,
        graph=graph,
    ).text


def write_revision(
    config: ScriptConfig,
    message: str | None,
    *,
    upgrades: str = "pass",
    downgrades: str = "pass",
    imports: Iterable[str] | None = None,
    head: str | None = None,
    merge: bool = False,
    rev_id: str | None = None,
    template_args: Mapping[str, Any] | None = None,
    splice: bool = False,
    branch_label: RevisionIds = None,
    depends_on: RevisionIds = None,
    version_path: Path | None = None,
    create_date: datetime.datetime | None = None,
    graph: RevisionGraph | None = None,
) -> WrittenRevision:
    """Plan (see :func:`plan_revision`) and write a new revision file.

    The rendered text is checked to declare the planned identifiers before
    it is written; the file appears atomically and an existing file is never
    replaced. Raises :class:`RevisionWriteError` with a clear message.
    """
    plan = plan_revision(
        config,
        message,
        upgrades=upgrades,
        downgrades=downgrades,
        imports=imports,
        head=head,
        merge=merge,
        rev_id=rev_id,
        template_args=template_args,
        splice=splice,
        branch_label=branch_label,
        depends_on=depends_on,
        version_path=version_path,
        create_date=create_date,
        graph=graph,
    )
    return write_plan(plan, config.output_encoding)


def write_plan(plan: RevisionPlan, output_encoding: str = "utf-8") -> WrittenRevision:
    """Check a planned revision's text and write it (atomically, never overwriting)."""
    check_rendered(plan)
    try:
        data = plan.text.encode(output_encoding)
    except (LookupError, UnicodeEncodeError) as exc:
        raise RevisionWriteError(
            ScriptProblem(
                "config-invalid",
                f"The revision text cannot be encoded as {output_encoding!r} ({exc}); set "
                "'output_encoding' to a valid encoding such as utf-8.",
                plan.path,
            )
        ) from None
    write_new_file(plan.path, data)
    return WrittenRevision(
        revision=plan.revision,
        down_revision=plan.down_revision,
        path=plan.path,
        message=plan.message,
        text=plan.text,
    )


def render_template(template_file: Path, variables: Mapping[str, Any]) -> str:
    """Render a Mako template; any template error names the template file and line."""
    try:
        lookup = TemplateLookup(directories=[str(template_file.parent)])
        template = Template(filename=str(template_file), lookup=lookup)
        return str(template.render_unicode(**variables))
    except Exception as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            traceback = mako_exceptions.RichTraceback()
            for record in reversed(traceback.records):
                if record[4] is not None and record[5] is not None:
                    line = record[5]
                    break
        detail = (
            getattr(exc, "message", None)
            if isinstance(exc, mako_exceptions.MakoException)
            else f"{type(exc).__name__}: {exc}"
        )
        raise RevisionWriteError(
            ScriptProblem(
                "template-error",
                f"Revision template failed ({detail or exc}); fix the template "
                "(it receives up_revision, down_revision, branch_labels, depends_on, "
                "create_date, message, upgrades, downgrades, imports, comma, config).",
                template_file,
                line,
            )
        ) from None


def check_rendered(plan: RevisionPlan) -> None:
    """Refuse rendered text that is not Python or does not declare the planned ids."""
    try:
        ast.parse(plan.text)
    except SyntaxError as exc:
        snippet = (exc.text or "").strip()
        raise RevisionWriteError(
            ScriptProblem(
                "template-error",
                f"The rendered revision is not valid Python ({exc.msg} at line {exc.lineno} of "
                f"the output: {snippet!r}); check the template and the upgrade/downgrade code "
                "passed in (continuation lines must carry their own 4-space indent).",
                plan.template_file,
            )
        ) from None
    script, _ = parse_revision_file(plan.path, plan.text)
    if script is None or script.revision != plan.revision:
        what = "declare 'revision'" if script is None else f"set revision = {plan.revision!r}"
        raise RevisionWriteError(
            ScriptProblem(
                "template-error",
                f"The rendered revision does not {what}; the template must contain "
                '"revision = ${repr(up_revision)}".',
                plan.template_file,
            )
        )
    if script.down_revision != plan.down_revision:
        raise RevisionWriteError(
            ScriptProblem(
                "template-error",
                f"The rendered revision has down_revision = {script.down_revision!r}, expected "
                f"{plan.down_revision!r}; the template must contain "
                '"down_revision = ${repr(down_revision)}".',
                plan.template_file,
            )
        )
    if plan.branch_labels and set(script.branch_labels) != set(plan.branch_labels):
        raise RevisionWriteError(
            ScriptProblem(
                "template-error",
                f"Branch labels {', '.join(plan.branch_labels)} were requested but the rendered "
                'revision does not declare them; add "branch_labels = ${repr(branch_labels)}" '
                "to the template.",
                plan.template_file,
            )
        )


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data`` atomically; never replace an existing file.

    The bytes go to a temporary file in the same folder, which is then
    hard-linked to the final name (linking fails if the name exists). Where
    hard links are unsupported, the final name is first claimed with
    ``O_EXCL`` and the temporary file renamed over that empty claim.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(path, f"cannot create folder {path.parent}: {exc.strerror}") from None
    if path.exists():
        raise _already_exists(path)
    temp = _write_temp(path, data)
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            raise _already_exists(path) from None
        except OSError:
            _claim_and_replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _write_temp(path: Path, data: bytes) -> Path:
    while True:
        temp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            what = f"cannot create a file in {path.parent}: {exc.strerror}"
            raise _write_error(path, what) from None
        break
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise _write_error(path, f"writing failed: {exc.strerror}") from None
    return temp


def _claim_and_replace(temp: Path, path: Path) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        raise _already_exists(path) from None
    except OSError as exc:
        raise _write_error(path, f"cannot create the file: {exc.strerror}") from None
    os.replace(temp, path)


def _already_exists(path: Path) -> RevisionWriteError:
    return RevisionWriteError(
        ScriptProblem(
            "file-exists",
            f"{path} already exists and will not be overwritten; use a different message, "
            "revision id or file_template.",
            path,
        )
    )


def _write_error(path: Path, what: str) -> RevisionWriteError:
    return RevisionWriteError(
        ScriptProblem(
            "write-failed",
            f"Could not write revision file {path}: {what}; check permissions and free space.",
            path,
        )
    )


def _refuse_broken_graph(graph: RevisionGraph) -> None:
    if not graph.problems:
        return
    shown = "; ".join(str(p).rstrip(".") for p in graph.problems[:_MAX_PROBLEMS_SHOWN])
    more = len(graph.problems) - _MAX_PROBLEMS_SHOWN
    suffix = f" (and {more} more)" if more > 0 else ""
    first = graph.problems[0]
    raise RevisionWriteError(
        ScriptProblem(
            "broken-history",
            f"The existing migrations have problems, so the new revision's parent cannot be "
            f"chosen safely: {shown}{suffix}. Fix these first.",
            first.path,
            first.line,
        )
    )


def _check_rev_id(revision: str, graph: RevisionGraph) -> None:
    bad = sorted(_ILLEGAL_ID_CHARS.intersection(revision))
    if not revision or bad:
        raise RevisionWriteError(
            ScriptProblem(
                "invalid-value",
                f"Revision id {revision!r} is not allowed"
                + (f" (it contains {', '.join(repr(c) for c in bad)})" if bad else "")
                + "; use letters, digits and '_'.",
            )
        )
    if revision in graph.revisions:
        existing = graph.revisions[revision]
        raise RevisionWriteError(
            ScriptProblem(
                "duplicate-id",
                f"Revision id '{revision}' is already used by {existing.path}; choose another id.",
                existing.path,
                existing.revision_line,
            )
        )


def _describe(graph: RevisionGraph, revisions: Iterable[str]) -> str:
    parts = []
    for rev in revisions:
        script = graph.revisions[rev]
        parts.append(f"{rev} ({script.doc or script.path.name})")
    return ", ".join(parts)


def _choose_parents(
    graph: RevisionGraph, *, head: str | None, merge: bool, splice: bool, names: OptionNames
) -> tuple[str, ...]:
    if merge:
        if head is not None:
            raise _usage(f"Pass either {names.head} or {names.merge}, not both.")
        if len(graph.heads) < 2:
            raise _usage(
                f"There is {'only one head' if graph.heads else 'no revision'}"
                f"{' (' + graph.heads[0] + ')' if graph.heads else ''}, so there is nothing to "
                "merge; create an ordinary revision instead."
            )
        return graph.heads
    if head is None or head == "head":
        if len(graph.heads) > 1:
            raise _usage(
                f"There are {len(graph.heads)} heads: {_describe(graph, graph.heads)}. Pass "
                f"{names.head} to build on one of them, or {names.merge} to join them."
            )
        return graph.heads
    if head == "base":
        return ()
    if head.endswith("@head"):
        return (_branch_head(graph, head[: -len("@head")], names),)
    try:
        target = graph.get_revision(head).revision
    except RevisionLookupError as exc:
        raise _usage(str(exc)) from None
    if not splice and not graph.is_head(target):
        raise _usage(
            f"Revision {target} is not a head (it is followed by "
            f"{', '.join(graph.children[target])}); pass {names.splice} to start a new branch "
            "from it."
        )
    return (target,)


def _branch_head(graph: RevisionGraph, label: str, names: OptionNames) -> str:
    try:
        start = graph.get_revision(label).revision
    except RevisionLookupError as exc:
        raise _usage(str(exc)) from None
    found: list[str] = []
    stack, seen = [start], set()
    while stack:
        rev = stack.pop()
        if rev in seen:
            continue
        seen.add(rev)
        if graph.is_head(rev):
            found.append(rev)
        stack.extend(graph.children.get(rev, ()))
    if len(found) != 1:
        raise _usage(
            f"'{label}@head' is ambiguous: {label} leads to heads {', '.join(sorted(found))}; "
            f"pass one of them with {names.head}."
        )
    return found[0]


def _check_labels(labels: tuple[str, ...], graph: RevisionGraph) -> None:
    for label in labels:
        owner = graph.branch_label_map.get(label) or (label if label in graph.revisions else None)
        if owner is not None:
            raise _usage(
                f"Branch label '{label}' is already used by revision {owner}; choose another label."
            )


def _resolve_depends_on(graph: RevisionGraph, names: tuple[str, ...]) -> str | list[str] | None:
    resolved: list[str] = []
    for name in names:
        try:
            script = graph.get_revision(name)
        except RevisionLookupError as exc:
            raise _usage(f"depends_on: {exc}") from None
        resolved.append(name if name in script.branch_labels else script.revision)
    if not resolved:
        return None
    return resolved[0] if len(resolved) == 1 else resolved


def _version_folder(
    config: ScriptConfig,
    graph: RevisionGraph,
    parents: tuple[str, ...],
    version_path: Path | None,
    names: OptionNames,
) -> Path:
    folders = [folder.absolute() for folder in config.versions_dirs]
    if version_path is not None:
        wanted = version_path.absolute()
        if wanted not in folders:
            raise _usage(
                f"{version_path} is not one of the configured version locations "
                f"({', '.join(str(f) for f in folders)}); add it to 'version_locations'."
            )
        return wanted
    if len(folders) == 1:
        return folders[0]
    for parent in parents:
        path = graph.revisions[parent].path.absolute()
        for folder in folders:
            if folder in path.parents:
                return folder
    raise _usage(
        "Several version locations are configured and the new revision has no parent to "
        f"place it next to; pass {names.version_path} with one of: "
        + ", ".join(str(f) for f in folders)
        + "."
    )


def _usage(message: str) -> RevisionWriteError:
    return RevisionWriteError(ScriptProblem("invalid-request", message))


def _to_tuple(value: RevisionIds) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _scalar(revisions: tuple[str, ...]) -> str | tuple[str, ...] | None:
    if not revisions:
        return None
    return revisions[0] if len(revisions) == 1 else revisions


def _comma(value: str | Iterable[str] | None) -> str:
    """The ``comma`` filter Alembic templates use: ids joined by ``", "``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return ", ".join(value)
