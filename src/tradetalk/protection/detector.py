"""The shield: find contact information and invitations to deal off the platform.

Pure code, no I/O. `Detector.scan` looks at a message together with the same sender's recent
messages in the conversation, so a phone number dictated over three messages is still caught;
findings are reported on the current message only, with spans into its original text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from tradetalk.protection import keywords as _keywords
from tradetalk.protection import normalize as _normalize
from tradetalk.protection import phones as _phones
from tradetalk.protection import tracking as _tracking
from tradetalk.protection.finding import Finding
from tradetalk.protection.hit import Hit
from tradetalk.protection.keywords import (
    KEYWORD_PREFIXES,
    NEGATION_WORDS,
    REFUSAL_WORDS,
    SOLICIT_WORDS,
    find_keywords,
    find_solicitation,
)
from tradetalk.protection.links import (
    find_emails,
    find_handles,
    find_urls,
    may_hold_url,
)
from tradetalk.protection.memo import remember
from tradetalk.protection.normalize import NormText, deobfuscate, normalize
from tradetalk.protection.phones import find_phones
from tradetalk.protection.tracking import TRACKING_DOMAINS
from tradetalk.protection.traps import (
    ID_TOKENS,
    LEADING_WORDS,
    MONTH_PREFIXES,
    PHONE_CUE_WORDS,
    TRACKING_WORDS,
    leads,
)
from tradetalk.protection.wordnums import NUMBER_WORDS

__all__ = ["KINDS", "Detector", "DetectorConfig", "Finding", "clear_caches"]

KINDS: Final = (
    "phone",
    "email",
    "url",
    "social_handle",
    "messaging_app",
    "payment_handle",
    "solicitation",
)


# A frozen dataclass sets each field through object.__setattr__ in its interpreted __init__,
# several times the cost of the rest of a finding's bookkeeping. The scan makes its findings
# itself with the same object.__setattr__ (which, as in that __init__, passes over the frozen
# class's refusing __setattr__): called from compiled code with the object, the name and the
# value, mypyc makes it one direct call of the generic attribute setter, which finds the slot
# on the type and fills it (the same object, as immutable afterwards).
_new_object: Final = object.__new__


def _finding(kind: str, start: int, end: int, text: str, rule: str) -> Finding:
    """Finding(kind, start, end, text, rule), made directly (see above)."""
    finding: Finding = _new_object(Finding)
    object.__setattr__(finding, "kind", kind)
    object.__setattr__(finding, "start", start)
    object.__setattr__(finding, "end", end)
    object.__setattr__(finding, "text", text)
    object.__setattr__(finding, "rule", rule)
    return finding


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
    _flag_cache.clear()


_WORD_SPLIT: Final = str.maketrans({c: " " for c in "\n\t.,;:!?()[]{}<>\"'`*/\\|~^=+_%-"})
_WORD_SPLIT_BYTES: Final = bytes(
    ord(" ") if chr(i) in "\n\t.,;:!?()[]{}<>\"'`*/\\|~^=+_%-" else i for i in range(256)
)


def _words(text: str, ascii_text: bool | None = None) -> list[str]:
    """The text's words, split at punctuation (bytes.translate is ten times str.translate), in
    order and with repeats: every use of them is a test of which words occur. (`ascii_text`:
    text.isascii(), when the caller has it.)"""
    if text.isascii() if ascii_text is None else ascii_text:
        return text.encode("ascii").translate(_WORD_SPLIT_BYTES).decode("ascii").split()
    return text.translate(_WORD_SPLIT).split()


class Detector:
    """Scans messages for contact information (see module doc)."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self._config = config or DetectorConfig()
        self._window = self._config.history_window
        self._region = self._config.default_region.upper()
        self._url_allowed = (
            frozenset(d.lower() for d in self._config.allowed_domains) | TRACKING_DOMAINS
        )
        self._email_domains = frozenset(d.lower() for d in self._config.allowed_domains)
        self._emails = frozenset(e.lower() for e in self._config.allowed_emails)

    def scan(self, text: str, history: Sequence[str] = ()) -> list[Finding]:
        """Findings in `text`, with `history` (same sender's earlier messages, oldest first)."""
        window = self._window
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
        if not raw:
            return []  # most messages
        # (start, end, kind, order, rule) of each finding in the message: sorted as tuples, they
        # come in the findings' order (start, end, kind), and of those with the same kind and
        # span the first found (its rule is the one kept) comes first. (Sorting and skipping
        # repeats is cheaper than a set of the spans seen: most messages have one or two.)
        kept: list[tuple[int, int, str, int, str]] = []
        order = 0
        for kind, a, b, rule in raw:
            if b <= offset:
                continue  # entirely in history: it was judged when it was sent
            a = max(a, offset) - offset
            b -= offset
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if a < b:
                kept.append((a, b, kind, order, rule))
                order += 1
        if len(kept) > 1:
            kept.sort()
        findings: list[Finding] = []
        last_a = last_b = -1
        last_kind = ""
        for a, b, kind, _, rule in kept:
            if a == last_a and b == last_b and kind == last_kind:
                continue  # a repeat of the finding before
            findings.append(_finding(kind, a, b, text[a:b], rule))
            last_a, last_b, last_kind = a, b, kind
        return findings

    def _scan(self, original: str, msg_starts_orig: list[int]) -> list[tuple[str, int, int, str]]:
        view = normalize(original)
        text = view.text
        # Whether the view is ASCII, asked once: its words are then ASCII too. (A view without
        # an offset map is the original lower-cased, which `normalize` does to ASCII only.)
        ascii_view = view.starts is None or text.isascii()
        words = _words(text, ascii_view)
        flags, digits = _flags_and_digits(words, ascii_view)
        # Every digit lies inside some word (digits are no separators), so the words tell.
        has_digit = flags & _HAS_DIGIT
        singles = _single_characters(words) if flags & _SINGLE else 0
        if not flags & _NOT_PLAIN and singles < 2 and _plain(original, text):
            return []
        out: list[tuple[str, int, int, str]] = []

        # Each stage below is called only when what it looks for first is there (the same
        # tests the stage would make itself): most messages need few of them.
        if (
            singles >= 3  # spaced-out letters, looked for only then
            or "(" in text
            or "[" in text
            or "{" in text
            or "<" in text
            or flags & _DOTTED
        ):
            clean = deobfuscate(view, singles >= 3)
        else:
            clean = view
        ctext = clean.text
        if clean is view:
            cwords, cflags, ascii_clean = words, flags, ascii_view
        else:
            # (De-obfuscating puts in nothing but "@" and ".": an ASCII view stays ASCII.)
            ascii_clean = ascii_view or ctext.isascii()
            cwords = _words(ctext, ascii_clean)
            cflags = _flags_and_digits(cwords, ascii_clean)[0]

        # "@" and "$" separate no words, so a text holds one only if one of its words does
        # (`_SIGNAL`): most texts are spared a scan for each.
        signs = bool(cflags & _SIGNAL)
        url_hits: list[Hit] = []
        if "." in ctext or "://" in ctext or cflags & _WWW:
            url_hits = find_urls(ctext, self._url_allowed)
            for h in url_hits:
                a, b = clean.span(h.start, h.end)
                out.append((h.kind, a, b, h.rule))
        email_hits: list[Hit] = []
        if (signs and "@" in ctext) or (
            cflags & _SPOKEN_AT
            and (
                " at " in ctext
                or " arroba " in ctext
                or " chez " in ctext
                or " bei " in ctext
                or " en " in ctext
            )
        ):
            email_hits = find_emails(ctext, self._emails, self._email_domains)
            for h in email_hits:
                a, b = clean.span(h.start, h.end)
                out.append((h.kind, a, b, h.rule))
        if signs and ("@" in ctext or "$" in ctext):
            for h in find_handles(ctext):
                if not (email_hits and _inside(h.start, email_hits)) and not (
                    url_hits and _inside(h.start, url_hits)
                ):
                    a, b = clean.span(h.start, h.end)
                    out.append((h.kind, a, b, h.rule))
        # Leetspeak hides inside a word of letters mixed with digits or @$!|.
        mixed = cflags & _MIXED and (
            has_digit or (signs and ("@" in ctext or "$" in ctext)) or "!" in ctext or "|" in ctext
        )
        # In ASCII text whose words are all letters and digits, the words are its [a-z0-9]
        # tokens (see find_solicitation).
        plain = not cflags & _NOT_ALNUM and ascii_clean
        # (Refusals need a negation or refusal word standing as a whole token.)
        negation = bool(cflags & _NEGATION)
        if cflags & _KEYWORD_PREFIX or mixed:
            respaced = _respaced(clean, original)
            names = bool(cflags & _KEYWORD_PREFIX)
            for k in find_keywords(
                ctext,
                names,
                respaced,
                bool(mixed),
                negation=negation,
                refusal_after=bool(cflags & _REFUSAL),
            ):
                if not (url_hits and _inside(k.start, url_hits)) and not (
                    email_hits and _inside(k.start, email_hits)
                ):
                    a, b = clean.span(k.start, k.end)
                    out.append((k.kind, a, b, k.rule))
        if cflags & _SOLICIT:
            for k in find_solicitation(ctext, cwords, plain, negation):
                a, b = clean.span(k.start, k.end)
                out.append((k.kind, a, b, k.rule))

        # Without number words a phone number needs at least five real digits (look-alike
        # letters make up the rest at most): the words counted them, before any tokenising.
        if flags & _SPOKEN or digits >= 5:
            # Digits inside links are the link's business (tracking links, wa.me/...).
            links = (
                _view_spans(view, clean, url_hits) + _view_spans(view, clean, email_hits)
                if url_hits or email_hits
                else []
            )
            disguised = _disguised(view, original)
            if view.starts is None:
                msg_starts = msg_starts_orig
            else:
                msg_starts = [_view_index(view, s) for s in msg_starts_orig]
            # What the phone finder and the traps would learn from the text's [a-z0-9] tokens,
            # the words' flags tell (every token lies inside a word).
            for p in find_phones(
                text,
                msg_starts,
                self._region,
                disguised,
                words,
                links,
                traps=bool(has_digit),
                number_words=bool(flags & _NUMBER_TOKEN),
                led=bool(flags & _LEADS),
                named_id=bool(flags & _ID_TOKEN),
                tracking_words=bool(flags & _TRACKING_WORD),
                cue_words=bool(flags & _CUE_WORD),
            ):
                a, b = view.span(p.start, p.end)
                out.append(("phone", a, b, p.rule))
        return out


