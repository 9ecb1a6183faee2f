"""The shield's memo caches stay bounded and keep following what is said in a long-running
server, instead of filling up with its first messages and then remembering nothing new."""

from __future__ import annotations

from tradetalk.protection import detector, traps
from tradetalk.protection.detector import Detector, clear_caches
from tradetalk.protection.memo import remember


def test_a_full_cache_starts_over_and_keeps_the_newest_answer() -> None:
    cache: dict[str, int] = {}
    for n in range(10):
        remember(cache, f"word{n}", n, 4)
    assert len(cache) <= 4
    assert cache["word9"] == 9


def test_many_distinct_orders_leave_the_window_cache_bounded_and_still_learning() -> None:
    clear_caches()
    shield = Detector()
    try:
        # Each message holds an order number the traps must look at (a window of its own).
        for n in range(10_050):
            assert shield.scan(f"Order {4000_0000 + n:08d}-{n % 97:02d} shipped, $45.00") == []
        newest = f"order {4000_0000 + 10_049:08d}-{10_049 % 97:02d}"
        assert 0 < len(traps._window_spans) <= 10_000
        assert any(newest in key[-1] for key in traps._window_spans)
        # Words: the newest are remembered too.
        assert len(detector._flag_cache) <= 50_000
        assert f"{4000_0000 + 10_049:08d}" in detector._flag_cache
        # And the answers are the ones a fresh shield gives.
        message = "call me 415 555 0134, order 40001234-12"
        remembered = shield.scan(message)
        clear_caches()
        assert shield.scan(message) == remembered
    finally:
        clear_caches()
