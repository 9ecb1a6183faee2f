"""Searches and method calls replaced by a walk over a text's or word's characters (an
expression tried only where a match can start), against what they replace: the same matches
and answers, on corner cases and random texts."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tradetalk.protection import detector as det
from tradetalk.protection import links
from tradetalk.protection import normalize as nz
from tradetalk.protection.matching import matches

RANDOM = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_URL_PIECES = [
    " ", "\n", "\u00a0", ".", "..", "/", ":", "://", "http", "https://", "ftp://", "www",
    "www.", "@", "-", "_", "a", "b1", "9", "x", "co", "com", "uk", "so", "it", "ebay",
    "bit.ly/x", "é", "²", "(", ")", "'", "<", ">", "A", "ß", "#", ":80", "1.2.3.4",
]  # fmt: skip
URL_TEXTS = st.lists(st.sampled_from(_URL_PIECES), max_size=14).map("".join)


@RANDOM
@given(URL_TEXTS, st.integers(min_value=0, max_value=60))
@example("check out my other listings at www.coinsbymike.com", 0)
@example("john.smith@gmail.com or x_www.a.com, éwww.b.io -http://c.de", 0)
@example("ab_cd.com a-b.co.uk @x.com .y.io", 3)
def test_url_matches_walked_as_searched(text: str, start: int) -> None:
    start = min(start, len(text))
    expected = [(m.span(), m.group()) for m in matches(links._URL, text, start)]
    assert [(m.span(), m.group()) for m in links._url_matches(text, start)] == expected


_DOT_PIECES = [
    " ", ".", "..", "a", "Z", "9", "_", "é", "²", "½", "\u0663", "\uff21", "ß", "x.y", "1.5",
    "-", "\n", "www", "://",
]  # fmt: skip


@RANDOM
@given(st.lists(st.sampled_from(_DOT_PIECES), max_size=12).map("".join), st.integers(0, 40))
@example("ok. so x.5 then a.b", 40)
@example("².a é.² _.a a._ a.\u0663 \u0663.a", 40)
def test_dot_before_letter_found_as_searched(text: str, end: int) -> None:
    end = min(end, len(text))
    m = links._DOT_BEFORE_LETTER.search(text, 0, end)
    assert links._dot_before_letter(text, end) == (-1 if m is None else m.start())
    assert links._url_search_start(text) == _url_search_start_searched(text)


def _url_search_start_searched(text: str) -> int:
    # `links._url_search_start` as it was written with the expression's search
    first = len(text)
    at = text.find("://")
    if at >= 0:
        first = at
    at = text.find("www", 0, first)
    if at >= 0:
        first = at
    dot = links._DOT_BEFORE_LETTER.search(text, 0, first + 1)
    if dot is not None and dot.start() < first:
        first = dot.start()
    if first == len(text):
        return -1
    while first > 0 and not text[first - 1].isspace():
        first -= 1
    return first


_NOT_ASCII = re.compile(r"[^\x00-\x7f][^\x00-\x7f]*")


def _normalize_searched(text: str) -> nz.NormText:
    # `normalize` as it was written with a search for the runs of non-ASCII characters
    if text.isascii():
        return nz.NormText(text.lower())
    pieces: list[str] = []
    pos = 0
    for m in matches(_NOT_ASCII, text):
        start, end = m.span()
        pieces.append(text[pos:start].lower())
        for c in text[start:end]:
            folded = nz._folds[ord(c)]
            if len(folded) != 1:
                return nz._normalize_by_character(text)
            pieces.append(folded)
        pos = end
    pieces.append(text[pos:].lower())
    n = len(text)
    return nz.NormText("".join(pieces), nz._identity(0, n), nz._identity(1, n + 1))


_NORMALIZE_PIECES = [
    " ", "A", "b", "9", "é", "É", "ﬁ", "\u200b", "\u0663", "４", "ß", "а", "Ω", "\U0001f51f",
    "①", "x\u0301", "\n", "\t", "İ", "call me",
]  # fmt: skip


@RANDOM
@given(st.lists(st.sampled_from(_NORMALIZE_PIECES), max_size=12).map("".join))
@example("Call ４１５ – café ﬁne")
@example("éé abc ÉÉ")
def test_normalize_walked_as_searched(text: str) -> None:
    assert nz.normalize(text) == _normalize_searched(text)


@RANDOM
@given(st.text(alphabet=st.characters(max_codepoint=0x700), max_size=12))
@example("10am")
@example("s10")
@example("415")
@example("@coinguy88")
@example("\u0663\u0664 12")
def test_word_entry_counts_the_digits_as_counted(word: str) -> None:
    # `detector._word_entry` counts a word's ASCII digits on its pass over the characters
    entry = det._word_entry(word)
    assert entry >> det._DIGITS_SHIFT == det._digit_count(word), word
    assert entry & det._FLAG_BITS == det._word_flags_in_general(word), word
