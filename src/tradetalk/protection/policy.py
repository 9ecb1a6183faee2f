"""What to do with a finding: the operator's per-kind policy (pure, no I/O)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tradetalk.protection.detector import KINDS, Finding

MASK_TEXT = "[contact details removed]"


class Action(enum.StrEnum):
    """Per kind: refuse the message, deliver it with the detail removed, or deliver and review."""

    BLOCK = "block"
    MASK = "mask"
    FLAG = "flag"


_STRENGTH = {Action.FLAG: 1, Action.MASK: 2, Action.BLOCK: 3}

DEFAULT_POLICY: Mapping[str, Action] = {
    "phone": Action.BLOCK,
    "email": Action.BLOCK,
    "url": Action.BLOCK,
    "social_handle": Action.BLOCK,
    "messaging_app": Action.BLOCK,
    "payment_handle": Action.BLOCK,
    # Asking to deal elsewhere without an identifier is often innocent ("can you ship
    # outside the app's label?"): a person decides.
    "solicitation": Action.FLAG,
}

_LABELS = {
    "phone": "a phone number",
    "email": "an email address",
    "url": "a link to another site",
    "social_handle": "a social media handle",
    "messaging_app": "a messaging app contact",
    "payment_handle": "a payment handle",
    "solicitation": "an invitation to deal outside the platform",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of screening one text."""

    action: Action | None
    findings: tuple[Finding, ...]
    text_for_recipient: str

    @property
    def blocked(self) -> bool:
        """Nothing is delivered."""
        return self.action is Action.BLOCK

    @property
    def needs_review(self) -> bool:
        """Delivered (masked or not) and queued for a moderator."""
        return self.action in (Action.MASK, Action.FLAG)


def full_policy(overrides: Mapping[str, str] | None = None) -> dict[str, Action]:
    """The default policy with the operator's overrides applied; unknown kinds are refused."""
    policy = dict(DEFAULT_POLICY)
    for kind, action in (overrides or {}).items():
        if kind not in KINDS:
            raise ValueError(f"unknown finding kind {kind!r}; expected one of {', '.join(KINDS)}")
        policy[kind] = Action(action)
    return policy


def judge(text: str, findings: Sequence[Finding], policy: Mapping[str, Action]) -> Verdict:
    """Apply the policy: the strictest action among the findings wins."""
    if not findings:
        return Verdict(None, (), text)
    action = max((policy[f.kind] for f in findings), key=_STRENGTH.__getitem__)
    delivered = text
    if action is Action.MASK:
        delivered = mask(text, [f for f in findings if policy[f.kind] is Action.MASK])
    return Verdict(action, tuple(findings), delivered)


def mask(text: str, findings: Sequence[Finding]) -> str:
    """Replace each finding's span (overlaps merged) with MASK_TEXT."""
    spans: list[tuple[int, int]] = []
    for finding in sorted(findings, key=lambda f: f.start):
        if spans and finding.start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], finding.end))
        else:
            spans.append((finding.start, finding.end))
    parts: list[str] = []
    cursor = 0
    for start, end in spans:
        parts.append(text[cursor:start])
        parts.append(MASK_TEXT)
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def explain(findings: Sequence[Finding]) -> str:
    """A plain-language reason a person can act on."""
    kinds = sorted({f.kind for f in findings}, key=KINDS.index)
    what = [_LABELS.get(kind, kind) for kind in kinds]
    listed = what[0] if len(what) == 1 else ", ".join(what[:-1]) + " and " + what[-1]
    return (
        f"Your message looks like it contains {listed}. To keep buyers and sellers safe, "
        "contact details and deals outside the platform aren't allowed here. "
        "Please remove them and keep the conversation on the platform."
    )
