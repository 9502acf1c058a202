"""Where in the user's model files a schema difference should be shown.

``parse_module`` reads files statically, ``collect_hints`` (run where the
models are imported) adds what only the runtime knows, and ``map_sources``
combines both into a ``SourceMap`` whose ``locate`` answers drift records.
"""

from schema_lsp.sources.hints import (
    ColumnHint,
    ConstraintHint,
    DefinitionRef,
    TableHint,
    collect_hints,
)
from schema_lsp.sources.incremental import ModuleParser
from schema_lsp.sources.model import (
    AttributeSyntax,
    BaseSyntax,
    ClassSyntax,
    ConstraintSyntax,
    ForeignKeySyntax,
    ModuleSyntax,
    Span,
    SyntaxProblem,
    TableSyntax,
)
from schema_lsp.sources.resolve import SourceLocation, SourceMap, map_sources
from schema_lsp.sources.serialize import hints_from_data, hints_to_data
from schema_lsp.sources.syntax import parse_module

__all__ = [
    "AttributeSyntax",
    "BaseSyntax",
    "ClassSyntax",
    "ColumnHint",
    "ConstraintHint",
    "ConstraintSyntax",
    "DefinitionRef",
    "ForeignKeySyntax",
    "ModuleParser",
    "ModuleSyntax",
    "SourceLocation",
    "SourceMap",
    "Span",
    "SyntaxProblem",
    "TableHint",
    "TableSyntax",
    "collect_hints",
    "hints_from_data",
    "hints_to_data",
    "map_sources",
    "parse_module",
]
