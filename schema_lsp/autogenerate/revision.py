"""The revision flow: compare, let hooks reshape the ops, render, write one file per script.

Shaped like Alembic's ``RevisionContext`` so ``process_revision_directives`` hooks work
unchanged: they may edit ``directives[0]`` in place, empty the list (nothing is written), or
replace it with several ``MigrationScript``s (several files). Template variables a hook adds to
``context.opts["template_args"]`` (Alembic's place) or to a script's ``template_args`` reach the
project's ``script.py.mako``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData

from ..operations import ops
from ..runtime.migration import MigrationContext
from ..script import (
    PYTHON_OPTION_NAMES,
    OptionNames,
    RevisionGraph,
    RevisionPlan,
    ScriptConfig,
    WrittenRevision,
    load_graph,
    new_rev_id,
    plan_revision,
)
from ..script.writer import check_rendered, write_new_file
from .api import AutogenContext, populate_migration_script
from .render import render_into_template_args

ProcessRevisionDirectives = Callable[[MigrationContext, Any, list[ops.MigrationScript]], None]


class RevisionError(Exception):
    """The revision can't be generated; the message says why and what to do."""


@dataclass
class RevisionArgs:
    """What the user asked for (``alembic revision``'s arguments)."""

    message: str | None = None
    rev_id: str | None = None
    head: str | None = None
    merge: bool = False
    """Join every current head: the new revision's ``down_revision`` is the tuple of heads."""
    splice: bool = False
    branch_label: str | Sequence[str] | None = None
    version_path: str | None = None
    depends_on: str | Sequence[str] | None = None
    template_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class RenderedRevision:
    """A revision's text and where it would be written; nothing is on disk yet."""

    script: ops.MigrationScript
    revision: str
    path: str
    text: str