# Spelled punctuation that de-obfuscation turns into "." or "@".
_SPELLED: Final = frozenset({"dot", "dotcom", "punto", "point", "punkt", "arroba", "chez", "bei"})
_TRIGGER_WORDS: Final = NUMBER_WORDS | SOLICIT_WORDS | _SPELLED
_AT_WORDS: Final = frozenset({"at", "arroba", "chez", "bei", "en"})

# What a word can set off, worked out once per distinct word: a message's words are looked up
# and their bits or-ed together, which answers every "does some word ..." question of a scan
# (digits, single letters, number words, keyword prefixes, trigger words) in one pass over the
# words instead of one set operation or generator each.
_HAS_DIGIT: Final = 1
_SINGLE: Final = 2  # one character: spaced-out letters ("w h a t s")
_MIXED: Final = 4  # neither all letters nor all digits: where leetspeak hides
_SPOKEN: Final = 8  # a number word, also a German or Spanish compound ("funfundfunfzig")
_KEYWORD_PREFIX: Final = 16  # starts like a channel name, or holds a run that does (#whatsapp)
_SOLICIT: Final = 32  # a word or token some invitation to deal off the platform needs
_TRIGGER: Final = 64  # a word `_plain` does not let through
_SIGNAL: Final = 128  # holds @, $ or &
_NOT_ALNUM: Final = 256  # holds something besides letters and digits (#, @, a control char)
_TRACKING_WORD: Final = 8192  # a carrier or tracking word: phones.TRACKING_WORDS
_CUE_WORD: Final = 16384  # says a number is a phone number ("call", "cell"): PHONE_CUE_WORDS
# Letters never separate words, so a text holds "dot", "www" or " at " only if a word does.
_DOTTED: Final = 32768  # holds "dot", "punt" or "point" (a spelled "."): deobfuscate
_WWW: Final = 65536  # holds "www"
_SPOKEN_AT: Final = 131072  # a spelled "@" ("at", "arroba", "chez", "bei", "en")
# Of the word's [a-z0-9] tokens (the word itself when it is ASCII letters and digits), which the
# phone finder, the traps and the refusals see as words:
_NEGATION: Final = 512  # a token that may start a negation ("don't", "#not"): NEGATION_WORDS
_REFUSAL: Final = 1024  # a token that may start a refusal ("is not allowed"): REFUSAL_WORDS
_LEADS: Final = 2048  # a token a number may follow ("size 10", "ms-65", "march 4"): traps.leads
_ID_TOKEN: Final = 4096  # a token naming the id after it ("order", "#cert"): traps.ID_TOKENS
_NUMBER_TOKEN: Final = 262144  # a token that may be a number word ("#five"): phones.find_phones
# Any of these rules out a plain message.
_NOT_PLAIN: Final = _HAS_DIGIT | _SIGNAL | _TRIGGER | _KEYWORD_PREFIX
_DIGIT_MARKS: Final = bytes(1 if 0x30 <= i <= 0x39 else 0 for i in range(256))
_ASCII_DIGIT: Final = re.compile("[0-9]")
_TOKEN: Final = re.compile("[a-z0-9]+")
_NAME_RUN: Final = re.compile("[a-z0-9&]+")  # where a name can start, inside a word


