"""Static reading of model files with ``ast``: never imports or executes them.

The language server re-reads a file on every edit, before (or without) the
worker process importing the models, so this pass must be quick, must not
raise on broken code and must record only what a diagnostic can point at.
"""

from __future__ import annotations

import ast
import gc
import re
import warnings

from schema_lsp.sources.expressions import (
    BASE_FACTORIES,
    COLUMN_CALLS,
    CONSTRAINT_KINDS,
    DECLARATIVE_BASE_CLASSES,
    NOT_TYPE_CALLS,
    call_name,
    classify,
    column_refs,
    dotted,
    elements,
    flatten,
    is_optional,
    keyword,
    kw_value,
    last,
    mapped_inner,
    ref_text,
    string,
    tablename_rule,
    target_name,
    undecorate,
)
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

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


POSITION_ENCODINGS = ("utf-16", "utf-32", "utf-8")


class _Text:
    """Converts ``ast`` positions (UTF-8 byte columns) to the client's position units.

    LSP counts characters in UTF-16 code units unless the client negotiated
    ``utf-32`` (code points) or ``utf-8`` (bytes); only lines with non-ASCII
    text need converting.
    """

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.lines = _LINE_BREAK.split(text)
        self.plain = text.isascii() or encoding == "utf-8"
        self.encoding = encoding

    def line(self, index: int) -> str:
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    def char(self, line: int, byte_col: int) -> int:
        if self.plain:
            return byte_col
        text = self.line(line)
        if text.isascii():
            return byte_col
        prefix = text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace")
        if self.encoding == "utf-16":
            return len(prefix) + sum(1 for ch in prefix if ord(ch) > 0xFFFF)
        return len(prefix)

    def span(self, node: ast.AST) -> Span:
        start = node.lineno - 1  # type: ignore[attr-defined]
        end_lineno = getattr(node, "end_lineno", None) or node.lineno  # type: ignore[attr-defined]
        end = end_lineno - 1
        end_col = getattr(node, "end_col_offset", None)
        if end_col is None:
            end_col = node.col_offset  # type: ignore[attr-defined]
        return Span(
            start,
            self.char(start, node.col_offset),  # type: ignore[attr-defined]
            end,
            self.char(end, end_col),
        )

    def join(self, first: ast.AST, last: ast.AST) -> Span:
        a, b = self.span(first), self.span(last)
        return Span(a.start_line, a.start_character, b.end_line, b.end_character)

    def header(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> Span:
        """``class X(Base):`` / ``def x(cls):`` up to and including the colon."""
        start = self.span(node)
        parts: list[ast.AST] = []
        if isinstance(node, ast.ClassDef):
            parts = [*node.bases, *node.keywords]
        else:
            arguments = node.args
            parts = [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *(a for a in (arguments.vararg, arguments.kwarg) if a is not None),
                *(d for d in arguments.defaults),
                *(d for d in arguments.kw_defaults if d is not None),
            ]
            if node.returns is not None:
                parts.append(node.returns)
        ends = [
            (p.end_lineno - 1, p.end_col_offset)  # type: ignore[attr-defined]
            for p in parts
            if getattr(p, "end_lineno", None) is not None
        ]
        line, byte_col = max(ends, default=(node.lineno - 1, node.col_offset))
        for candidate in range(line, min(line + 8, len(self.lines))):
            raw = self.line(candidate).encode("utf-8").split(b"#", 1)[0]
            colon = raw.find(b":", byte_col if candidate == line else 0)
            if colon >= 0:  # ``):`` may sit on a later line after multi-line bases
                end = self.char(candidate, colon + 1)
                return Span(start.start_line, start.start_character, candidate, end)
        width = len(self.line(line).rstrip().encode("utf-8"))
        return Span(start.start_line, start.start_character, line, self.char(line, width))


def parse_module(path: str, text: str, encoding: str = "utf-16") -> ModuleSyntax:
    """Parse one model file; a syntax error yields ``ModuleSyntax.error``, not an exception.

    ``encoding`` is the LSP position encoding the characters are counted in:
    ``utf-16`` (the LSP default), ``utf-32`` (code points) or ``utf-8``.
    """
    was_enabled = gc.isenabled()
    # The tree holds millions of objects; a cyclic collection walking them while
    # it is alive costs several times the parse itself, and AST nodes hold no
    # cycles, so reference counting frees them when the tree is dropped.
    gc.disable()
    try:
        return parse_text(path, text, encoding)
    finally:
        if was_enabled:
            gc.enable()


def parse_text(path: str, text: str, encoding: str = "utf-16") -> ModuleSyntax:
    """``parse_module`` without touching the garbage collector (callers batch that)."""
    if encoding not in POSITION_ENCODINGS:
        raise ValueError(f"unknown position encoding {encoding!r}")
    if text.startswith("\ufeff"):  # a BOM read as text; editors do not count it either
        text = text[1:]
    try:
        with warnings.catch_warnings():  # e.g. invalid escapes: the user's linter reports them
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line = (exc.lineno or 1) - 1
        character = max((exc.offset or 1) - 1, 0)
        return ModuleSyntax(path=path, error=SyntaxProblem(exc.msg, line, character))
    except ValueError as exc:  # e.g. NUL bytes in the source
        return ModuleSyntax(path=path, error=SyntaxProblem(str(exc), 0, 0))
    except (RecursionError, MemoryError):
        return ModuleSyntax(path=path, error=SyntaxProblem("too deeply nested to parse", 0, 0))
    try:
        return _ModuleReader(path, _Text(text, encoding)).read(tree)
    except RecursionError:  # absurdly long attribute chains; the file itself is valid
        return ModuleSyntax(path=path, error=SyntaxProblem("too deeply nested to read", 0, 0))


class _ModuleReader:
    """Walks module-level statements (and class bodies), never the whole tree."""

    def __init__(self, path: str, text: _Text) -> None:
        self.path = path
        self.text = text
        self.classes: list[ClassSyntax] = []
        self.tables: list[TableSyntax] = []
        self.indexes: list[ConstraintSyntax] = []
        self.bases: list[BaseSyntax] = []
        self.imports: dict[str, str] = {}

    def read(self, tree: ast.Module) -> ModuleSyntax:
        for stmt in flatten(tree.body):
            self.statement(stmt)
        return ModuleSyntax(
            path=self.path,
            classes=tuple(self.classes),
            tables=tuple(self.tables),
            indexes=tuple(self.indexes),
            bases=tuple(self.bases),
            imports=self.imports,
        )

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.ClassDef):
            self.class_def(stmt, "")
        elif isinstance(stmt, ast.ImportFrom):
            prefix = "." * stmt.level + (stmt.module or "")
            for alias in stmt.names:
                sep = "." if prefix and not prefix.endswith(".") else ""
                self.imports[alias.asname or alias.name] = f"{prefix}{sep}{alias.name}"
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                self.imports[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr)):
            self.module_value(stmt)

    def module_value(self, stmt: ast.Assign | ast.AnnAssign | ast.Expr) -> None:
        value = stmt.value
        if not isinstance(value, ast.Call):
            return
        variable = target_name(stmt)
        name = call_name(value)
        if name == "Table":
            self.tables.append(self.table_call(value, variable))
        elif name in CONSTRAINT_KINDS:
            constraint = self.constraint(value)
            if constraint is not None:
                self.indexes.append(constraint)
        elif name in BASE_FACTORIES and variable is not None:
            self.bases.append(BaseSyntax(variable, BASE_FACTORIES[name], self.text.span(stmt)))

    # -- classes -----------------------------------------------------------

    def class_def(self, node: ast.ClassDef, outer: str) -> None:
        qualname = f"{outer}.{node.name}" if outer else node.name
        bases = tuple(b for b in (dotted(base) for base in node.bases) if b)
        header = self.text.header(node)
        reader = _ClassReader(self, qualname)
        for stmt in flatten(node.body):
            if isinstance(stmt, ast.ClassDef):
                self.class_def(stmt, qualname)
            else:
                reader.statement(stmt)
        declarative = reader.declares_metadata or any(
            last(b) in DECLARATIVE_BASE_CLASSES for b in bases
        )
        declarative = declarative or any(
            last(dotted(d.func) if isinstance(d, ast.Call) else dotted(d)) == "as_declarative"
            for d in node.decorator_list
        )
        declarative = declarative or any(
            kw.arg == "metaclass" and last(dotted(kw.value)) == "DeclarativeMeta"
            for kw in node.keywords
        )
        cls = ClassSyntax(
            name=node.name,
            qualname=qualname,
            span=header,
            bases=bases,
            tablename=reader.tablename,
            tablename_rule=reader.tablename_rule,
            has_table_args=reader.has_table_args,
            schema=reader.schema,
            table_comment_span=reader.comment_span,
            table_args=tuple(reader.table_args),
            attributes=tuple(reader.attributes),
            table=reader.table,
            abstract=reader.abstract,
            is_declarative_base=declarative,
        )
        self.classes.append(cls)
        if declarative:
            self.bases.append(BaseSyntax(qualname, "declarative_class", header))

    # -- calls -------------------------------------------------------------

    def table_call(self, call: ast.Call, variable: str | None) -> TableSyntax:
        args = call.args
        name = string(args[0]) if args else None
        head = self.text.join(call.func, args[0]) if args else self.text.span(call)
        head = Span(head.start_line, head.start_character, head.end_line, head.end_character)
        metadata = dotted(args[1]) if len(args) > 1 else None
        columns: list[AttributeSyntax] = []
        constraints: list[ConstraintSyntax] = []
        for arg in args[2:]:
            if not isinstance(arg, ast.Call):
                continue
            kind = call_name(arg)
            if kind in COLUMN_CALLS:
                columns.append(self.column(None, arg, self.text.span(arg), None))
            elif kind in CONSTRAINT_KINDS:
                constraint = self.constraint(arg)
                if constraint is not None:
                    constraints.append(constraint)
        schema_kw = keyword(call, "schema")
        comment_kw = keyword(call, "comment")
        return TableSyntax(
            name=name,
            schema=string(schema_kw.value) if schema_kw else None,
            span=head,
            variable=variable,
            columns=tuple(columns),
            constraints=tuple(constraints),
            comment_span=self.text.span(comment_kw) if comment_kw else None,
            metadata=metadata,
        )

    def constraint(self, call: ast.Call) -> ConstraintSyntax | None:
        kind = CONSTRAINT_KINDS.get(call_name(call) or "")
        if kind is None:
            return None
        args = list(call.args)
        name_kw = keyword(call, "name")
        name = string(name_kw.value) if name_kw else None
        referred: tuple[str, ...] = ()
        if kind == "index" and args and isinstance(args[0], ast.Constant):
            name = string(args[0]) if name is None else name
            args = args[1:]
        if kind == "foreign_key":
            cols_node = args[0] if args else kw_value(call, "columns")
            refs_node = args[1] if len(args) > 1 else kw_value(call, "refcolumns")
            args = list(elements(cols_node))
            referred = tuple(r for r in (ref_text(e) for e in elements(refs_node)) if r)
        elif kind == "check":
            args = []
        targets: list[str] = []
        columns: list[str] = []
        for arg in args:
            for target, column in column_refs(arg):
                columns.append(column)
                if target:
                    targets.append(target)
        unique_kw = keyword(call, "unique")
        unique = bool(
            unique_kw is not None
            and isinstance(unique_kw.value, ast.Constant)
            and unique_kw.value.value is True
        )
        return ConstraintSyntax(
            kind=kind,
            name=name,
            columns=tuple(columns),
            span=self.text.span(call),
            target=targets[0] if targets else None,
            unique=unique,
            referred=referred,
        )

    def column(
        self,
        key: str | None,
        call: ast.Call | None,
        span: Span,
        annotation: ast.expr | None,
        kind: str = "column",
    ) -> AttributeSyntax:
        annotation_type_span: Span | None = None
        optional: bool | None = None
        if annotation is not None:
            inner = mapped_inner(annotation)
            if inner is not None:
                annotation_type_span = self.text.span(inner)
                optional = is_optional(inner)
        if call is None:
            return AttributeSyntax(
                key=key,
                name=None,
                kind=kind,
                span=span,
                annotation_type_span=annotation_type_span,
                optional=optional,
            )
        name: str | None = None
        type_span: Span | None = None
        foreign_keys: list[ForeignKeySyntax] = []
        for index, arg in enumerate(call.args):
            text = string(arg)
            if index == 0 and text is not None:
                name = text
                continue
            arg_call = call_name(arg)
            if arg_call == "ForeignKey":
                assert isinstance(arg, ast.Call)
                target = ref_text(arg.args[0]) if arg.args else None
                foreign_keys.append(ForeignKeySyntax(target, self.text.span(arg)))
            elif arg_call not in NOT_TYPE_CALLS and type_span is None and text is None:
                type_span = self.text.span(arg)
        name_kw = keyword(call, "name")
        if name is None and name_kw is not None:
            name = string(name_kw.value)
        type_kw = keyword(call, "type_")
        if type_span is None and type_kw is not None:
            type_span = self.text.span(type_kw)

        def kw_span(word: str) -> Span | None:
            found = keyword(call, word)
            return self.text.span(found) if found is not None else None

        return AttributeSyntax(
            key=key,
            name=name,
            kind="column",
            span=span,
            call_span=self.text.span(call),
            type_span=type_span,
            annotation_type_span=annotation_type_span,
            optional=optional,
            nullable_span=kw_span("nullable"),
            server_default_span=kw_span("server_default"),
            comment_span=kw_span("comment"),
            index_span=kw_span("index"),
            unique_span=kw_span("unique"),
            primary_key_span=kw_span("primary_key"),
            foreign_keys=tuple(foreign_keys),
        )


