"""Expressions rewritten to start with a character the engine scans for, against the ones they
replace: the same edits, matches and verdicts, on corner cases and random texts."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tradetalk.protection import detector as det
from tradetalk.protection import links
from tradetalk.protection import normalize as nz

RANDOM = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_BRACKETED_BEFORE = re.compile(
    r"\s*[\(\[\{<]\s*(at|dot|arroba|punto|point|punkt|@|\.)\s*[\)\]\}>]\s*",
)
_SPOKEN_DOT_BEFORE = re.compile(rf"\s*\b(?:dot|punto|point|punkt)\s*(?=(?:{nz._TLD_WORDS})\b)")
_SPOKEN_LOCAL_DOT_BEFORE = re.compile(
    r"(?<=[a-z0-9])\s+(?:dot|punto|point|punkt)\s+(?=[a-z0-9][a-z0-9_\-]*\s+(?:at|arroba)\s)"
)
_SPACED_BEFORE = re.compile(r"(?<![a-z0-9])[a-z0-9](?:[ .\-_*|/~+]{1,3}[a-z0-9](?![a-z0-9])){3,}")

_PIECES = [
    " ", "  ", "\n", "\u00a0", "(", ")", "[", "]", "{", "}", "<", ">", ".", "@", "-", "_", "*",
    "|", "/", "~", "+", ",", "a", "b", "x", "9", "at", "dot", "punto", "point", "punkt",
    "arroba", "com", "de", "io", "net", "polka", "mike", "gmail", "yahoo", "é", "_dot",
    "w h a t s", "g-m-a-i-l",
]  # fmt: skip
TEXTS = st.lists(st.sampled_from(_PIECES), max_size=14).map("".join)


@RANDOM
@given(TEXTS)
@example("john [at] gmail (dot) com")
@example("a  ( at )  b (dot) (.)[@]")
@example("( (at) x")
@example("polkadot com, polka dot com, _dot com, x.dot com, dot  de")
@example("mike dot t at yahoo dot com")
def test_spelled_punctuation_edits_as_the_expressions_with_their_leading_parts(
    text: str,
) -> None:
    edits: list[tuple[int, int, str]] = []
    nz._bracketed_edits(text, edits)
    expected = [
        (m.start(), m.end(), "@" if m.group(1) in ("at", "arroba", "@") else ".")
        for m in _BRACKETED_BEFORE.finditer(text)
    ]
    assert edits == expected
    edits = []
    nz._spoken_dot_edits(text, edits)
    assert edits == [(m.start(), m.end(), ".") for m in _SPOKEN_DOT_BEFORE.finditer(text)]
    assert [m.span() for m in nz._SPOKEN_LOCAL_DOT.finditer(text)] == [
        m.span() for m in _SPOKEN_LOCAL_DOT_BEFORE.finditer(text)
    ]


@RANDOM
@given(TEXTS)
@example("w h a t s a p p")
@example("g-m-a-i-l.c o m x--y--z--w a b")
@example("ab c d e f")
def test_spaced_letters_found_as_before(text: str) -> None:
    found = [(m.start() - 1, m.end()) for m in nz._SPACED.finditer(text)]
    assert found == [m.span() for m in _SPACED_BEFORE.finditer(text)]
    for start, end in found:
        runs = nz._separator_runs(text, start, end)
        pairs = list(zip(runs[::2], runs[1::2], strict=True))
        assert pairs == [m.span() for m in nz._SPACED_SEP.finditer(text, start, end)]


_EMAIL_AT_BEFORE = re.compile(
    r"(?<![a-z0-9._%+\-])([a-z0-9][a-z0-9._%+\-]{0,63})\s?@\s?"
    r"([a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\s?\.\s?[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*)"
)
_EMAIL_SPOKEN_BEFORE = re.compile(
    r"(?<![a-z0-9._%+\-])([a-z0-9][a-z0-9._%+\-]{1,63})\s+(at|arroba|chez|bei|en)\s+"
    r"([a-z0-9][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*)*)"
)
_ADDRESS_PIECES = [
    " ", "  ", "\n", "@", " @ ", ".", " . ", "-", "_", "%", "+", "a", "b", "9", "x1", "at",
    " at ", " en ", " arroba ", "john", "j.smith", "gmail", "gmail.com", "hotmail.co.uk",
    "yahoo", "mike-", "é", "#", "a" * 70,
]  # fmt: skip
ADDRESS_TEXTS = st.lists(st.sampled_from(_ADDRESS_PIECES), max_size=12).map("".join)


@RANDOM
@given(ADDRESS_TEXTS)
@example("email me at john.smith@gmail.com or j @ x . io")
@example("coinguy88 at gmail, meet at 5. x-.com")
def test_addresses_found_as_before(text: str) -> None:
    for rewritten, original in (
        (links._EMAIL_AT, _EMAIL_AT_BEFORE),
        (links._EMAIL_SPOKEN, _EMAIL_SPOKEN_BEFORE),
    ):
        expected = [(m.span(), m.groups()) for m in original.finditer(text)]
        assert [(m.span(), m.groups()) for m in rewritten.finditer(text)] == expected
    # The hint is needed by every spoken address that `find_emails` keeps.
    if not links._may_hold_spoken_domain(text):
        for m in _EMAIL_SPOKEN_BEFORE.finditer(text):
            assert not links._email_domain_ok(m.group(3).rstrip("."), True)


_URL_PIECES = [
    " ", "\n", "\u00a0", ".", "..", "/", ":", "://", "http", "https://", "ftp://", "www",
    "www.", "@", "-", "_", "a", "b1", "9", "x", "co", "com", "uk", "so", "it", "ebay",
    "bit.ly/x", "é", "²", "(", ")", "'", "<", ">",
]  # fmt: skip
URL_TEXTS = st.lists(st.sampled_from(_URL_PIECES), max_size=12).map("".join)


@RANDOM
@given(URL_TEXTS)
@example("check out my other listings at www.coinsbymike.com")
@example("ok. so x.5 then https://a.b/c and wa.me/1")
@example("x²。a www")
def test_links_searched_from_the_first_mark_as_from_the_start(text: str) -> None:
    start = links._url_search_start(text)
    expected = [(m.span(), m.group()) for m in links._URL.finditer(text)]
    if start < 0:
        assert expected == []
    else:
        assert [(m.span(), m.group()) for m in links._URL.finditer(text, start)] == expected


@RANDOM
@given(st.text(alphabet="0123456789 .-/abcdotpunwi\u0663\uff11\u00e9#@\n", max_size=40))
@example("call 415-555-0199 or ٣٣٣ 12ab34")
@example("john dot com, www.x, punto, polkadot, é dotcom")
def test_word_flags_and_digits_of_a_text_as_word_by_word(text: str) -> None:
    ascii_text = text.isascii()
    words = det._words(text, ascii_text)
    assert words == det._words(text)
    det.clear_caches()
    in_general = 0
    for word in words:
        in_general |= det._word_flags_in_general(word)
    expected = (in_general, det._digit_count(text))
    assert det._flags_and_digits(words, ascii_text) == expected  # (worked out)
    assert det._flags_and_digits(words, ascii_text) == expected  # (from the cache)
    assert det._flags_and_digits(words)[0] == in_general


def _suffixes_the_long_way(host: str) -> list[str]:
    parts = host.split(".")
    return [".".join(parts[i:]) for i in range(len(parts) - 1)]


@RANDOM
@given(st.text(alphabet="abw.-", max_size=12), st.sets(st.text(alphabet="ab.", max_size=5)))
@example("www.wa.me", {"wa.me"})
@example("a..b.", {".b.", "b."})
def test_hosts_looked_up_under_each_domain_as_when_split_and_joined(
    host: str, domains: set[str]
) -> None:
    suffixes = _suffixes_the_long_way(host)
    assert links._allowed(host, frozenset(domains)) == any(s in domains for s in suffixes)
    kinds = [links._HOST_KINDS[s] for s in suffixes if s in links._HOST_KINDS]
    assert links._host_kind(host, "") == (kinds[0] if kinds else None)
    for known in ("wa.me", "t.me", "ebay.co.uk", "bit.ly"):
        sub = f"{host}.{known}"
        assert (
            links._host_kind(sub, "")
            == links._HOST_KINDS[
                next(s for s in _suffixes_the_long_way(sub) if s in links._HOST_KINDS)
            ]
        )


@RANDOM
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "é", "1", "ab", "", "a1"]), max_size=8))
def test_single_characters_counted_up_to_three(words: list[str]) -> None:
    distinct = len({word for word in words if len(word) == 1})
    assert det._single_characters(words) == min(distinct, 3)


@RANDOM
@given(st.text(alphabet="ab./:?#x\u00a0\u2003\x1c\x85 \n\t", max_size=12))
def test_hosts_and_domains_cut_as_by_the_expressions(rest: str) -> None:
    assert rest[: links._host_end(rest)] == re.split("[/:?#]", rest, maxsplit=1)[0]
    assert "".join(rest.split()) == re.sub(r"\s", "", rest)