# The flags of the few words that are in a word list (number words, invitation words ...).
_LISTED_FLAGS: Final[dict[str, int]] = {
    word: (_SPOKEN if word in NUMBER_WORDS else 0)
    | (_SOLICIT if word in SOLICIT_WORDS else 0)
    | (_TRIGGER if word in _TRIGGER_WORDS else 0)
    | (_TRACKING_WORD if word in TRACKING_WORDS else 0)
    | (_CUE_WORD if word in PHONE_CUE_WORDS else 0)
    | (_SPOKEN_AT if word in _AT_WORDS else 0)
    for word in _TRIGGER_WORDS.union(
        NEGATION_WORDS, REFUSAL_WORDS, TRACKING_WORDS, PHONE_CUE_WORDS, _AT_WORDS
    )
}


# The flags an ASCII word of letters gets from being in a list, as a word and as the one token
# it is (see `_word_flags`): one lookup instead of a dozen set tests.
_LETTER_WORD_FLAGS: Final[dict[str, int]] = {
    word: _LISTED_FLAGS.get(word, 0)
    | (_SOLICIT | _TRIGGER if word in SOLICIT_WORDS else 0)
    | (_ID_TOKEN if word in ID_TOKENS else 0)
    | (_NEGATION if word in NEGATION_WORDS else 0)
    | (_REFUSAL if word in REFUSAL_WORDS else 0)
    | (_NUMBER_TOKEN if word in NUMBER_WORDS else 0)
    | (_LEADS if word in LEADING_WORDS else 0)
    for word in _LISTED_FLAGS.keys() | SOLICIT_WORDS | ID_TOKENS | NUMBER_WORDS | LEADING_WORDS
}
# No listed word or token is all digits, and no keyword prefix either: a word of ASCII digits
# has no flag but these two (see `_word_flags`).
assert not any(w.isdigit() for w in _LETTER_WORD_FLAGS.keys() | KEYWORD_PREFIXES)
# The leading words are all letters: a word mixing letters and digits gets `_LEADS` from
# `traps.leads` alone, never from the table.
assert all(w.isalpha() for w in LEADING_WORDS)


