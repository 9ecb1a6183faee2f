"""The lengths declared next to each tracking format (`_Format.lengths`, which `_next_fit` sorts
the formats by) are exactly those of the strings its pattern matches."""

from __future__ import annotations

from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradetalk.protection import tracking as tr


def _lengths(items: list[tuple[Any, Any]]) -> set[int]:
    """The lengths of the strings a parsed expression matches (bounded repeats only)."""
    out = {0}
    for op, arg in items:
        if op in (sre_constants.LITERAL, sre_constants.IN):
            options = {1}
        elif op is sre_constants.SUBPATTERN:
            options = _lengths(list(arg[3]))
        elif op is sre_constants.BRANCH:
            options = set().union(*(_lengths(list(branch)) for branch in arg[1]))
        elif op is sre_constants.MAX_REPEAT:
            low, high, item = arg
            assert high is not sre_constants.MAXREPEAT
            once = _lengths(list(item))
            options, repeated = set(), {0}
            for count in range(high + 1):
                if count >= low:
                    options |= repeated
                repeated = {a + b for a in repeated for b in once}
        else:
            raise AssertionError(op)
        out = {a + b for a in out for b in options}
    return out


def test_the_walk_counts_lengths() -> None:
    assert _lengths(list(sre_parse.parse(r"(?:ab|c)?\d{2,3}[A-Z]"))) == {3, 4, 5, 6}


@pytest.mark.parametrize("fmt", tr._FORMATS, ids=lambda fmt: fmt.name)
def test_declared_lengths_are_the_patterns(fmt: tr._Format) -> None:
    assert fmt.lengths == _lengths(list(sre_parse.parse(fmt.pattern.pattern)))


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_matching_strings_have_a_declared_length(data: st.DataObject) -> None:
    for fmt in tr._FORMATS:
        number = data.draw(st.from_regex(fmt.pattern, fullmatch=True))
        assert len(number) in fmt.lengths, (fmt.name, number)