class RevisionContext:
    """State of one revision generation (Alembic's attributes and methods)."""

    def __init__(
        self,
        config: ScriptConfig,
        command_args: RevisionArgs | None = None,
        process_revision_directives: ProcessRevisionDirectives | None = None,
        *,
        option_names: OptionNames = PYTHON_OPTION_NAMES,
    ) -> None:
        self.config = config
        self.command_args = command_args or RevisionArgs()
        self.option_names = option_names
        if self.command_args.merge and self.command_args.head not in (None, "heads"):
            raise RevisionError(
                f"Pass either {option_names.head} or {option_names.merge}, not both."
            )
        self.process_revision_directives = process_revision_directives
        self.template_args: dict[str, Any] = dict(self.command_args.template_args)
        self.generated_revisions: list[ops.MigrationScript] = [self._default_revision()]
        self._autogen_context: AutogenContext | None = None

    def _default_revision(self) -> ops.MigrationScript:
        args = self.command_args
        return ops.MigrationScript(
            rev_id=args.rev_id or new_rev_id(),
            message=args.message,
            upgrade_ops=ops.UpgradeOps([]),
            downgrade_ops=ops.DowngradeOps([]),
            # "heads" is Alembic's spelling of a merge of every head.
            head="heads" if args.merge else args.head or "head",
            splice=args.splice,
            branch_label=args.branch_label,
            version_path=args.version_path,
            depends_on=args.depends_on,
        )

    def run_autogenerate(
        self,
        rev: Any,
        migration_context: MigrationContext,
        metadata: MetaData | Sequence[MetaData] | None = None,
    ) -> None:
        """Fill the revision from a comparison of the models with the database."""
        self._run(rev, migration_context, autogenerate=True, metadata=metadata)

    def run_no_autogenerate(self, rev: Any, migration_context: MigrationContext) -> None:
        """An empty revision (``pass`` in both functions), still passed through the hooks."""
        self._run(rev, migration_context, autogenerate=False, metadata=None)

    def _run(
        self,
        rev: Any,
        migration_context: MigrationContext,
        *,
        autogenerate: bool,
        metadata: MetaData | Sequence[MetaData] | None,
    ) -> None:
        opts = migration_context.opts
        upgrade_token = opts.get("upgrade_token", "upgrades")
        downgrade_token = opts.get("downgrade_token", "downgrades")
        script = self.generated_revisions[-1]
        if not getattr(script, "_needs_render", False):
            script.upgrade_ops_list[-1].upgrade_token = upgrade_token
            script.downgrade_ops_list[-1].downgrade_token = downgrade_token
            script._needs_render = True
        else:
            script._upgrade_ops.append(ops.UpgradeOps([], upgrade_token=upgrade_token))
            script._downgrade_ops.append(ops.DowngradeOps([], downgrade_token=downgrade_token))
        self._share_template_args(opts)
        autogen_context = AutogenContext(
            migration_context, metadata=metadata, autogenerate=autogenerate
        )
        self._autogen_context = autogen_context
        if autogenerate:
            if autogen_context.metadata is None:
                raise RevisionError(
                    "autogenerate needs the models: configure 'models' (module:attribute) "
                    "or pass target_metadata"
                )
            populate_migration_script(autogen_context, script)
        if self.process_revision_directives:
            self.process_revision_directives(migration_context, rev, self.generated_revisions)
        hook = opts.get("process_revision_directives")
        if hook:
            hook(migration_context, rev, self.generated_revisions)
        self._share_template_args(opts)
        for generated in self.generated_revisions:
            generated._needs_render = True

    def _share_template_args(self, opts: dict[str, Any]) -> None:
        """Make ``opts["template_args"]`` this revision's template variables, as in Alembic.

        Values configured there (or put there by a hook, even as a new dict) are kept.
        """
        given = opts.get("template_args")
        if isinstance(given, dict) and given is not self.template_args:
            self.template_args.update(given)
        opts["template_args"] = self.template_args

    def render_scripts(self) -> list[RenderedRevision]:
        """Every generated revision as text, in order; writes nothing (previews use this)."""
        graph = load_graph(self.config)
        rendered = []
        for script in self.generated_revisions:
            plan = self._plan(script, graph)
            rendered.append(RenderedRevision(script, plan.revision, str(plan.path), plan.text))
        return rendered

    def generate_scripts(self) -> list[WrittenRevision]:
        """Write every generated revision (atomically, never over an existing file)."""
        written = []
        for script in self.generated_revisions:
            # Re-read the graph each time: the previous file is now the head.
            plan = self._plan(script, load_graph(self.config))
            check_rendered(plan)
            write_new_file(plan.path, plan.text.encode(self.config.output_encoding))
            written.append(
                WrittenRevision(
                    revision=plan.revision,
                    down_revision=plan.down_revision,
                    path=plan.path,
                    message=plan.message,
                    text=plan.text,
                )
            )
        return written

    def _plan(self, script: ops.MigrationScript, graph: RevisionGraph) -> RevisionPlan:
        template_args, imports = self._template_args(script)
        merge = script.head == "heads"
        return plan_revision(
            self.config,
            script.message,
            upgrades=template_args.pop("upgrades", "pass"),
            downgrades=template_args.pop("downgrades", "pass"),
            imports=imports,
            head=None if script.head in ("head", "heads") else script.head,
            merge=merge,
            rev_id=script.rev_id,
            template_args=template_args,
            splice=bool(script.splice),
            branch_label=script.branch_label,
            depends_on=script.depends_on,
            version_path=None if script.version_path is None else Path(script.version_path),
            graph=graph,
            option_names=self.option_names,
        )

    def _template_args(self, script: ops.MigrationScript) -> tuple[dict[str, Any], set[str]]:
        template_args = dict(self.template_args)
        own = getattr(script, "template_args", None)
        if isinstance(own, dict):
            template_args.update(own)
        imports: set[str] = set(script.imports or ())
        if getattr(script, "_needs_render", False) and self._autogen_context is not None:
            autogen_context = self._autogen_context
            autogen_context.imports = set(imports)
            render_into_template_args(autogen_context, script, template_args)
            imports = set(autogen_context.imports)
            template_args.pop("imports", None)
        return template_args, imports