def _word_flags(word: str, ascii_text: bool = False) -> int:
    """What `word` can set off (the flags above), worked out (`ascii_text`: it is a word of an
    ASCII text; `_word_entry` finds that out itself on the way)."""
    return _word_entry(word) & _FLAG_BITS


# What one pass over a word's characters tells about it (`_word_entry`).
_SEEN_LOWER: Final = 1  # a-z
_SEEN_UPPER: Final = 2  # A-Z
_SEEN_DIGIT: Final = 4  # 0-9
_SEEN_OTHER: Final = 8  # any other ASCII character
_SEEN_NT_OT: Final = 16  # "nt" or "ot": "dot", "punt" and "point" all hold one
_SEEN_WW: Final = 32  # "ww": "www" holds it


def _word_entry(word: str) -> int:
    """What the flag cache keeps of a new word: its flags (`_word_flags_in_general`), and above
    them (`_DIGITS_SHIFT`) how many ASCII digits it has."""
    # Most new words are ASCII letters or ASCII digits. One pass over the codes of the word's
    # characters (a few instructions each, compiled) tells which kinds it holds, counts its
    # digits and sees whether it holds "nt", "ot" or "ww", where `isascii`, `isalpha`,
    # `isdigit`, a digit count and each `in` would be a call, several of them generic ones.
    seen = 0
    digits = 0
    before = 0  # the code of the character before
    for i in range(len(word)):
        c = ord(word[i])
        if 0x61 <= c <= 0x7A:
            seen |= _SEEN_LOWER
            if c == 0x74:  # "t"
                if before == 0x6E or before == 0x6F:  # "n", "o"
                    seen |= _SEEN_NT_OT
            elif c == 0x77 and before == 0x77:  # "ww"
                seen |= _SEEN_WW
        elif 0x30 <= c <= 0x39:
            seen |= _SEEN_DIGIT
            digits += 1
        elif 0x41 <= c <= 0x5A:
            seen |= _SEEN_UPPER
        elif c < 0x80:
            seen |= _SEEN_OTHER
        else:
            # Not ASCII: the long way (its ASCII digits, as UTF-8 encodes them, counted apart).
            flags = _word_flags_in_general(word)
            return flags | _digit_count(word) << _DIGITS_SHIFT if flags & _HAS_DIGIT else flags
        before = c
    if not seen & (_SEEN_DIGIT | _SEEN_OTHER):
        if seen:
            # Letters (`isalpha`): listed words and tokens in one lookup, the rest from parts.
            flags = _LETTER_WORD_FLAGS.get(word, 0) | _letters_part_flags(word, seen)
            return flags | _SINGLE if len(word) == 1 else flags
    elif seen == _SEEN_DIGIT:  # (`isdigit`)
        flags = _HAS_DIGIT | _SINGLE if len(word) == 1 else _HAS_DIGIT
        return flags | digits << _DIGITS_SHIFT
    elif not seen & _SEEN_OTHER:
        # Letters mixed with digits ("4l5", "10am", "wh4tsapp", "s10"): one token, no symbol;
        # listed words and tokens as above. `traps.leads` says yes to such a word when its first
        # three characters are a month's (`_letters_part_flags` tells) or when its leading
        # lower-case letters are a leading word ("size10"; none, so never, for one that starts
        # with a digit or a capital): its expression `[a-z]*` is those letters.
        flags = _LETTER_WORD_FLAGS.get(word, 0) | _letters_part_flags(word, seen)
        flags |= _MIXED | _HAS_DIGIT
        lead = 0
        while 0x61 <= ord(word[lead]) <= 0x7A:  # (a digit comes before the end)
            lead += 1
        if lead and word[:lead] in LEADING_WORDS:
            flags |= _LEADS
        return flags | digits << _DIGITS_SHIFT
    # ASCII with a symbol ("#whatsapp", "@coinguy88", "$40"), or empty.
    return _ascii_symbol_word_flags(word) | digits << _DIGITS_SHIFT


