"""Block-by-block compiling: the blocks do what the whole file does, with the same lines."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from schema_lsp.server.worker.compiled import BlockCompiler

MODULE = '''\
"""The models."""
from __future__ import annotations

import functools

LIMIT = 3


@functools.lru_cache
def twice(x: int) -> int:
    return 2 * x


class Thing:
    size: int = LIMIT

    def fail(self) -> None:
        raise ValueError("boom")


if LIMIT > 2:
    MODE = "big"
else:
    MODE = "small"
items: list[int] = [twice(i) for i in range(LIMIT)]
'''


def run(codes: list[Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "models"}
    for code in codes:
        exec(code, namespace)
    return namespace


def failing_line(namespace: dict[str, Any]) -> int:
    try:
        namespace["Thing"]().fail()
    except ValueError as exc:
        return traceback.extract_tb(exc.__traceback__)[-1].lineno or 0
    raise AssertionError("fail() did not raise")


def test_blocks_behave_like_the_whole_file_after_an_edit_above() -> None:
    compiler = BlockCompiler()
    source = MODULE.encode()
    whole = run([compile(source, "models.py", "exec", dont_inherit=True)])
    blocks = run(compiler.compile("models.py", source))
    for name in ("__doc__", "LIMIT", "MODE", "items", "__annotations__"):
        assert blocks[name] == whole[name], name
    assert blocks["Thing"].__annotations__ == {"size": "int"}  # the future import holds
    assert failing_line(blocks) == failing_line(whole)

    edited = MODULE.replace("LIMIT = 3\n", "LIMIT = 4\nEXTRA = 1\n").encode()
    whole = run([compile(edited, "models.py", "exec", dont_inherit=True)])
    blocks = run(compiler.compile("models.py", edited))
    assert (blocks["LIMIT"], blocks["items"]) == (4, [0, 2, 4, 6])
    assert (
        failing_line(blocks)
        == failing_line(whole)
        == MODULE.splitlines().index('        raise ValueError("boom")') + 2
    )


@pytest.mark.parametrize(
    "source",
    [
        b"# -*- coding: latin-1 -*-\nNAME = '\xe9'\n",
        b"X = 1\nfrom __future__ import annotations\n",
        b"X = 1\n'not a docstring'\n",
    ],
    ids=["coding cookie", "late future import", "bare string"],
)
def test_what_blocks_cannot_reproduce_compiles_as_one(source: bytes) -> None:
    compiler = BlockCompiler()
    try:
        expected: Any = run([compile(source, "m.py", "exec", dont_inherit=True)])
    except SyntaxError as exc:
        with pytest.raises(SyntaxError) as raised:
            compiler.compile("m.py", source)
        assert raised.value.lineno == exc.lineno
        return
    codes = compiler.compile("m.py", source)
    assert len(codes) == 1
    got = run(codes)
    assert {k: got[k] for k in expected if k != "__builtins__"} == {
        k: v for k, v in expected.items() if k != "__builtins__"
    }


def test_a_syntax_error_is_the_whole_files_error() -> None:
    source = b"X = (\n    1,\n\nY = 2\n"
    with pytest.raises(SyntaxError):
        compile(source, "m.py", "exec")
    with pytest.raises(SyntaxError):
        BlockCompiler().compile("m.py", source)
