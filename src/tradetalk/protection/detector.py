"""The shield: find contact information and invitations to deal off the platform.

Pure code, no I/O. `Detector.scan` looks at a message together with the same sender's recent
messages in the conversation, so a phone number dictated over three messages is still caught;
findings are reported on the current message only, with spans into its original text.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Protocol

from tradetalk.protection import keywords as _keywords
from tradetalk.protection import normalize as _normalize
from tradetalk.protection import phones as _phones
from tradetalk.protection import tracking as _tracking
from tradetalk.protection.keywords import (
    KEYWORD_PREFIXES,
    SOLICIT_WORDS,
    find_keywords,
    find_solicitation,
    prefixes,
)
from tradetalk.protection.links import find_emails, find_handles, find_urls, may_hold_url
from tradetalk.protection.normalize import NormText, deobfuscate, normalize
from tradetalk.protection.phones import find_phones
from tradetalk.protection.tracking import TRACKING_DOMAINS
from tradetalk.protection.traps import trap_spans
from tradetalk.protection.wordnums import NUMBER_WORDS

__all__ = ["KINDS", "Detector", "DetectorConfig", "Finding", "clear_caches"]

KINDS = (
    "phone",
    "email",
    "url",
    "social_handle",
    "messaging_app",
    "payment_handle",
    "solicitation",
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of contact information; `start`/`end` index the current message's text."""

    kind: str
    start: int
    end: int
    text: str
    rule: str


@dataclass(frozen=True)
class DetectorConfig:
    """Operator settings: default phone region, own domains and addresses, history depth."""

    default_region: str = "US"
    allowed_domains: frozenset[str] = frozenset()
    allowed_emails: frozenset[str] = frozenset()
    history_window: int = 5


def clear_caches() -> None:
    """Empty the shield's memo caches (folded characters, token classes, phone and tracking
    verdicts, leetspeak tokens), so a benchmark can measure never-seen-before messages."""
    _keywords.clear_caches()
    _normalize.clear_caches()
    _phones.clear_caches()
    _tracking.clear_caches()


_WORD_SPLIT = str.maketrans({c: " " for c in "\n\t.,;:!?()[]{}<>\"'`*/\\|~^=+_%-"})
_DIGITS = frozenset("0123456789")
_LEET_SYMBOLS = frozenset("@$!|")
_WORD_SPLIT_BYTES = bytes(
    ord(" ") if chr(i) in "\n\t.,;:!?()[]{}<>\"'`*/\\|~^=+_%-" else i for i in range(256)
)


def _words(text: str) -> set[str]:
    """The text's words, split at punctuation (bytes.translate is ten times str.translate)."""
    if text.isascii():
        return set(text.encode("ascii").translate(_WORD_SPLIT_BYTES).decode("ascii").split())
    return set(text.translate(_WORD_SPLIT).split())


_finding_order = attrgetter("start", "end", "kind")