class _ClassReader:
    """Collects one class body's declarative attributes."""

    def __init__(self, module: _ModuleReader, qualname: str) -> None:
        self.module = module
        self.text = module.text
        self.qualname = qualname
        self.tablename: str | None = None
        self.tablename_rule: str | None = None
        self.has_table_args = False
        self.schema: str | None = None
        self.comment_span: Span | None = None
        self.table_args: list[ConstraintSyntax] = []
        self.attributes: list[AttributeSyntax] = []
        self.table: TableSyntax | None = None
        self.abstract = False
        self.declares_metadata = False

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(stmt)
            return
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            return
        key = target_name(stmt)
        if key is None:
            return
        value = stmt.value
        annotation = stmt.annotation if isinstance(stmt, ast.AnnAssign) else None
        if key == "__tablename__":
            self.tablename = string(value)
        elif key == "__table_args__":
            self.has_table_args = True
            if value is not None:
                self.read_table_args(value)
        elif key == "__table__":
            if isinstance(value, ast.Call) and call_name(value) == "Table":
                self.table = self.module.table_call(value, None)
        elif key == "__abstract__":
            self.abstract = isinstance(value, ast.Constant) and value.value is True
        elif key in ("metadata", "registry") and call_name(value) in BASE_FACTORIES:
            self.declares_metadata = True
        elif not (key.startswith("__") and key.endswith("__")):
            self.attribute(key, value, annotation, self.text.span(stmt))

    def function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if not any("declared_attr" in (dotted(undecorate(d)) or "") for d in node.decorator_list):
            return
        returned = next(
            (s.value for s in node.body if isinstance(s, ast.Return) and s.value is not None),
            None,
        )
        if node.name == "__tablename__":
            self.tablename = string(returned)
            self.tablename_rule = tablename_rule(returned) if self.tablename is None else None
        elif node.name == "__table_args__":
            self.has_table_args = True
            if returned is not None:
                self.read_table_args(returned)
        elif not node.name.startswith("__"):
            self.attribute(node.name, returned, node.returns, self.text.header(node))

    def attribute(
        self, key: str, value: ast.expr | None, annotation: ast.expr | None, span: Span
    ) -> None:
        kind, call = classify(value, annotation)
        self.attributes.append(self.module.column(key, call, span, annotation, kind))

    def read_table_args(self, value: ast.expr) -> None:
        items = value.elts if isinstance(value, (ast.Tuple, ast.List)) else [value]
        for item in items:
            if isinstance(item, ast.Dict):
                for k, v in zip(item.keys, item.values, strict=True):
                    word = string(k)
                    if word == "schema":
                        self.schema = string(v)
                    elif word == "comment" and k is not None:
                        self.comment_span = self.text.join(k, v)
            elif isinstance(item, ast.Call):
                constraint = self.module.constraint(item)
                if constraint is not None:
                    self.table_args.append(constraint)