# Each ASCII byte that is no [a-z0-9] (`_TOKEN`) as a space: a word's tokens are then its
# split; with "&" kept too (`_NAME_RUN`), its name runs.
_TOKEN_SPLIT_BYTES: Final = bytes(
    i if 0x61 <= i <= 0x7A or 0x30 <= i <= 0x39 else 0x20 for i in range(256)
)
_NAME_RUN_SPLIT_BYTES: Final = bytes(
    i if 0x61 <= i <= 0x7A or 0x30 <= i <= 0x39 or i == 0x26 else 0x20 for i in range(256)
)
# What a token gets from being in a list (`_LETTER_WORD_FLAGS` less what only a whole word
# gets there: a number word is a trigger as a word, not as a token).
_TOKEN_LIST_FLAGS: Final = _SOLICIT | _ID_TOKEN | _NEGATION | _REFUSAL | _NUMBER_TOKEN | _LEADS


def _ascii_symbol_word_flags(word: str) -> int:
    """`_word_flags_in_general(word)` of an ASCII word that is not all letters and digits
    ("#whatsapp", "@coinguy88", "$40", "smith@gmail"), without its three expressions.

    Such a word is neither all letters nor all digits (`_MIXED`, `_NOT_ALNUM`). Its tokens and
    name runs are the split of the word with every other byte made a space (a translate by
    table, where each expression's findall costs several times that); it has a digit when some
    token has (digits are token characters), which is when stripping a token's leading
    lower-case letters leaves something, the same strip that tells its leading letters for
    `traps.leads` (as in `_word_flags`).
    """
    flags = _LISTED_FLAGS.get(word, 0) | _MIXED | _NOT_ALNUM
    if len(word) == 1:
        flags |= _SINGLE
    ascii_bytes = word.encode("ascii")
    tokens = ascii_bytes.translate(_TOKEN_SPLIT_BYTES).decode("ascii").split()
    if word[:4] in KEYWORD_PREFIXES:
        flags |= _KEYWORD_PREFIX
    else:
        runs = (
            ascii_bytes.translate(_NAME_RUN_SPLIT_BYTES).decode("ascii").split()
            if "&" in word
            else tokens
        )
        for run in runs:
            if run[:4] in KEYWORD_PREFIXES:
                flags |= _KEYWORD_PREFIX
    if "@" in word or "$" in word or "&" in word:
        flags |= _SIGNAL
    if "t" in word and ("dot" in word or "punt" in word or "point" in word):
        flags |= _DOTTED
    if "w" in word and "www" in word:
        flags |= _WWW
    if _may_be_number_word(word):
        flags |= _SPOKEN
    for token in tokens:
        listed = _LETTER_WORD_FLAGS.get(token, 0) & _TOKEN_LIST_FLAGS
        if listed & _SOLICIT:
            listed |= _TRIGGER
        rest = token.lstrip(_LOWER_CASE)
        if rest:
            flags |= _HAS_DIGIT
            if token[: len(token) - len(rest)] in LEADING_WORDS:
                listed |= _LEADS
        if token[:3] in MONTH_PREFIXES:
            listed |= _LEADS
        if len(token) > 9 and ("und" in token or token.startswith("veinti")):
            listed |= _NUMBER_TOKEN
        flags |= listed
    return flags


