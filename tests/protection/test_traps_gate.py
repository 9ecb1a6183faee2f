"""`traps._may_lead`, the test that spares most numbers a try of `_DIGIT_LED`'s dozen
alternatives, against the expression itself: wherever the expression matches at the first
digit of a run, the test must let it be tried (it may let through more).

The expression is kept here as it was when the test was written: if it changes, the test's
word lists and character cases must be read again against it.
"""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tradetalk.protection import traps

# `traps._DIGIT_LED` as the gate was derived from.
ORIGINAL = (
    r"[0-9](?<![0-9a-z.,][0-9])(?:[0-9]?/[0-9]{1,2}/[0-9]{2,4}\b|[0-9]{3}[-/.][0-9]{1,2}[-/.]"
    r"[0-9]{1,2}\b|[0-9]?[-.][0-9]{1,2}[-.][0-9]{4}\b|[0-9]?:[0-9]{2}(?::[0-9]{2})?(?:\s?"
    r"[ap]\.?m\b\.?)?|[0-9]?\s?[ap]\.?m\b\.?|[0-9]?(?:st|nd|rd|th)?\s(?:of\s)?(?:jan|feb|mar|"
    r"apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?:,?\s[0-9]{4})?|[0-9,]*+(?:\."
    r"[0-9]++)?+\s?+(?=[a-z])(?:usd|eur|gbp|cad|aud|dollars?|bucks|euros?|cents?|quid|dlls?|"
    r"pesos?)\b|[0-9]*+(?:\.[0-9]++)?+\s?+(?:x|by|×)\s?[0-9]+(?:\.[0-9]+)?(?:\s?(?:x|by|×)\s?"
    r"[0-9]+(?:\.[0-9]+)?)?|[0-9]*+(?:[.,][0-9]++)?+(?:\s?/\s?[0-9]++)?+\s?+(?=[a-z%])(?:oz|"
    r"ozt|troy\s?oz|grams?|gr|kg|kilos?|lbs?|pounds?|inch(?:es)?|cm|mm|ft|feet|gb|tb|mb|mah|"
    r"ghz|mhz|hz|ml|ct|kt|karat|carat|mph|hp|cc|pcs|pieces?|pc|watts?|volts?|years?|yrs?|days?|"
    r"weeks?|months?|hours?|hrs?|mins?|minutes?|coins?|bars?|rounds?|pairs?|sets?|units?|"
    r"items?|packs?|boxes|cards?|%)(?![a-z])|[0-9]{0,2}+(?:[.,][0-9]++)?+(?:/[0-9]++)?+\s?+"
    r"(?=[a-z])(?:in|g|m|s|w|v|k|l|x|th|st|nd|rd|p|d)\b|[0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]+)?"
    r"\b|[0-9]{0,3}\.[0-9]{1,3}(?![.0-9]))"
)
REFERENCE = re.compile(ORIGINAL)
MONEY = r"usd|eur|gbp|cad|aud|dollars?|bucks|euros?|cents?|quid|dlls?|pesos?"


def test_the_expression_is_the_one_the_gate_was_read_from() -> None:
    assert traps._DIGIT_LED.pattern == ORIGINAL


def _expand(pattern: str) -> set[str]:
    """Every string a finite expression of literals, alternatives, "?" and "\\s" (as " ")
    matches."""

    def walk(items: list[tuple[object, object]]) -> set[str]:
        out = {""}
        for op, arg in items:
            if op is sre_constants.LITERAL:
                options = {chr(arg)}  # type: ignore[arg-type]
            elif op is sre_constants.SUBPATTERN:
                options = walk(list(arg[-1]))  # type: ignore[index]
            elif op is sre_constants.BRANCH:
                options = set().union(*(walk(list(b)) for b in arg[1]))  # type: ignore[index]
            elif op in (sre_constants.MAX_REPEAT, sre_constants.POSSESSIVE_REPEAT):
                low, high, item = arg  # type: ignore[misc]
                assert (low, high) == (0, 1)
                options = {""} | walk(list(item))
            elif op is sre_constants.IN:  # (a class: "\\s", or a branch of single letters)
                options = set()
                for kind, value in arg:  # type: ignore[attr-defined]
                    if kind is sre_constants.LITERAL:
                        options.add(chr(value))
                    else:
                        assert (kind, value) == (
                            sre_constants.CATEGORY,
                            sre_constants.CATEGORY_SPACE,
                        )
                        options.add(" ")
            else:
                raise AssertionError(op)
            out = {a + b for a in out for b in options}
        return out

    return walk(list(sre_parse.parse(pattern)))


