"""Names, leetspeak names and what follows a name, looked for in compiled code before (or
instead of) an expression: the same as the expressions alone, on corner cases, the corpus and
random texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from tests.protection.test_shortcuts import RANDOM

from tradetalk.protection import keywords as kw

_CORPUS = Path(__file__).parent / "corpus.jsonl"
_TEXTS = [
    text.lower()
    for row in map(json.loads, _CORPUS.read_text(encoding="utf-8").splitlines())
    for text in [row["text"], *row.get("history", [])]
]

# The names' words, pieces of them, what may follow them, and characters of every kind a word
# start or a name's third character can be (gaps, word characters that are no letters,
# spaces other than " ", capitals).
_NAME_PIECES = sorted(
    {w for e in kw._ENTRIES for w in re.findall("[a-z]+", e[3])}
    | {w[:k] for e in kw._ENTRIES for w in re.findall("[a-z]+", e[3]) for k in (1, 2, 3)}
    | {" ", "  ", "-", ".", "'", "&", "1", "\n", "\t", "\x0b", "\x1c", "@", "$", "_", "A", "W"}
    | {"app", "pay", "pal", "place", "own", "site", "the", "your", "what's", "wat's", "me"}
    | {" strength", " is bad", " marketplace", " market place", " messenger", " app", " id"}
)


@RANDOM
@given(st.lists(st.sampled_from(_NAME_PIECES), max_size=12))
@example(["pay", " ", "pal"])
@example(["g", " ", "mail"])
@example(["f", " & ", "f"])
@example(["e", "-", "mail"])
@example(["tg"])
@example(["wa", ".", "me"])
@example(["signal", " app", " is bad"])
@example(["facebook", " marketplace"])
@example(["whatsapp", "'", "s"])
@example(["ig", "'", "s", " ", "insta"])
def test_names_word_by_word_as_by_search(pieces: list[str]) -> None:
    text = "".join(pieces)[:61]
    assert kw._short_ascii_text_matches(text) == kw._short_text_matches(text)


@pytest.mark.parametrize("text", [t for t in _TEXTS if len(t) <= 61 and t.isascii()])
def test_names_word_by_word_as_by_search_on_the_corpus(text: str) -> None:
    assert kw._short_ascii_text_matches(text) == kw._short_text_matches(text)


def test_every_name_start_is_in_the_table() -> None:
    # Each branch's own spellings (its optional parts taken or not) followed by a space or the
    # text's end: their first three characters are in the table.
    for alt, _ in kw._BRANCHES:
        for spelled in {re.sub(r"\\s\??", " ", alt), re.sub(r".\?", "", alt)}:
            if not re.fullmatch(r"[a-z &'.\-]+", spelled):
                continue
            head = (spelled + "  ").encode("ascii")
            index = ((head[0] - kw._A) << 14) | (head[1] << 7) | head[2]
            assert kw._NAME_HEADS[index], spelled


# What may follow a name: the words and separators the expressions look for, spaces of every
# kind, and the first letters of those words alone.
_AFTER_PIECES = sorted(
    {
        w
        for p in [*kw._WEAK_AFTER.values(), kw._ON_PLATFORM_AFTER]
        for w in re.findall("[a-z]+", p.pattern)
    }
    | {" ", "  ", "\n", "\t", "\u00a0", "\u2003", ":", "=", "@", "$", "-", ".", "x", "m", "i", "a"}
)


@RANDOM
@given(st.lists(st.sampled_from(_AFTER_PIECES), max_size=8))
@example([" ", "me"])
@example(["\u00a0", "on", " ", "the", " ", "app"])
@example(["\u2003", ":"])
@example([" ", "is", " ", "fine"])
@example([])
def test_what_follows_a_name_looked_for_only_where_it_can_be(pieces: list[str]) -> None:
    text = "".join(pieces)
    following = kw._after_spaces(text, 0)
    for kind, pattern in kw._WEAK_AFTER.items():
        if not (following != "" and following in kw._WEAK_AFTER_FIRST[kind]):
            assert pattern.match(text) is None, (kind, text)
    if not (following != "" and following in kw._ON_PLATFORM_FIRST):
        assert kw._ON_PLATFORM_AFTER.match(text) is None, text
    if not kw._may_have_handle(text, 0):
        assert kw._HANDLE_AFTER.match(text) is None, text


def test_leet_heads_are_the_names_first_three_letters() -> None:
    heads = {
        chr(kw._A + i // 676) + chr(kw._A + i // 26 % 26) + chr(kw._A + i % 26)
        for i, flag in enumerate(kw._LEET_HEADS)
        if flag
    }
    assert heads == {kw.leet_skeleton(name)[:3] for name, _ in kw._LEET_NAMES}


@RANDOM
@given(st.text(alphabet="ab9@$!| x.-\u00e9whatsp4gmil0", max_size=24))
@example("wh4tsapp 1234 abcd a1 $$!9 9!x|")
@example("smith@gmail.com 2pm 10am-11am")
@example("te1egram\u00e9 v3nm0")
@example("call 4l5 555 0l99")
def test_leet_candidates_are_the_tokens_that_may_hold_a_name(text: str) -> None:
    tokens = kw._leet_tokens(text)
    candidates = kw._leet_candidates(text)
    assert set(candidates) <= set(tokens)
    for at, stop in tokens:
        if (at, stop) not in candidates:
            assert kw._leet_name_in_general(text[at:stop]) is None, text[at:stop]


@pytest.mark.parametrize("text", [t for t in _TEXTS if kw._leet_tokens(t)])
def test_leet_candidates_on_the_corpus(text: str) -> None:
    for at, stop in kw._leet_tokens(text):
        if (at, stop) not in kw._leet_candidates(text):
            assert kw._leet_name_in_general(text[at:stop]) is None, text[at:stop]
