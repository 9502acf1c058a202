"""Migration scripts: configuration, the revision graph, and new revision files.

Revision files are only ever parsed, never imported, so reading a project's
history cannot run its code.
"""

from schema_lsp.script.config import (
    DEFAULT_FILE_TEMPLATE,
    PostWriteHook,
    ScriptConfig,
    ScriptConfigError,
    discover_config,
    find_config_file,
    load_config,
    validate_config,
)
from schema_lsp.script.hooks import (
    HookResult,
    PostWriteHookError,
    hook_command,
    run_post_write_hooks,
)
from schema_lsp.script.problems import ScriptProblem
from schema_lsp.script.revisions import (
    ParseCache,
    RevisionGraph,
    RevisionLookupError,
    RevisionScript,
    SourceRange,
    build_graph,
    list_revision_files,
    load_graph,
    parse_revision_file,
)
from schema_lsp.script.writer import (
    CLI_OPTION_NAMES,
    DEFAULT_TEMPLATE,
    PYTHON_OPTION_NAMES,
    OptionNames,
    RevisionPlan,
    RevisionWriteError,
    WrittenRevision,
    check_rendered,
    new_rev_id,
    plan_revision,
    render_revision,
    revision_file_name,
    slugify,
    write_new_file,
    write_plan,
    write_revision,
)

__all__ = [
    "CLI_OPTION_NAMES",
    "DEFAULT_FILE_TEMPLATE",
    "DEFAULT_TEMPLATE",
    "PYTHON_OPTION_NAMES",
    "HookResult",
    "OptionNames",
    "ParseCache",
    "PostWriteHook",
    "PostWriteHookError",
    "RevisionGraph",
    "RevisionLookupError",
    "RevisionPlan",
    "RevisionScript",
    "RevisionWriteError",
    "ScriptConfig",
    "ScriptConfigError",
    "ScriptProblem",
    "SourceRange",
    "WrittenRevision",
    "build_graph",
    "check_rendered",
    "discover_config",
    "find_config_file",
    "hook_command",
    "list_revision_files",
    "load_config",
    "load_graph",
    "new_rev_id",
    "parse_revision_file",
    "plan_revision",
    "render_revision",
    "revision_file_name",
    "run_post_write_hooks",
    "slugify",
    "validate_config",
    "write_new_file",
    "write_plan",
    "write_revision",
]