_LOWER_CASE: Final = "abcdefghijklmnopqrstuvwxyz"

# What a word of letters and digits gets from its first three characters when they start a
# month or a keyword prefix: `_LEADS` for a month ("mar": traps.leads says yes to "march" and
# "mar10"), `_MAYBE_KEYWORD` when some keyword prefix starts with them (a word whose first four
# characters are a keyword prefix has first three that start one, or are one, for prefixes of
# up to three).
_MAYBE_KEYWORD: Final = 1 << 23
assert _MAYBE_KEYWORD > _NUMBER_TOKEN and _MAYBE_KEYWORD >> 24 == 0
_PREFIX_FLAGS: Final[dict[str, int]] = {
    p: (_LEADS if p in MONTH_PREFIXES else 0)
    | (_MAYBE_KEYWORD if any(k[:3] == p for k in KEYWORD_PREFIXES) else 0)
    for p in MONTH_PREFIXES | {k[:3] for k in KEYWORD_PREFIXES}
}
# ... as a table, one byte for each string of one to three lower-case letters, at the number
# that `_letters_part_flags` reads from the letters' codes (each letter's place in the alphabet
# as a digit to base 27, 0 for none: 27 * 27 for "a", 27 * 27 + 2 * 27 for "ab" ...): 1 for
# `_LEADS`, 2 for `_MAYBE_KEYWORD`. Reading a byte there costs a fraction of
# slicing the word and looking the slice up (hashing a new string). The other beginnings hold a
# symbol ("f&f"), which no word of letters and digits has.
assert all((p.isascii() and p.isalpha() and p.islower()) or not p.isalnum() for p in _PREFIX_FLAGS)


