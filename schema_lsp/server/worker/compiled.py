"""Compiling model files block by block, so a save recompiles only the block it touched.

Compiling a large model file is a good part of importing it. The warm parent (which never
executes user code: compiling runs nothing) splits each model file into top-level blocks,
compiles the blocks it has not seen, shifts unchanged ones to their new first line, and
hands the code to the forked child, which executes the blocks in order in the module's
namespace: the same statements, globals, line numbers and tracebacks as one module code.
Anything the split cannot reproduce exactly (a coding cookie, a late ``__future__`` import,
a bare string after the first block, a block that does not compile alone) falls back to
compiling the whole file.
"""

from __future__ import annotations
import __future__

import re
import warnings
from dataclasses import dataclass
from types import CodeType
from typing import NamedTuple

from schema_lsp.sources.incremental import split_blocks

#: Compiler flags of every ``__future__`` feature (they carry over to later blocks).
FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag

_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)
_STRING_START = re.compile(r"""[rRbBuUfF]{0,2}['"]""")


@dataclass(frozen=True, slots=True)
class BlockKey:
    """What one block runs: a hash of its file, text and compiler flags, equal between two
    imports exactly when they run the same text (hashes of strings are salted per
    interpreter; every child is forked from one warm worker, so they agree). ``whole``: the
    file could not be split and runs as one block."""

    digest: int
    whole: bool = False


class BlockCompiler:
    """Per-file caches of compiled top-level blocks (keyed by text and future flags)."""

    def __init__(self) -> None:
        self._blocks: dict[str, dict[tuple[str, int], _Compiled]] = {}

    def forget(self, path: str) -> None:
        self._blocks.pop(path, None)

    def compile(self, path: str, source: bytes) -> list[CodeType]:
        """Code objects that, executed in order, do what the whole file's code does.

        Raises ``SyntaxError`` (and whatever ``compile`` raises) for a file that does not
        compile as a whole.
        """
        return [code for _, code in self.compile_keyed(path, source)]

    def compile_keyed(self, path: str, source: bytes) -> list[tuple[BlockKey, CodeType]]:
        """``compile``'s code objects, each with the key of the text it runs (see
        ``BlockKey``); a file that could not be split is one block, keyed ``whole=True``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = self._compile_blocks(path, source)
            if blocks is None:
                self._blocks.pop(path, None)
                code = compile(source, path, "exec", dont_inherit=True)
                return [(BlockKey(hash((path, source)), whole=True), code)]
            return blocks

    def _compile_blocks(self, path: str, source: bytes) -> list[tuple[BlockKey, CodeType]] | None:
        if source.startswith(b"\xef\xbb\xbf") or _CODING.search(source, 0, _two_lines(source)):
            return None
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            return None
        previous = self._blocks.get(path, {})
        current: dict[tuple[str, int], _Compiled] = {}
        codes: list[tuple[BlockKey, CodeType]] = []
        flags = 0
        preamble = True  # only docstring and __future__ blocks so far
        for index, (start, block) in enumerate(split_blocks(text)):
            key = (block, flags)
            compiled = previous.get(key) or current.get(key)
            if compiled is None:
                first = _first_code_line(block)
                if first is None:
                    continue
                try:
                    code = compile(block, path, "exec", flags=flags, dont_inherit=True)
                except SyntaxError:
                    return None  # maybe a split inside a bracket: the whole file decides
                nested = any(isinstance(c, CodeType) for c in code.co_consts)
                compiled = _Compiled(code, first, nested)
            first = compiled.first
            is_future = first.startswith("from __future__")
            if is_future and not preamble:
                return None
            if index and _STRING_START.match(first):
                return None  # a bare string would become the module docstring
            preamble = preamble and (is_future or (index == 0 and bool(_STRING_START.match(first))))
            current[key] = compiled
            digest = hash((path, block, flags))
            flags |= compiled.code.co_flags & FUTURE_FLAGS
            code = compiled.code
            if start:
                code = shift(code, start) if compiled.nested else _moved(code, start)
            codes.append((BlockKey(digest), code))
        self._blocks[path] = current
        return codes


class _Compiled(NamedTuple):
    """A compiled block, its first code line and whether it holds functions or classes."""

    code: CodeType
    first: str
    nested: bool


def shift(code: CodeType, lines: int) -> CodeType:
    """``code`` (and the functions and classes inside it) moved down by ``lines``."""
    if not lines:
        return code
    consts = tuple(shift(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


def _moved(code: CodeType, lines: int) -> CodeType:
    """``shift`` of a code without nested code objects (most blocks of a model file)."""
    return code.replace(co_firstlineno=code.co_firstlineno + lines)


def _first_code_line(block: str) -> str | None:
    for line in block.split("\n"):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return None


def _two_lines(source: bytes) -> int:
    """End of the first two lines, where a coding cookie may be."""
    first = source.find(b"\n")
    if first == -1:
        return len(source)
    second = source.find(b"\n", first + 1)
    return len(source) if second == -1 else second
