"""Searches replaced by a walk over the characters that tries an expression only where a match
can start, against the searches they replace: the same matches, on corner cases and random
texts."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tradetalk.protection import links
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
