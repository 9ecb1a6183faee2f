"""The matches of a regular expression, without `finditer`'s fixed cost.

`Pattern.finditer(text)` is `iter(pattern.scanner(text).search, None)`, built in C: it looks
the scanner's `search` method up by a C string (a new string object, interned, then a bound
method) and wraps it in a call iterator, some 1,500 instructions before the first search. The
shield makes a few such calls per message, most of them finding nothing or one match, so that
setup is a good part of their cost. Calling the scanner's `search` directly gives the same
matches (it is the same scanner) without it; repeated `Pattern.search` calls would not serve
as well, since each would allocate the engine's backtracking stack again where the scanner
keeps one.

`Pattern.scanner` is undocumented but has been in CPython's `re` since Python 2 and is what
`finditer` itself uses; tests/protection/test_shortcuts.py compares `matches` with `finditer`.
"""

from __future__ import annotations

import re
from typing import Protocol

__all__ = ["matches"]


class _Scanner(Protocol):
    def search(self) -> re.Match[str] | None: ...


def matches(
    pattern: re.Pattern[str], text: str, pos: int = 0, endpos: int | None = None
) -> list[re.Match[str]]:
    """`list(pattern.finditer(text, pos, endpos))`."""
    scanner: _Scanner = pattern.scanner(  # type: ignore[attr-defined]
        text, pos, len(text) if endpos is None else endpos
    )
    found: list[re.Match[str]] = []
    m = scanner.search()
    while m is not None:
        found.append(m)
        m = scanner.search()
    return found
