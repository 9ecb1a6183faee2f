"""Text normalisation for the shield, with an offset map back to the original text.

Two views are built:

- `normalize`: Unicode folded to plain lower-case ASCII where it can be (NFKC, case folding,
  accents stripped, Cyrillic/Greek look-alikes mapped to Latin, decimal digits of every script
  to 0-9, keycap and circled digits to digits, zero-width and other invisible characters
  dropped). Number and trap detection run on this view.
- `deobfuscate`: the normalised view with spelled-out punctuation and spaced-out letters undone
  ("john [at] gmail (dot) com" -> "john@gmail.com", "w h a t s a p p" -> "whatsapp").
  Keyword, e-mail and URL detection run on this view.

Every character of a view remembers the original span it came from, so findings point into the
text the user typed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from tradetalk.protection.matching import matches

__all__ = ["NormText", "clear_caches", "deobfuscate", "leet_skeleton", "normalize"]


class NormText:
    """A normalised view of a text and, per character, the original span it came from.

    (A plain class with slots: one or two per message, cheaper than a NamedTuple.)
    """

    __slots__ = ("ends", "starts", "text")

    def __init__(
        self,
        text: str,
        starts: tuple[int, ...] | None = None,
        ends: tuple[int, ...] | None = None,
    ) -> None:
        self.text = text
        # starts[i]/ends[i]: original span of text[i]; None: text maps 1:1 onto the original.
        self.starts = starts
        self.ends = ends

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NormText) and (
            self.text == other.text and self.starts == other.starts and self.ends == other.ends
        )

    def __hash__(self) -> int:
        return hash((self.text, self.starts, self.ends))

    def __repr__(self) -> str:
        return f"NormText({self.text!r}, {self.starts!r}, {self.ends!r})"

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) of the view's text[start:end]."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else self._tail()
            return pos, pos
        return self.starts[start], self.ends[end - 1]

    def _tail(self) -> int:
        return self.ends[-1] if self.ends else 0


# Characters that only hide things: zero-width spaces and joiners, soft hyphen, word joiner,
# BOM, Mongolian vowel separator, combining grapheme joiner. Categories Cf/Mn/Me (format
# characters, combining marks such as the keycap U+20E3 and variation selectors) go too.
_DROP_CATEGORIES: Final = frozenset({"Cf", "Mn", "Me"})

# Look-alike letters from other scripts that NFKC leaves alone (Cyrillic, Greek, IPA).
_CONFUSABLES: Final[dict[str, str]] = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ɡ": "g", "ʏ": "y", "ı": "i", "ο": "o", "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ℓ": "l", "ɩ": "i", "ӏ": "l",
    # small capitals, which NFKC keeps as letters of their own
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ғ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ǫ": "q", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
}  # fmt: skip

_SPECIAL: Final[dict[str, str]] = {
    "\U0001f51f": "10",  # keycap ten
    "\u2028": "\n",
    "\u2029": "\n",
}


class _Folds(dict[int, str]):
    """The folded form of each character, by code point, worked out the first time the
    character is seen."""

    def __missing__(self, code: int) -> str:
        folded = chr(code).lower() if code < 128 else _fold_char(chr(code))
        if len(self) < 20_000:
            self[code] = folded
        return folded


_folds: Final = _Folds()


def clear_caches() -> None:
    """Forget folded characters (for cold-cache benchmarks)."""
    _folds.clear()


# unicodedata's functions taken once: compiled, `unicodedata.category(c)` looks the name up on
# the module at every call (some 200 instructions), and a new non-ASCII character makes up to
# five such calls.
_category: Final = unicodedata.category
_unicode_normalize: Final = unicodedata.normalize
_digit_value: Final = unicodedata.digit


def _fold_char(c: str) -> str:
    if c in _SPECIAL:
        return _SPECIAL[c]
    if c == "\n" or c == "\t":
        return " " if c == "\t" else "\n"
    cat = _category(c)
    if cat in _DROP_CATEGORIES:
        return ""
    if c.isspace():
        return " "
    out: list[str] = []
    folded = _unicode_normalize("NFKC", c).casefold()
    for ch in _unicode_normalize("NFKD", folded):
        if ch.isascii():
            out.append(ch)
            continue
        if _category(ch) in _DROP_CATEGORIES:
            continue  # accents left over after decomposition
        digit = _digit_value(ch, None)
        if digit is not None:
            out.append(str(digit))  # Arabic-Indic, Devanagari, dingbat circled digits ...
            continue
        if 0x1F1E6 <= ord(ch) <= 0x1F1FF:
            out.append(chr(ord(ch) - 0x1F1E6 + ord("a")))  # regional indicator letters
            continue
        out.append(_CONFUSABLES.get(ch, ch))
    return "".join(out)


# 0, 1, 2, ...: the offset maps of a view that is its original (character i came from i) are
# slices of it, copied in C, where building them with tuple(range(n)) makes an int at a time.
_COUNT: Final = tuple(range(4097))


def _identity(start: int, stop: int) -> tuple[int, ...]:
    """tuple(range(start, stop))."""
    if stop < len(_COUNT):
        return _COUNT[start:stop]
    return tuple(range(start, stop))


def normalize(text: str) -> NormText:
    """Fold `text` to the comparable lower-case view (see module doc) with its offset map."""
    if text.isascii():
        # The common case: lower() keeps length, so offsets are the identity.
        return NormText(text.lower())
    # Most such texts are ASCII but for a few characters (accents, fullwidth digits, look-alike
    # letters): the ASCII between them is lower-cased as a whole, and only the others are
    # looked up one by one (a translate by table would look up every character). While each
    # folds to one character, character i of the view is character i of the text.
    # (The characters are walked by their codes, which the compiled module reads without
    # making a string: a regular expression's search for them costs its setup, a call per run
    # and a match object each.)
    pieces: list[str] = []
    pos = 0
    n = len(text)
    for i in range(n):
        code = ord(text[i])
        if code < 128:
            continue
        if pos < i:
            pieces.append(text[pos:i].lower())
        folded = _folds[code]
        if len(folded) != 1:
            return _normalize_by_character(text)
        pieces.append(folded)
        pos = i + 1
    pieces.append(text[pos:].lower())
    return NormText("".join(pieces), _identity(0, n), _identity(1, n + 1))


def _normalize_by_character(text: str) -> NormText:
    folds = _folds
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, c in enumerate(text):
        mapped = folds[ord(c)]
        if not mapped:
            if ends:
                ends[-1] = i + 1  # a hidden character belongs to the visible one before it
            continue
        for m in mapped:
            chars.append(m)
            starts.append(i)
            ends.append(i + 1)
    return NormText("".join(chars), tuple(starts), tuple(ends))


def apply_edits(nt: NormText, edits: list[tuple[int, int, str]]) -> NormText:
    """Replace spans of `nt.text`; replacement characters map to the whole replaced span."""
    if not edits:
        return nt
    n = len(nt.text)
    starts = nt.starts if nt.starts is not None else _identity(0, n)
    ends = nt.ends if nt.ends is not None else _identity(1, n + 1)
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for a, b, repl in sorted(edits):
        if a < pos:
            continue  # overlapping edit: the first one wins
        out.append(nt.text[pos:a])
        new_starts.extend(starts[pos:a])
        new_ends.extend(ends[pos:a])
        if repl:
            s0, e0 = starts[a], ends[b - 1]
            out.append(repl)
            new_starts.extend([s0] * len(repl))
            new_ends.extend([e0] * len(repl))
        pos = b
    out.append(nt.text[pos:])
    new_starts.extend(starts[pos:])
    new_ends.extend(ends[pos:])
    return NormText("".join(out), tuple(new_starts), tuple(new_ends))


_TLD_WORDS: Final = (
    r"com|net|org|io|co|me|us|uk|ca|de|fr|es|it|nl|au|in|ru|info|biz|ly|gg|app|shop|store|xyz"
)
# "[at]", "(dot)", "{at}", "<dot>", "[.]", "(@)" and the words for them in es/fr/de, with the
# spaces around them (see `_bracketed_edits`).
_BRACKETED: Final = re.compile(
    r"[\(\[\{<]\s*(at|dot|arroba|punto|point|punkt|@|\.)\s*[\)\]\}>]\s*",
)
# A spoken "dot" only counts before something that reads as a TLD: "polka dot dress" stays.
# (The word must start a word: `_spoken_dot_edits` checks that, and takes the spaces before it.)
_SPOKEN_DOT: Final = re.compile(rf"(?:dot|punto|point|punkt)\s*(?=(?:{_TLD_WORDS})\b)")
# ... and inside the name of a spoken address: "mike dot t at yahoo". (The space after the
# letter or digit first, then the letter or digit behind it: `\s+` is `\s\s*`.)
_SPOKEN_LOCAL_DOT: Final = re.compile(
    r"\s(?<=[a-z0-9]\s)\s*(?:dot|punto|point|punkt)\s+(?=[a-z0-9][a-z0-9_\-]*\s+(?:at|arroba)\s)"
)
# Three or more single letters or digits separated the same way: "w h a t s", "g-m-a-i-l",
# "(?<![a-z0-9])[a-z0-9](?:[ .\-_*|/~+]{1,3}[a-z0-9](?![a-z0-9])){3,}". Written from the first
# separator on, with the letter or digit before it (and what does not stand before that) looked
# behind for: the engine then tries it only at separators, not at every letter. A match starts
# one character after the run it stands for (`deobfuscate` steps back); none is lost, since no
# run ends where another could start. (`deobfuscate` finds its matches with `_spaced_runs`, a
# walk over the characters; the expression stays as what that walk is tested against.)
_SPACED: Final = re.compile(
    r"[ .\-_*|/~+](?<=[a-z0-9].)(?<![a-z0-9]..)[ .\-_*|/~+]{0,2}[a-z0-9](?![a-z0-9])"
    r"(?:[ .\-_*|/~+]{1,3}[a-z0-9](?![a-z0-9])){2,}"
)
_SPACED_SEP: Final = re.compile(r"[ .\-_*|/~+]{1,3}")

# Every expression above starts with a character (or a set of them) that the regular expression
# engine scans for in one tight loop, trying the rest only there; an expression that starts with
# "\s*", "\b" or a look-behind is tried at every position instead, several times the cost on
# the short texts the shield sees. What the old leading parts did, the code around them does.


def _bracketed_edits(text: str, edits: list[tuple[int, int, str]]) -> None:
    r"""The edits for "[at]", "(dot)" ..., each with the spaces before it: the matches of
    r"\s*" + `_BRACKETED`, which start at the first of the spaces before the bracket that the
    previous match left."""
    floor = 0
    for m in matches(_BRACKETED, text):
        start = m.start()
        while start > floor and text[start - 1].isspace():
            start -= 1
        floor = m.end()
        word = m.group(1)
        edits.append((start, floor, "@" if word in ("at", "arroba", "@") else "."))


def _spoken_dot_edits(text: str, edits: list[tuple[int, int, str]]) -> None:
    r"""The edits for a spoken dot before a TLD: the matches of r"\s*\b" + `_SPOKEN_DOT`.

    A match whose word does not start a word ("polkadot com") is passed over; no other match
    can start inside it (no spoken dot starts inside another, or inside the spaces before a
    TLD), so the matches kept are the ones the longer expression finds.
    """
    floor = 0
    for m in matches(_SPOKEN_DOT, text):
        start = m.start()
        if start > 0 and _is_word_char(text[start - 1]):
            continue
        while start > floor and text[start - 1].isspace():
            start -= 1
        floor = m.end()
        edits.append((start, floor, "."))


_SEPARATORS: Final = " .-_*|/~+"  # what `_SPACED` lets stand between the letters


def _separator_runs(text: str, start: int, end: int) -> list[int]:
    """Start and end of each run of separators in the `_SPACED` match text[start:end], flat:
    the matches of `_SPACED_SEP` there, found without a regular expression search per run
    (the match is one letter or digit, then separators and a letter or digit, again and again,
    and a run never has more than the three separators `_SPACED_SEP` takes at a time)."""
    runs: list[int] = []
    i = start + 1  # past the first letter or digit
    while i < end:
        j = i + 1
        while text[j] in _SEPARATORS:
            j += 1
        runs.append(i)
        runs.append(j)
        i = j + 1  # past the letter or digit that ends the run
    return runs


def _spaced_runs(text: str) -> list[int]:
    """Start and end of each `_SPACED` match, flat, each from its first letter or digit (one
    character before the match): the runs of one letter or digit, then three or more times one
    to three separators and a letter or digit that no letter or digit follows, found walking
    the text's characters by their codes.

    The search, its first character a set of separators, stops at every space and tries its
    look-behinds and repetitions there (some 9,000 instructions on the texts it runs on); a
    run has one way to match, so the walk is simple: from a letter or digit that stands alone,
    take separator runs and lone letters or digits while they come, and keep the run if it
    took three. A run ends where no lone letter or digit follows a separator run, and no run
    can start inside one that matched, so the walk goes on where a match ends, as the search
    does (and at the next character after a failed try).
    """
    runs: list[int] = []
    n = len(text)
    i = 0
    while i < n:
        c = ord(text[i])
        i += 1
        if not (97 <= c <= 122 or 48 <= c <= 57):  # (not [a-z0-9])
            continue
        # text[i - 1] starts a word of letters and digits (the walk passes over the rest of
        # each word): a run starts there if the word is that one character.
        if i < n:
            c = ord(text[i])
            if 97 <= c <= 122 or 48 <= c <= 57:
                i += 1
                while i < n:
                    c = ord(text[i])
                    if not (97 <= c <= 122 or 48 <= c <= 57):
                        break
                    i += 1
                continue
        # Count the separator runs and lone letters or digits that follow.
        taken = 0
        end = i
        while True:
            seps = 0
            while end + seps < n and seps < 4 and _is_spaced_separator(ord(text[end + seps])):
                seps += 1
            after = end + seps + 1  # (past the letter or digit after the separators)
            if seps == 0 or seps > 3 or after > n:
                break
            c = ord(text[after - 1])
            if not (97 <= c <= 122 or 48 <= c <= 57):
                break
            if after < n:
                c = ord(text[after])
                if 97 <= c <= 122 or 48 <= c <= 57:
                    break  # (a longer word, no lone letter or digit)
            taken += 1
            end = after
        if taken >= 3:
            runs.append(i - 1)
            runs.append(end)
            i = end
        # (Else the walk goes on at the separator after the letter or digit.)
    return runs


def _is_spaced_separator(c: int) -> bool:
    """Whether chr(c) is one of `_SEPARATORS`."""
    return (
        c == 32
        or c == 46
        or c == 45
        or c == 95
        or c == 42
        or c == 124
        or c == 47
        or c == 126
        or c == 43
    )


def _is_word_char(c: str) -> bool:
    # What r"\w" matches in a str pattern: alphanumeric (str.isalnum) or "_".
    return c.isalnum() or c == "_"


def deobfuscate(nt: NormText, maybe_spaced: bool = True) -> NormText:
    """Undo spelled-out "at"/"dot" and spaced-out letters in a normalised view.

    `maybe_spaced=False` (the caller saw no run of one-character words) skips the spacing pass.
    """
    text = nt.text
    edits: list[tuple[int, int, str]] = []
    if "(" in text or "[" in text or "{" in text or "<" in text:
        _bracketed_edits(text, edits)
    if "dot" in text or "punt" in text or "point" in text:
        _spoken_dot_edits(text, edits)
        for m in matches(_SPOKEN_LOCAL_DOT, text):
            edits.append((m.start(), m.end(), "."))
    if edits:
        nt = apply_edits(nt, edits)
        text = nt.text
        edits = []
    if maybe_spaced:
        runs = _spaced_runs(text)
        for r in range(0, len(runs), 2):
            seps = _separator_runs(text, runs[r], runs[r + 1])
            dominant = text[seps[0] : seps[1]]
            for k in range(0, len(seps), 2):
                a, b = seps[k], seps[k + 1]
                sep = text[a:b]
                if sep == dominant:
                    edits.append((a, b, ""))
                elif sep.strip() in (".", "@"):
                    edits.append((a, b, sep.strip()))
        nt = apply_edits(nt, edits)
    return nt


_LEET: Final = str.maketrans({"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "|": "i", "l": "i",
                       "0": "o", "5": "s", "$": "s", "7": "t", "9": "g", "8": "b"})  # fmt: skip


def leet_skeleton(word: str) -> str:
    """Map leetspeak to a letter skeleton; 1, l and i all become i ("te1egram" ~ "telegram")."""
    return word.translate(_LEET)
