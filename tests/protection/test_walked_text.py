"""Regular expression searches of the text stages (normalize, links) replaced by a walk over
the text's characters, against the searches they replace: the same matches, on corner cases
and random texts."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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
