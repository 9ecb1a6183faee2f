"""Regular expression searches of the text stages (normalize, links) replaced by a walk over
the text's characters, against the searches they replace: the same matches, on corner cases
and random texts."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tradetalk.protection import links
from tradetalk.protection import normalize as nz
from tradetalk.protection.matching import matches

RANDOM = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SPACED_PIECES = [
    " ", "  ", "   ", "    ", ".", "-", "_", "*", "|", "/", "~", "+", " . ", "a", "b", "z", "0",
    "9", "ab", "w h a t s", "g-m-a-i-l", "é", "A", "\n", "!", "@", "\u00a0", "x1",
]  # fmt: skip


@RANDOM
@given(st.lists(st.sampled_from(_SPACED_PIECES), max_size=16).map("".join))
@example("w h a t s a p p me")
@example("a b c d    e f g h")
@example("ab c d e f g h")
@example("a b cd e f g")
@example("x a..b--c d e1 f . g / h ~ i|j")
@example("a b c")
@example("a b c d")
def test_spaced_runs_walked_as_searched(text: str) -> None:
    expected: list[int] = []
    for m in matches(nz._SPACED, text):
        expected += [m.start() - 1, m.end()]
    assert nz._spaced_runs(text) == expected


_EMAIL_PIECES = [
    " ", "  ", "\n", "\t", "\u00a0", "@", " @ ", ".", " . ", "-", "_", "%", "+", "a", "john", "9",
    "gmail", "com", "co.uk", "x" * 70, "é", "A", "#", "(", "mike.t", "j@x.io", " at ", "at",
    " en ", "en", " arroba ", " chez ", " bei ", "bei", "hotmail.es", ".x", "x" * 62,
]  # fmt: skip
EMAIL_TEXTS = st.lists(st.sampled_from(_EMAIL_PIECES), max_size=14).map("".join)


@RANDOM
@given(EMAIL_TEXTS)
@example("john.smith@gmail.com or mike @ yahoo . com, a@b@c.de")
@example(".john@x.com _a@b.co é@x.io -x@y.z " + "x" * 63 + "@a.io " + "y" * 64 + "@a.io")
def test_email_at_matches_walked_as_searched(text: str) -> None:
    expected = [(m.span(), m.groups()) for m in matches(links._EMAIL_AT, text)]
    assert [(m.span(), m.groups()) for m in links._email_at_matches(text)] == expected


@RANDOM
@given(EMAIL_TEXTS)
@example("john at gmail.com, mike.t  at\tyahoo.co.uk and x at at y.io")
@example("juanperez en gmail punto com, a en en b.es, .x at y.com _a at b.co é at c.de")
@example("x" * 63 + " at a.io " + "y" * 64 + " at a.io j chez free.fr k bei web.de arroba")
@example("meet at 5 at the cafe.com at x.io")
def test_email_spoken_matches_walked_as_searched(text: str) -> None:
    expected = [(m.span(), m.groups()) for m in matches(links._EMAIL_SPOKEN, text)]
    assert [(m.span(), m.groups()) for m in links._email_spoken_matches(text)] == expected


@RANDOM
@given(EMAIL_TEXTS)
@example("a.b")
@example("-.1 .a a. é.a a.é")
def test_domain_dot_walked_as_searched(text: str) -> None:
    assert links._domain_dot(text) == (links._DOMAIN_DOT.search(text) is not None)
