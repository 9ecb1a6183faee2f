"""The shield's result type, in a module of its own that the optional compiled build leaves as
Python: compiled, a frozen dataclass would become a native class that no longer refuses
assignment, and the shield's findings are immutable either way."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of contact information; `start`/`end` index the current message's text."""

    kind: str
    start: int
    end: int
    text: str
    rule: str
