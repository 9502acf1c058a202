"""The block-caching parser must always agree with a full ``parse_module``."""

from __future__ import annotations

import re
import textwrap

from hypothesis import given, settings
from hypothesis import strategies as st

from schema_lsp.sources import ModuleParser, parse_module
from schema_lsp.sources.incremental import split_blocks

MODELS = textwrap.dedent(
    '''
    """Models."""
    from sqlalchemy import Column, Index, Integer, String, Table
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    if True:
        X = 1
    else:
        X = 2


    class Base(DeclarativeBase):
        pass


    @decorate
    class User(Base):
        __tablename__ = "users"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str | None] = mapped_column(String(30), comment="café")


    tags = Table(
        "tags",
        Base.metadata,
        Column("id", Integer, primary_key=True),
    )
    Index("ix_users_name", User.name)
    '''
).lstrip("\n")


def test_blocks_cover_the_text_in_order() -> None:
    blocks = split_blocks(MODELS)
    assert "\n".join(text for _, text in blocks) == MODELS
    starts = [start for start, _ in blocks]
    assert starts == sorted(starts) and starts[0] == 0
    heads = [text.split("\n", 1)[0] for _, text in blocks]
    assert "@decorate" in heads and "class User(Base):" not in heads
    assert "else:" not in heads


def test_split_inside_a_string_falls_back_to_full_parse() -> None:
    text = MODELS + 'DOC = """\nclass NotAClass(Base):\n    __tablename__ = "no"\n"""\n'
    parsed = ModuleParser().parse("m.py", text)
    assert parsed == parse_module("m.py", text)
    assert parsed.error is None
    assert "NotAClass" not in {c.name for c in parsed.classes}


def test_sequence_of_edits_matches_full_parse() -> None:
    parser = ModuleParser()
    edits = [
        MODELS,
        "# leading comment\n\n" + MODELS,
        MODELS.replace('"users"', '"people"'),
        MODELS.replace("    pass\n", "    pass\n\n\nclass Extra(Base):\n    __tablename__ = 'x'\n"),
        MODELS.replace("class User(Base):", "class User(Base)"),  # syntax error
        MODELS,
        MODELS + 'DOC = """\nclass NotAClass(Base):\n"""\n',
        "\r\n".join(MODELS.split("\n")),
        MODELS.replace("tags = Table(", "tags = Table(\n"),
    ]
    for text in edits:
        assert parser.parse("m.py", text) == parse_module("m.py", text)


def test_forget_drops_the_cache() -> None:
    parser = ModuleParser()
    first = parser.parse("m.py", MODELS)
    parser.forget("m.py")
    assert parser.parse("m.py", MODELS) == first


LINES = MODELS.split("\n")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(LINES)),
            st.sampled_from(["", "x = 1", "    y = 2", "class Z(Base):", ")", '"""', "# c"]),
            st.booleans(),
        ),
        max_size=4,
    )
)
def test_random_line_edits_match_full_parse(edits: list[tuple[int, str, bool]]) -> None:
    parser = ModuleParser()
    lines = list(LINES)
    parser.parse("m.py", "\n".join(lines))
    for position, line, delete in edits:
        index = min(position, len(lines))
        if delete and index < len(lines):
            del lines[index]
        else:
            lines.insert(index, line)
        text = "\n".join(lines)
        assert parser.parse("m.py", text) == parse_module("m.py", text)


def test_unchanged_blocks_are_reused() -> None:
    parser = ModuleParser()
    first = parser.parse("m.py", MODELS)
    second = parser.parse("m.py", MODELS.replace('"users"', '"people"'))
    base_before = next(c for c in first.classes if c.name == "Base")
    base_after = next(c for c in second.classes if c.name == "Base")
    assert base_after is base_before
    user_after = next(c for c in second.classes if c.name == "User")
    assert user_after.tablename == "people"


def test_position_encoding_is_passed_through() -> None:
    for encoding in ("utf-8", "utf-16", "utf-32"):
        parser = ModuleParser(encoding)
        edited = "# moved\n" + MODELS
        parser.parse("m.py", MODELS)
        assert parser.parse("m.py", edited) == parse_module("m.py", edited, encoding)
    assert parse_module("m.py", MODELS, "utf-8") != parse_module("m.py", MODELS, "utf-32")


def reference_blocks(text: str) -> list[tuple[int, str]]:
    """The line-by-line definition of the split, against which the fast one is checked."""
    lines = text.split("\n")
    blocks: list[tuple[int, str]] = []
    start, previous = 0, ""
    for index, line in enumerate(lines):
        starts = bool(line) and line[0] not in " \t#)]}\r\f"
        starts = starts and not (previous.startswith("@") or previous.rstrip().endswith("\\"))
        starts = starts and not re.match(r"(else|elif|except|finally)\b", line)
        if index and starts:
            blocks.append((start, "\n".join(lines[start:index])))
            start = index
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            previous = line
    blocks.append((start, "\n".join(lines[start:])))
    return blocks


PIECES = [
    "x = 1",
    "  y = 2",
    "# note",
    "",
    "@dec",
    "class A:",
    "    pass",
    "else:",
    "elif x:",
    "finally:",
    ")",
    "]",
    "}",
    "z = (1 +\\",
    "\r",
    "t = 3\r",
    "\tq",
    "excepted = 1",
    "'''",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30), st.booleans())
def test_fast_split_matches_the_line_by_line_definition(lines: list[str], newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if newline else "")
    assert split_blocks(text) == reference_blocks(text)
    assert split_blocks(MODELS) == reference_blocks(MODELS)
