"""What the shield's finders report before the detector maps it back to the message's text."""

from __future__ import annotations

__all__ = ["Hit"]


class Hit:
    """A finding of one finder (keywords, links) in the de-obfuscated view (view coordinates).

    (A plain class with slots: made several times per message, it costs a fraction of a
    NamedTuple, above all once compiled.)
    """

    __slots__ = ("end", "kind", "rule", "start")

    def __init__(self, start: int, end: int, kind: str, rule: str) -> None:
        self.start = start
        self.end = end
        self.kind = kind
        self.rule = rule

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hit) and (
            self.start == other.start
            and self.end == other.end
            and self.kind == other.kind
            and self.rule == other.rule
        )

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.kind, self.rule))

    def __repr__(self) -> str:
        return f"Hit({self.start!r}, {self.end!r}, {self.kind!r}, {self.rule!r})"
