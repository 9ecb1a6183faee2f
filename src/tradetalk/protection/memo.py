"""How the shield's memo caches stay bounded in a server that runs for months.

The shield keeps pure answers it may be asked again: a word's flags, a token's class, the runs
of a digit chain, a window's trap spans, a name's entry. Words and tokens come back in message
after message; chains and windows come back because each new message is scanned with the
sender's last few. A cache that stopped taking entries once full would, in a long-running
server, keep the first months' vocabulary and numbers for ever and help no new conversation;
one that starts over when full follows what is being said now, at the cost of one burst of
misses per fill. (`functools.lru_cache` evicts one entry at a time, but its wrapper costs more
per hit than a plain dict lookup, and most of these caches are hit on every word.)
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def remember(cache: dict[_Key, _Value], key: _Key, value: _Value, limit: int) -> None:
    """Keep `value` under `key`; a cache holding `limit` entries is emptied first."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
