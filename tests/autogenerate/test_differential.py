"""``assert_same`` excuses only the entries a named divergence explains."""

from __future__ import annotations

from typing import Any

import pytest

from .differential import DIVERGENCES, Result, assert_same

TYPE = ("modify_type", None, "t", "a", "INTEGER", "BIGINT")
DEFAULT = ("modify_default", None, "t", "d", "'x'", "'y'")
PK = ("add_constraint", "PrimaryKeyConstraint", None, "t", "pk_t", ("id",))
CHECK = ("add_constraint", "CheckConstraint", None, "t", "ck", ("a > 0",))


def _result(ours: list[tuple[Any, ...]], alembic: list[tuple[Any, ...]]) -> Result:
    return Result(ours, alembic, [], [])


def test_identical_entries_need_no_divergence() -> None:
    assert_same(_result([TYPE, DEFAULT], [DEFAULT, TYPE]))


def test_a_divergence_excuses_only_its_own_kind_and_side() -> None:
    assert_same(_result([TYPE, DEFAULT], [DEFAULT]), ["pg-enum-values"])
    with pytest.raises(AssertionError, match=r"(?s)unexplained.*\n  ours: \('modify_default'"):
        assert_same(_result([TYPE, DEFAULT], [TYPE]), ["pg-enum-values"])
    with pytest.raises(AssertionError, match=r"(?s)unexplained.*\n  alembic: \('modify_type'"):
        assert_same(_result([DEFAULT], [TYPE, DEFAULT]), ["pg-enum-values"])


def test_the_rest_is_still_compared_when_a_divergence_is_named() -> None:
    other = ("modify_nullable", None, "t", "b", True, False)
    with pytest.raises(AssertionError, match=r"\n  alembic: \('modify_nullable'"):
        assert_same(_result([TYPE], [other]), ["pg-enum-values"])


def test_constraint_divergences_name_their_constraint_class() -> None:
    assert_same(_result([PK], []), ["pk-change"])
    with pytest.raises(AssertionError, match="CheckConstraint"):
        assert_same(_result([CHECK], []), ["pk-change"])


def test_value_differences_need_a_divergence_that_allows_them() -> None:
    theirs = ("modify_default", None, "t", "d", "x", "'y'")
    assert_same(_result([DEFAULT], [theirs]), ["alembic-false-default-sqlite"])
    with pytest.raises(AssertionError, match="values: "):
        assert_same(_result([DEFAULT], [theirs]), ["alembic-crash-quoted-default-pg"])


def test_naming_an_unneeded_or_unknown_divergence_fails() -> None:
    with pytest.raises(AssertionError, match=r"named but not needed: \['pk-change'\]"):
        assert_same(_result([TYPE], [TYPE]), ["pk-change"])
    with pytest.raises(AssertionError, match="unknown divergence"):
        assert_same(_result([], []), ["no-such-thing"])


def test_every_divergence_has_a_reason_and_order_ones_excuse_nothing() -> None:
    assert all(d.reason for d in DIVERGENCES.values())
    for key in ("fk-order", "remove-order"):
        assert not DIVERGENCES[key].kinds
