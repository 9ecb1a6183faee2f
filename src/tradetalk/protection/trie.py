"""Word lists as regular expressions the engine can branch through by character.

Python's regex engine tries the branches of `a|b|c` one after the other at every position it
looks at; with a hundred words that is a hundred tries. The same words spelled as a trie
(`f(?:ace|b|rie)`) cost one try per character of the candidate instead, and match exactly the
same strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["trie_pattern"]

# A node: child character -> node; the key "" marks the end of a word and holds its tail.
_Node = dict[str, "_Node | str"]


def trie_pattern(
    words: Iterable[str], tail: Callable[[str], str] | None = None, after_first: str = ""
) -> str:
    """An alternation matching each of `words`, spelled as a trie; `tail(word)` is a pattern
    (usually a look-ahead) required after that word, `after_first` one (a look-behind)
    required after its first character.

    Only whether a branch matches is preserved, not which one is tried first: fine for
    patterns used to find where something starts, or closed by a look-ahead.

    `after_first` serves a pattern that must start a word: "(?<![a-z])" in front of the
    alternation makes the engine try it at every position, while "(?<![a-z].)" after the
    first letter leaves an expression that starts with a letter of a few, which the engine
    skips ahead to (a word of one character then ends with it: its tail follows).
    """
    root: _Node = {}
    for word in sorted(set(words)):
        node = root
        for c in word:
            child = node.setdefault(c, {})
            assert isinstance(child, dict)
            node = child
        node[""] = tail(word) if tail is not None else ""
    return _spell(root, after_first)


def _spell(node: _Node, after_first: str = "") -> str:
    branches = []
    for c, child in sorted(node.items()):
        if c:
            assert isinstance(child, dict)
            branches.append(re.escape(c) + after_first + _spell(child))
    end = node.get("")
    if end is not None:
        assert isinstance(end, str)
        branches.append(end)  # last: an empty tail always matches
    if len(branches) == 1:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"