class Detector:
    """Scans messages for contact information (see module doc)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self._config = config or DetectorConfig()
        self._region = self._config.default_region.upper()
        self._url_allowed = (
            frozenset(d.lower() for d in self._config.allowed_domains) | TRACKING_DOMAINS
        )
        self._email_domains = frozenset(d.lower() for d in self._config.allowed_domains)
        self._emails = frozenset(e.lower() for e in self._config.allowed_emails)

    def scan(self, text: str, history: Sequence[str] = ()) -> list[Finding]:
        """Findings in `text`, with `history` (same sender's earlier messages, oldest first)."""
        window = self._config.history_window
        recent = list(history[-window:]) if window > 0 and history else []
        if recent:
            combined = "\n".join(recent) + "\n" + text
            offset = len(combined) - len(text)
            starts = []
            pos = 0
            for part in recent:
                starts.append(pos)
                pos += len(part) + 1
            starts.append(offset)
        else:
            combined, offset, starts = text, 0, [0]
        raw = self._scan(combined, starts)
        findings: list[Finding] = []
        seen: set[tuple[str, int, int]] = set()
        for kind, a, b, rule in raw:
            if b <= offset:
                continue  # entirely in history: it was judged when it was sent
            a = max(a, offset) - offset
            b -= offset
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if a >= b or (kind, a, b) in seen:
                continue
            seen.add((kind, a, b))
            findings.append(Finding(kind, a, b, text[a:b], rule))
        if len(findings) > 1:
            findings.sort(key=_finding_order)
        return findings

    def _scan(self, original: str, msg_starts_orig: list[int]) -> list[tuple[str, int, int, str]]:
        view = normalize(original)
        text = view.text
        words = _words(text)
        has_digit = not _DIGITS.isdisjoint(text)
        if _plain(original, text, words, has_digit):
            return []
        out: list[tuple[str, int, int, str]] = []

        clean = deobfuscate(view, sum(1 for w in words if len(w) == 1) >= 3)
        ctext = clean.text
        cwords = words if clean is view else _words(ctext)
        word_prefixes = prefixes(cwords)

        url_hits = find_urls(ctext, self._url_allowed)
        for h in url_hits:
            out.append((h.kind, *clean.span(h.start, h.end), h.rule))
        email_hits = find_emails(ctext, self._emails, self._email_domains)
        for h in email_hits:
            out.append((h.kind, *clean.span(h.start, h.end), h.rule))
        for h in find_handles(ctext):
            if not _inside(h.start, email_hits) and not _inside(h.start, url_hits):
                out.append((h.kind, *clean.span(h.start, h.end), h.rule))
        mixed = (has_digit or not _LEET_SYMBOLS.isdisjoint(ctext)) and any(
            not w.isalpha() and not w.isdigit() for w in cwords
        )
        for k in find_keywords(ctext, word_prefixes, _respaced(clean, original), mixed):
            if not _inside(k.start, url_hits) and not _inside(k.start, email_hits):
                out.append((k.kind, *clean.span(k.start, k.end), k.rule))
        for k in find_solicitation(ctext, cwords):
            out.append((k.kind, *clean.span(k.start, k.end), k.rule))

        spoken = not words.isdisjoint(NUMBER_WORDS) or _has_compound(text, words)
        # Without number words a phone number needs at least five real digits (look-alike
        # letters make up the rest at most): count them before tokenising anything.
        if spoken or (has_digit and sum(map(text.count, "0123456789")) >= 5):

            def masks(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
                return trap_spans(text, windows) if has_digit else []

            # Digits inside links are the link's business (tracking links, wa.me/...).
            links = _view_spans(view, clean, url_hits) + _view_spans(view, clean, email_hits)

            msg_starts = [_view_index(view, s) for s in msg_starts_orig]
            disguised = _disguised(view, original)
            for p in find_phones(text, masks, msg_starts, self._region, disguised, words, links):
                out.append(("phone", *view.span(p.start, p.end), p.rule))
        return out


_SIGNAL_CHARS = frozenset("@$[({<&")
# Spelled punctuation that de-obfuscation turns into "." or "@".
_SPELLED = frozenset({"dot", "dotcom", "punto", "point", "punkt", "arroba", "chez", "bei"})
_TRIGGER_WORDS = NUMBER_WORDS | SOLICIT_WORDS | _SPELLED


def _plain(original: str, text: str, words: set[str], has_digit: bool) -> bool:
    """True for a message nothing could fire on: ASCII, no digits, no @/$/brackets, no link-like
    dot, no single letters to join, no trigger word. Most everyday messages; one set check
    each instead of running every detector.
    """
    if has_digit or not original.isascii() or not _SIGNAL_CHARS.isdisjoint(text):
        return False
    if " at " in text or may_hold_url(text) or not words.isdisjoint(_TRIGGER_WORDS):
        return False
    if sum(1 for w in words if len(w) == 1) >= 2:
        return False
    return prefixes(words).isdisjoint(KEYWORD_PREFIXES)


class _Span(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def _inside(pos: int, hits: Sequence[_Span]) -> bool:
    return any(h.start <= pos < h.end for h in hits)


def _has_compound(text: str, words: set[str]) -> bool:
    # German "funfundfunfzig", Spanish "veinticinco": rare, long, so checked by substring.
    if "und" not in text and "veinti" not in text:
        return False
    return any(len(w) > 9 and ("und" in w or w.startswith("veinti")) for w in words)


def _view_index(view: NormText, orig_pos: int) -> int:
    if view.starts is None:
        return orig_pos
    return bisect.bisect_left(view.starts, orig_pos)


def _view_spans(view: NormText, clean: NormText, hits: Sequence[_Span]) -> list[tuple[int, int]]:
    """Map spans of the de-obfuscated view onto the normalised view (via original offsets)."""
    spans: list[tuple[int, int]] = []
    for h in hits:
        a, b = clean.span(h.start, h.end)
        spans.append((_view_index(view, a), _view_index(view, b)))
    return spans


def _disguised(view: NormText, original: str) -> Callable[[int, int], bool]:
    """Whether view[a:b] was typed as something other than ASCII (fullwidth digits ...)."""
    if view.starts is None or view.ends is None:
        return _never
    starts, ends = view.starts, view.ends

    def check(a: int, b: int) -> bool:
        return not original[starts[a] : ends[b - 1]].isascii()

    return check


def _never(a: int, b: int) -> bool:
    return False


def _respaced(clean: NormText, original: str) -> Callable[[int, int], bool]:
    """Whether clean[a:b] was typed spaced out ("w h a t s") or with non-ASCII look-alikes."""
    if clean.starts is None or clean.ends is None:
        return _never
    starts, ends = clean.starts, clean.ends

    def check(a: int, b: int) -> bool:
        if b - a <= 0:
            return False
        if ends[b - 1] - starts[a] > b - a:
            return True  # characters were removed between the letters
        return not original[starts[a] : ends[b - 1]].isascii()

    return check