def _prefix_index(prefix: str) -> int:
    index = 0
    for k in range(3):
        index = index * 27 + (ord(prefix[k]) - 0x60 if k < len(prefix) else 0)
    return index


_PREFIX_CODE_AT: Final = {
    _prefix_index(p): (1 if f & _LEADS else 0) | (2 if f & _MAYBE_KEYWORD else 0)
    for p, f in _PREFIX_FLAGS.items()
    if p.isalpha()
}
_PREFIX_CODES: Final = bytes(_PREFIX_CODE_AT.get(i, 0) for i in range(27 * 27 * 27))


def _letters_part_flags(word: str, seen: int) -> int:
    # The flags an ASCII word of letters and digits gets from a part of it: a month or a channel
    # name's first letters, a spelled dot, "www", a long compound number word (`seen`: what
    # `_word_entry` saw in it).
    flags = 0
    n = len(word)
    c0 = ord(word[0]) - 0x60
    if 1 <= c0 <= 26:
        index = c0 * 729
        if n > 1:
            c1 = ord(word[1]) - 0x60
            index = index + c1 * 27 if 1 <= c1 <= 26 else -1
            if n > 2 and index >= 0:
                c2 = ord(word[2]) - 0x60
                index = index + c2 if 1 <= c2 <= 26 else -1
        if index >= 0:
            code = _PREFIX_CODES[index]
            if code & 1:
                flags = _LEADS
            if code & 2 and word[:4] in KEYWORD_PREFIXES:
                flags |= _KEYWORD_PREFIX
    if seen & _SEEN_NT_OT and ("dot" in word or "punt" in word or "point" in word):
        flags |= _DOTTED
    if seen & _SEEN_WW and "www" in word:
        flags |= _WWW
    if n > 9 and ("und" in word or word.startswith("veinti")):
        flags |= _SPOKEN | _NUMBER_TOKEN  # (a compound: see `_may_be_number_word`)
    return flags


def _word_flags_in_general(word: str) -> int:
    """`_word_flags` of any word, worked out the long way (the reference for the fast paths)."""
    flags = _LISTED_FLAGS.get(word, 0)
    if len(word) == 1:
        flags |= _SINGLE
    if word[:4] in KEYWORD_PREFIXES:
        flags |= _KEYWORD_PREFIX
    elif not (word.isascii() and word.isalnum()):
        # A name glued to a symbol ("#whatsapp", "📱telegram") starts a run of its own.
        for run in _NAME_RUN.findall(word):
            if run[:4] in KEYWORD_PREFIXES:
                flags |= _KEYWORD_PREFIX
    if not word.isalpha():  # (all letters: no digit, symbol or mix)
        if not word.isdigit():
            flags |= _MIXED
        if _ASCII_DIGIT.search(word) is not None:
            flags |= _HAS_DIGIT
        if "@" in word or "$" in word or "&" in word:
            flags |= _SIGNAL
        if not word.isalnum():
            flags |= _NOT_ALNUM
    if "dot" in word or "punt" in word or "point" in word:
        flags |= _DOTTED
    if "www" in word:
        flags |= _WWW
    if _may_be_number_word(word):
        flags |= _SPOKEN  # also German "funfundfunfzig", Spanish "veinticinco"
    for token in (word,) if word.isascii() and word.isalnum() else _TOKEN.findall(word):
        if token in SOLICIT_WORDS:
            flags |= _SOLICIT | _TRIGGER  # ("#text me": find_solicitation looks at tokens)
        if token in ID_TOKENS:
            flags |= _ID_TOKEN
        if token in NEGATION_WORDS:
            flags |= _NEGATION
        if token in REFUSAL_WORDS:
            flags |= _REFUSAL
        if _may_be_number_word(token):
            flags |= _NUMBER_TOKEN
        if (
            token in LEADING_WORDS or token[:3] in MONTH_PREFIXES  # what traps.leads says of
            if token.isalpha()  # a token of letters, without the call
            else leads(token)
        ):
            flags |= _LEADS
    return flags