def _word(s: str) -> str:
    return re.match("[a-z]*", s).group()  # type: ignore[union-attr]


def test_the_word_lists_hold_every_word_the_alternatives_end_with() -> None:
    assert _expand("a|b?c|d(?:e|f)?g") == {"a", "c", "bc", "dg", "deg", "dfg"}
    units = _expand(traps._UNITS_SAFE)
    assert "troy oz" in units and "troyoz" in units and "%" in units
    assert {_word(u) for u in units} - {""} <= traps._WORDS_AFTER_ANY
    assert {_word(u) for u in _expand(MONEY)} <= traps._MONEY_WORDS <= traps._WORDS_AFTER_ANY
    assert MONEY in ORIGINAL
    assert {"x", "by"} <= traps._WORDS_AFTER_ANY
    assert _expand(traps._UNITS_SHORT) <= traps._WORDS_AFTER_3
    ampm = {_word(s) for s in _expand(r"[ap]\.?m")} | {"st", "nd", "rd", "th", "of"}
    assert ampm == traps._WORDS_AFTER_2 | {"p", "a"}
    assert {_word(s)[:3] for s in _expand(traps._MONTHS.removesuffix(r"[a-z]*\.?"))} == set(
        traps.MONTH_PREFIXES
    )


def _run_starts(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """(first digit, end) of each run of digits in text[lo:hi] that `_RUN_START` accepts."""
    runs = []
    for m in re.finditer("[0-9]+", text[:hi]):
        if m.start() < lo:
            continue
        if m.start() > 0 and re.match("[0-9a-z.,]", text[m.start() - 1]):
            continue
        runs.append(m.span())
    return runs


# Digits, every character a case of the gate turns on, whitespace of several kinds, the words
# of the lists and words near them.
PIECES = [
    "0", "1", "5", "12", "31", "415", "2024", "55501", "0199", " ", "  ", "\u00a0", "\n", "\t",
    "\u2003", "-", "/", ".", ",", ":", "%", "×", "#", "'", "(", "a", "p", "m", "x", "s", "o",
    "am", "pm", "a.m", "p.m.", "st", "nd", "rd", "th", "of", "may", "sept", "march", "jan.",
    "oz", "ozt", "troy", "troy oz", "troyoz", "g", "in", "inch", "inches", "l", "d", "w", "k",
    "usd", "bucks", "dollar", "euros", "cents", "by", "pcs", "items", "boxes", "box", "mm",
    "ozs", "oza", "if", "is", "for", "call", "text", "ms", "gb", "mah", "Oz", "é", "ß", "_",
]  # fmt: skip
TEXTS = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
RANDOM = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RANDOM
@given(TEXTS, st.floats(0, 1), st.floats(0, 1))
@example("5 oz", 0.0, 1.0)
@example("1250,, usd", 0.0, 1.0)
@example("15-03-2024 and 2024/03/15", 0.0, 1.0)
@example("3 a.m., 4th of july, 12 x 8 x 4 in, 1 / 2 troy oz", 0.0, 1.0)
@example("3\u2003pm", 0.0, 1.0)
@example("12 by 8by4, 5 × 2", 0.0, 1.0)
def test_the_gate_lets_through_every_match(text: str, a: float, b: float) -> None:
    lo = int(a * len(text))
    hi = lo + int(b * (len(text) - lo))
    for start, end in _run_starts(text, lo, hi):
        if REFERENCE.match(text, start, hi) is not None:
            assert traps._may_lead(text, start, end, hi), (text, start, hi)
    expected = [m.span() for m in REFERENCE.finditer(text, lo, hi)]
    assert traps._digit_led_spans(text, lo, hi) == expected


def test_the_character_tests_are_the_expressions_classes() -> None:
    # (The compiled module compares character codes where the expressions have classes.)
    space = re.compile(r"\s")
    before_no_run = re.compile(r"[0-9a-z.,]")
    for c in range(0x110000):
        assert traps._is_space(c) == (space.match(chr(c)) is not None), c
        assert traps._continues_run(c) == (before_no_run.match(chr(c)) is not None), c
        assert traps._is_currency(c) == (chr(c) in "$€£¥"), c


@settings(max_examples=300, deadline=None)
@given(st.sampled_from("0123456789"), st.text(alphabet="0123456789abcjmnosz", max_size=8))
def test_no_word_lead_or_id_word_starts_with_a_digit(digit: str, rest: str) -> None:
    # (`_matches_from_words` skips tokens that start with a digit.)
    assert not traps.leads(digit + rest)
    assert not any("0" <= word[:1] <= "9" for word in traps._ID_STARTS)