def _may_be_number_word(token: str) -> bool:
    # wordnums.is_number_word, or longer than nine letters with what a compound has
    return token in NUMBER_WORDS or (
        len(token) > 9 and ("und" in token or token.startswith("veinti"))
    )


# Flags of the words seen so far: a plain dict (a dict subclass with __missing__ would be read
# through the generic item lookup, several times slower once compiled).
_flag_cache: Final[dict[str, int]] = {}


# Above the flags, each cached word also keeps how many ASCII digits it has: a text's digits all
# lie inside its words (digits separate no words), so its count comes with its flags, from the
# same lookups, instead of from a pass over the text.
_DIGITS_SHIFT: Final = 24
_FLAG_BITS: Final = (1 << _DIGITS_SHIFT) - 1
assert _NUMBER_TOKEN < 1 << _DIGITS_SHIFT


def _flags_and_digits(words: list[str], ascii_text: bool = False) -> tuple[int, int]:
    """The flags of a text's words, or-ed, and how many ASCII digits the text has
    (`ascii_text`: the text is ASCII; `_word_entry` finds out for each new word itself)."""
    flags = 0
    digits = 0
    for word in words:
        cached = _flag_cache.get(word)
        if cached is None:
            # (Worked out as a native int and boxed once, to be kept.)
            entry = _word_entry(word)
            remember(_flag_cache, word, entry, 50_000)
        else:
            entry = cached
        flags |= entry
        digits += entry >> _DIGITS_SHIFT
    return flags & _FLAG_BITS, digits


def _single_characters(words: list[str]) -> int:
    """How many distinct one-character words there are ("a a" has one), counted up to three:
    all the scan asks is whether there are fewer than two, or three. (Two strings kept and
    compared instead of a set built for the count.)"""
    first = second = ""
    for word in words:
        if len(word) == 1 and word != first and word != second:
            if not first:
                first = word
            elif not second:
                second = word
            else:
                return 3
    return 2 if second else 1 if first else 0


def _digit_count(text: str) -> int:
    """ASCII digits in `text` (UTF-8 never encodes anything else with those bytes)."""
    # A byte 1 for each digit, 0 for the rest, then counted: a translate by table, which the
    # compiled code calls directly, where deleting bytes is a generic call that builds its
    # table of deletions each time.
    return text.encode("utf-8", "surrogatepass").translate(_DIGIT_MARKS).count(1)


def _plain(original: str, text: str) -> bool:
    """True for a message nothing could fire on: ASCII, no digits, no @/$/brackets, no link-like
    dot, no single letters to join, no trigger word. Most everyday messages; a few tests
    instead of running every detector. The caller has checked the words (`_NOT_PLAIN`, and
    fewer than two single letters).
    """
    if not original.isascii() or "[" in text or "(" in text or "{" in text or "<" in text:
        return False  # (@, $ and & are inside words: _SIGNAL covers them)
    return " at " not in text and not may_hold_url(text)


class _Span(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def _inside(pos: int, hits: Sequence[_Span]) -> bool:
    return any(h.start <= pos < h.end for h in hits)


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


def _disguised(view: NormText, original: str) -> Callable[[int, int], bool] | None:
    """Whether view[a:b] was typed as something other than ASCII (fullwidth digits ...); None
    when the view is the original, lower-cased."""
    if view.starts is None or view.ends is None:
        return None
    starts, ends = view.starts, view.ends

    def check(a: int, b: int) -> bool:
        return not original[starts[a] : ends[b - 1]].isascii()

    return check


def _respaced(clean: NormText, original: str) -> Callable[[int, int], bool] | None:
    """Whether clean[a:b] was typed spaced out ("w h a t s") or with non-ASCII look-alikes
    (None: the view is the original, lower-cased)."""
    if clean.starts is None or clean.ends is None:
        return None
    starts, ends = clean.starts, clean.ends

    def check(a: int, b: int) -> bool:
        if b - a <= 0:
            return False
        if ends[b - 1] - starts[a] > b - a:
            return True  # characters were removed between the letters
        return not original[starts[a] : ends[b - 1]].isascii()

    return check
