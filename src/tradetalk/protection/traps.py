"""Numbers that look like contact details but are not: the shield's traps.

Each pattern marks a span of the normalised text whose digits must never join a phone-number
candidate: prices, weights and measures, dates and times, coin grades and mint marks, and ids
that follow a naming word (order, listing, cert, SKU ...). Tracking numbers are handled by
`tracking.py`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection
from typing import Final

from tradetalk.protection.memo import remember
from tradetalk.protection.trie import trie_pattern

__all__ = [
    "ID_TOKENS",
    "LEADING_WORDS",
    "MONTH_PREFIXES",
    "PHONE_CUE",
    "PHONE_CUE_WORDS",
    "TRACKING_CONTEXT",
    "TRACKING_WORDS",
    "clear_caches",
    "leads",
    "trap_spans",
]

_MONTHS: Final = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Units that are also words ("in", "g", "m", "s") only count when glued to the number or after a
# short number, so "call 415 555 0199 in the evening" keeps its last group.
_UNITS_SAFE: Final = (
    r"oz|ozt|troy\s?oz|grams?|gr|kg|kilos?|lbs?|pounds?|inch(?:es)?|cm|mm|ft|feet|gb|tb|mb|mah|"
    r"ghz|mhz|hz|ml|ct|kt|karat|carat|mph|hp|cc|pcs|pieces?|pc|watts?|volts?|years?|yrs?|"
    r"days?|weeks?|months?|hours?|hrs?|mins?|minutes?|coins?|bars?|rounds?|pairs?|sets?|units?|"
    r"items?|packs?|boxes|cards?|%"
)
_UNITS_SHORT: Final = r"in|g|m|s|w|v|k|l|x|th|st|nd|rd|p|d"

# Digits are written [0-9], not \d: the patterns run on the normalised view, where every
# decimal digit of any script is already 0-9 (`normalize`; tests/protection/test_normalize.py
# checks every code point), and the engine tests a range in a few instructions where \d asks
# the Unicode database about each character (the digit-led search took twice as long).
# Patterns that start at a number. Each is written for what follows its first digit, so the
# whole expression starts with a plain digit class: the regex engine then skips straight from
# digit to digit instead of trying every branch at every position (several times faster).
# A digit that starts a run of digits (not one inside a number or a word, nor a decimal's).
_RUN_START: Final = r"[0-9](?<![0-9a-z.,][0-9])"
_DIGIT_LED_ALTERNATIVES: Final = "|".join(
    (
        # dates and times: "12/25/2024", "2024-03-15", "15.03.2024", "3:30 pm", "10am"
        r"[0-9]?/[0-9]{1,2}/[0-9]{2,4}\b",
        r"[0-9]{3}[-/.][0-9]{1,2}[-/.][0-9]{1,2}\b",
        r"[0-9]?[-.][0-9]{1,2}[-.][0-9]{4}\b",
        r"[0-9]?:[0-9]{2}(?::[0-9]{2})?(?:\s?[ap]\.?m\b\.?)?",
        r"[0-9]?\s?[ap]\.?m\b\.?",
        rf"[0-9]?(?:st|nd|rd|th)?\s(?:of\s)?{_MONTHS}(?:,?\s[0-9]{{4}})?",
        # money: "1250 usd", "45 bucks"
        r"[0-9,]*+(?:\.[0-9]++)?+\s?+(?=[a-z])(?:usd|eur|gbp|cad|aud|dollars?|bucks|euros?|"
        r"cents?|quid|dlls?|pesos?)\b",
        # measures: "2 oz", "1/10 oz", "31.1 g", "12 x 8 x 4 in"
        # (possessive quantifiers and a letter look-ahead keep a plain number from being
        # re-tried against every unit name)
        r"[0-9]*+(?:\.[0-9]++)?+\s?+(?:x|by|×)\s?[0-9]+(?:\.[0-9]+)?(?:\s?(?:x|by|×)\s?[0-9]+(?:\.[0-9]+)?)?",
        rf"[0-9]*+(?:[.,][0-9]++)?+(?:\s?/\s?[0-9]++)?+\s?+(?=[a-z%])(?:{_UNITS_SAFE})(?![a-z])",
        rf"[0-9]{{0,2}}+(?:[.,][0-9]++)?+(?:/[0-9]++)?+\s?+(?=[a-z])(?:{_UNITS_SHORT})\b",
        # thousands and plain decimals: "1,250,000", "0.999", "10.5"
        r"[0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]+)?\b",
        r"[0-9]{0,3}\.[0-9]{1,3}(?![.0-9])",
    )
)
_DIGIT_LED: Final = re.compile(rf"{_RUN_START}(?:{_DIGIT_LED_ALTERNATIVES})")
# What every `_DIGIT_LED` match has right after the run of digits it starts with: "-" after
# one, two or four digits (dates), ":" after one or two (times), or one of /.,%× or a letter,
# maybe after one space (fractions, decimals, thousands, units, dimensions, am/pm, months).
# Most numbers in a message, a phone number's groups among them, have none of these; this
# cheap test (three short branches instead of a dozen long ones) lets them skip the rest.
_AFTER_FIRST_DIGIT: Final = r"[0-9]?[-:]|[0-9]{3}-|[0-9]*+(?:[/.,%×a-z]|\s[a-z/%×])"
_DIGIT_LED_HINT: Final = re.compile(rf"{_RUN_START}(?:{_AFTER_FIRST_DIGIT})")
# `_DIGIT_LED` with the hint as a look-ahead after its first digit: the same matches (the hint
# holds wherever `_DIGIT_LED` matches), with the dozen alternatives tried only where it holds,
# all in one search.
_DIGIT_LED_HINTED: Final = re.compile(
    rf"{_RUN_START}(?={_AFTER_FIRST_DIGIT})(?:{_DIGIT_LED_ALTERNATIVES})"
)
# Patterns led by a symbol or word: "$1,250.00", "March 4", "size 10.5", "iPhone 15", "MS-65".
# The engine cannot skip ahead to the first letter of a many-word alternation, so it tries
# every word at every position; a look-behind that fails inside words cuts that to one test
# per position (six times faster). `_word_start` still has the last word on non-ASCII text.
_WORD_LED: Final = re.compile(
    r"[$€£¥]\s?[0-9][0-9,]*(?:\.[0-9]+)?(?:\s?(?:k|m)\b)?|(?<![a-z0-9])(?:"
    + "|".join(
        (
            rf"{_MONTHS}\s[0-9]{{1,2}}(?:st|nd|rd|th)?(?:,?\s[0-9]{{4}})?",
            r"(?:size|sz|qty|quantity|lot\sof|set\sof|pack\sof|box\sof|roll\sof|tube\sof|"
            r"us|uk|eu|mens|womens)\s?[0-9]{1,3}(?:\.[0-9]+)?\b",
            r"(?:gen|series|version|ver|iphone|galaxy|pixel|rtx|gtx|rx|ps|model)\s?[0-9]{1,4}\b",
            r"(?:ms|pf|pr|sp|au|xf|ef|vf|vg|ag|fr|po|psa|bgs|sgc|cgc|beckett|graded|grade)"
            r"[\s-]?[0-9]{1,2}(?:\.[0-9])?\b",
        )
    )
    + ")"
)


def _word_start(text: str, pos: int) -> bool:
    return pos == 0 or not text[pos - 1].isalnum() or not text[pos].isalpha()


_ID_WORDS: Final = (
    r"order|ord|listing|item|lot|receipt|invoice|inv|ref|reference|cert|certs|certificate|"
    r"certification|pcgs|ngc|psa|cgc|anacs|icg|bgs|sgc|sku|upc|ean|isbn|gtin|mpn|asin|serial|"
    r"s/n|sn|model|part|p/n|pn|tracking|track|trk|confirmation|conf|case|ticket|transaction|"
    r"txn|claim|rma|return|po|vin|label|awb|waybill|shipment|parcel|package|pkg|barcode|batch|"
    r"catalog|auction"
)
# An id named just before it: "order #112-3456789-1234567", "listing 48213379", "NGC 4567890-001".
# The id words as a trie that checks after their first letter that they start a word: the engine
# skips ahead to the letters id words start with instead of trying sixty words at every
# position. (A word ends at "\b", so at most one of them matches at a place: the trie, which
# tries them in another order, finds the same.)
_ID_RE: Final = re.compile(
    trie_pattern(_ID_WORDS.split("|"), after_first="(?<![a-z0-9].)")
    + r"\b(?:\s*(?:#|no\b\.?|nr\b\.?|num\b\.?|number|code|is|was|:|=|-|\.)\s*)*"
    r"\s*([0-9][0-9\-/]*[0-9]|[0-9])"
)


# Words that say a number is a shipment's.
TRACKING_CONTEXT: Final = re.compile(
    r"\b(?:tracking|track|trk|tracked|shipped|ship|shipping|shipment|label|ups|usps|fedex|dhl|"
    r"dpd|canada\spost|canpar|purolator|ontrac|lasership|royal\smail|yodel|evri|hermes|gofo|"
    r"amazon|courier|parcel|package|delivery|delivered|postage|priority\smail|first\sclass|"
    r"waybill|awb|speedee|spee-dee|old\sdominion|odfl|yunexpress|landmark|s10|carrier)\b"
)

# Words that say a number is a phone number.
PHONE_CUE: Final = re.compile(
    r"\b(?:call|calls|text|texts|txt|phone|cell|cellphone|mobile|mob|number|num|tel|telephone|"
    r"sms|whats\s?app|whatsapp|wa|reach|contact|ring|digits|hmu|signal|telegram|viber|imessage|"
    r"facetime|nummer|numero|telefono|telefon|movil|celular|handy|portable|llamame|appelle)\b"
)


def _first_words(pattern: re.Pattern[str]) -> frozenset[str]:
    # The words an expression of "\b(?:a|b\sc|...)\b" alternatives can start with, so a set
    # lookup on the message's words can rule the expression out.
    body = pattern.pattern.split("(?:", 1)[1].rsplit(")", 1)[0]
    return frozenset(re.split(r"\\s\??|\\s", alt)[0] for alt in body.split("|"))


TRACKING_WORDS: Final = _first_words(TRACKING_CONTEXT) | {"spee"}
PHONE_CUE_WORDS: Final = _first_words(PHONE_CUE) | {"whats"}


# `_WORD_LED` and `_ID_RE` match only where a token (a run of [a-z0-9], as the phone finder
# splits the text) starts with one of their words: the id word itself ("order" then a
# non-word character), or a word the number is glued to or follows ("size10", "size 10",
# "ms-65", "march 4"). A text without such a token, which is most of them, is spared both
# expressions and their many alternatives tried at every word.
_TOKEN: Final = re.compile(r"[a-z0-9]+")
_LEADING_LETTERS: Final = re.compile(r"[a-z]*")
# The id words that are one token each; "s/n" and "p/n" are looked for as they are.
ID_TOKENS: Final = frozenset(w for w in _ID_WORDS.split("|") if "/" not in w)
# The tokens an id word starts with ("s/n", "p/n": "s", "p").
_ID_STARTS: Final = ID_TOKENS | {w.split("/")[0] for w in _ID_WORDS.split("|")}
# The words a `_WORD_LED` phrase starts with (months by their first three letters).
# fmt: off
MONTH_PREFIXES: Final = frozenset((
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
))
LEADING_WORDS: Final = frozenset((
    "size", "sz", "qty", "quantity", "lot", "set", "pack", "box", "roll", "tube", "us", "uk",
    "eu", "mens", "womens", "gen", "series", "version", "ver", "iphone", "galaxy", "pixel", "rtx",
    "gtx", "rx", "ps", "model", "ms", "pf", "pr", "sp", "au", "xf", "ef", "vf", "vg", "ag", "fr",
    "po", "psa", "bgs", "sgc", "cgc", "beckett", "graded", "grade",
))
# fmt: on


def leads(token: str) -> bool:
    """Whether a `_WORD_LED` word can start at `token` (a month, or a word digits follow)."""
    if token.isascii() and token.isalpha():
        lead = token
    elif "0" <= token[:1] <= "9":
        return False
    else:
        lead = _LEADING_LETTERS.match(token).group()  # type: ignore[union-attr]
    return lead in LEADING_WORDS or token[:3] in MONTH_PREFIXES


def _digit_led_spans(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """The spans `_DIGIT_LED.finditer(text, lo, hi)` gives, found with `_DIGIT_LED_HINTED`
    (the dozen alternatives skipped where the hint says they cannot match: most digits).

    A search of the expression stops at every digit (some 250 instructions each, a window
    holding a dozen or two); it can match only at the first digit of a run (`_RUN_START`)
    where the hint holds. The runs are found here character by character, and the expression
    tried at a run's first digit only where `_may_lead` says one of its alternatives can
    match there (a failed try costs some 7,000 instructions); after a match the walk goes on
    where the match ends, as the search does.
    """
    spans: list[tuple[int, int]] = []
    pos = lo
    while pos < hi:
        c = ord(text[pos])
        if c < 48 or c > 57:  # (not "0" to "9": `_is_ascii_digit` written out in this loop)
            pos += 1
            continue
        start = pos
        pos += 1
        while pos < hi and _is_ascii_digit(ord(text[pos])):
            pos += 1
        # text[start:pos] is a run of digits (within the window).
        if start > 0 and _continues_run(ord(text[start - 1])):
            continue  # (inside a number or a word, or a decimal's digits)
        if _may_lead(text, start, pos, hi):
            m = _digit_led_at(text, start, hi)
            if m is not None:
                spans.append(m.span())
                pos = m.end()
    return spans


def _is_ascii_digit(c: int) -> bool:
    return 48 <= c <= 57  # "0" to "9"


def _is_token_code(c: int) -> bool:
    return 97 <= c <= 122 or 48 <= c <= 57  # `_TOKEN`'s "a" to "z", "0" to "9"


def _matches_from_words(
    pattern: re.Pattern[str], text: str, lo: int, hi: int, word_led: bool
) -> list[re.Match[str]]:
    """`matches(pattern, text, lo, hi)` for `_WORD_LED` (`word_led`) or `_ID_RE`, the pattern
    tried only where a match can start.

    Both start a word where a token starts (their look-behinds) and take that token whole
    (the word ends at "\\b", and digits or a space must follow it): an id word is such a
    token ("s/n" and "p/n" start with the token "s" or "p"), a `_WORD_LED` word one that
    `leads`; `_WORD_LED` also starts at a currency sign. A search stops at every position,
    most of them letters; here the tokens are walked character by character and the
    expression matched only at those starts, going on after a match where the search would.
    """
    at = pattern.match
    found: list[re.Match[str]] = []
    pos = lo
    size = len(text)
    while pos < hi:
        c = ord(text[pos])
        if not (97 <= c <= 122 or 48 <= c <= 57):  # (not `_is_token_code`, written out here)
            if word_led and _is_currency(c) and (m := at(text, pos, hi)) is not None:
                found.append(m)
                pos = m.end()
            else:
                pos += 1
            continue
        end = pos + 1
        while end < size and _is_token_code(ord(text[end])):
            end += 1
        # A token starts here, with a letter: no id word and no word `leads` approves starts
        # with a digit, and the tokens of the windows around numbers are numbers as often.
        if c >= 97 and (pos == 0 or not _is_token_code(ord(text[pos - 1]))):
            token = text[pos:end]
            if leads(token) if word_led else token in _ID_STARTS:
                m = at(text, pos, hi)
                if m is not None:
                    found.append(m)
                    pos = m.end()
                    continue
        pos = end
    return found


def _is_currency(c: int) -> bool:
    """Whether chr(c) is one of the signs `_WORD_LED` starts with."""
    return c == ord("$") or c == ord("€") or c == ord("£") or c == ord("¥")


def _continues_run(c: int) -> bool:
    """Whether chr(c) may not come before the first digit of a run (`_RUN_START`'s
    look-behind: [0-9a-z.,])."""
    return _is_token_code(c) or c == ord(".") or c == ord(",")


# The words `_DIGIT_LED`'s letter-led alternatives need after a number, glued to it or after
# one whitespace: each alternative ends its word where no [a-z] follows ("\b", "(?![a-z])",
# "[a-z]*" for months, a digit or space after "x" and "by"), so the whole run of [a-z] there
# is one of these (tests/protection/test_traps_gate.py expands the expressions to check).
# After any number: money ("45 bucks"), dimensions ("12 x 8"), the safe units ("2 oz").
# fmt: off
_MONEY_WORDS: Final = frozenset((
    "usd", "eur", "gbp", "cad", "aud", "dollar", "dollars", "bucks", "euro", "euros", "cent",
    "cents", "quid", "dll", "dlls", "peso", "pesos",
))
_WORDS_AFTER_ANY: Final = _MONEY_WORDS | frozenset((
    "x", "by",
    "oz", "ozt", "troy", "troyoz", "gram", "grams", "gr", "kg", "kilo", "kilos", "lb", "lbs",
    "pound", "pounds", "inch", "inches", "cm", "mm", "ft", "feet", "gb", "tb", "mb", "mah",
    "ghz", "mhz", "hz", "ml", "ct", "kt", "karat", "carat", "mph", "hp", "cc", "pcs", "piece",
    "pieces", "pc", "watt", "watts", "volt", "volts", "year", "years", "yr", "yrs", "day",
    "days", "week", "weeks", "month", "months", "hour", "hours", "hr", "hrs", "min", "mins",
    "minute", "minutes", "coin", "coins", "bar", "bars", "round", "rounds", "pair", "pairs",
    "set", "sets", "unit", "units", "item", "items", "pack", "packs", "boxes", "card", "cards",
))
# After at most three digits ("[0-9]{0,2}+" after the first): the short units ("5 g", "4th").
_WORDS_AFTER_3: Final = frozenset((
    "in", "g", "m", "s", "w", "v", "k", "l", "x", "th", "st", "nd", "rd", "p", "d",
))
# After at most two digits ("[0-9]?" after the first): "3 pm", "3 a.m", "5th", "5 of may";
# and a month, found by its first three letters (MONTH_PREFIXES).
_WORDS_AFTER_2: Final = frozenset(("a", "p", "am", "pm", "st", "nd", "rd", "th", "of"))
# fmt: on
# The longest run of digits each word may follow (the lists above in one lookup).
_WORD_RUNS: Final[dict[str, int]] = {
    **dict.fromkeys(_WORDS_AFTER_2, 2),
    **dict.fromkeys(_WORDS_AFTER_3, 3),
    **dict.fromkeys(_WORDS_AFTER_ANY, sys.maxsize),
}


def _may_lead(text: str, start: int, end: int, hi: int) -> bool:
    """Whether one of `_DIGIT_LED`'s alternatives can match at `start`, the first digit of the
    run of digits text[start:end] (within the window ending at `hi`).

    A necessary condition read off the alternatives, cheap next to a failed try of them: each
    needs after the run a given character ("-" after one, two or four digits for dates, ":"
    after one or two for times, "/" or "." or "," before a digit for dates, fractions and
    decimals), or a word from the lists above, glued or after one whitespace, or "%" or the
    multiplication sign. Most numbers in a message, the groups of a phone number among them,
    are followed by a space and some other word, or by nothing.

    (Characters are compared by code, which the compiled module reads without making a string.)
    """
    if end >= hi:
        return False  # (every alternative needs a character after the run)
    n = end - start
    c = ord(text[end])
    c2 = ord(text[end + 1]) if end + 1 < hi else -1
    if _is_ascii_letter(c):
        return _word_may_follow(text, end, hi, n)
    if _is_space(c):
        if _is_ascii_letter(c2):
            return _word_may_follow(text, end + 1, hi, n)
        return c2 == ord("/") or c2 == ord("%") or c2 == ord("×")  # (fraction, unit, "by")
    if c == ord(".") or c == ord(":"):
        # decimals and dates ("10.5", "15.03.2024"), times ("3:30"): a digit follows
        return _is_ascii_digit(c2) and (c == ord(".") or n <= 2)
    if c == ord("-"):
        # dates only, "2024-03-15" (four digits) and "15-03-2024" (one or two): one or two
        # digits, then "-" or "." (or "/" after four), then a digit
        if not (n <= 2 or n == 4):
            return False
        pos = end + 1
        while pos < hi and pos <= end + 3 and _is_ascii_digit(ord(text[pos])):
            pos += 1
        if not (end + 2 <= pos <= end + 3 and pos + 1 < hi):
            return False
        sep = text[pos]
        return (sep == "-" or sep == "." or (n == 4 and sep == "/")) and _is_ascii_digit(
            ord(text[pos + 1])
        )
    if c == ord("/"):
        # dates and fractions: "12/25/2024", "1/10 oz", "1 / 2 oz"
        return _is_ascii_digit(c2) or _is_space(c2)
    if c == ord(","):
        if _is_ascii_digit(c2):
            return True  # thousands and decimals: "1,250", "31,1 g"
        # Only money takes a comma not before a digit: "[0-9,]*+" takes every digit and comma
        # ("1250,, usd"), then a decimal, one whitespace and the word.
        pos = end + 1
        while pos < hi and (text[pos] == "," or _is_ascii_digit(ord(text[pos]))):
            pos += 1
        if pos < hi and text[pos] == ".":
            return True  # (a decimal may follow: rare, the expression decides)
        if pos < hi and _is_space(ord(text[pos])):
            pos += 1
        return text[pos : _letters_end(text, pos, hi)] in _MONEY_WORDS
    return c == ord("%") or c == ord("×")


def _is_ascii_letter(c: int) -> bool:
    return 97 <= c <= 122  # "a" to "z"


def _is_space(c: int) -> bool:
    """Whether chr(c) is whitespace, as the expressions' "\\s" (str.isspace) has it."""
    if c < 128:
        return c == 32 or 9 <= c <= 13 or 28 <= c <= 31
    return chr(c).isspace()


def _letters_end(text: str, pos: int, hi: int) -> int:
    """Where the run of [a-z] at text[pos:hi] ends."""
    while pos < hi and _is_ascii_letter(ord(text[pos])):
        pos += 1
    return pos


def _word_may_follow(text: str, pos: int, hi: int, n: int) -> bool:
    """Whether the word at `pos` may end a `_DIGIT_LED` match led by a run of `n` digits."""
    end = _letters_end(text, pos, hi)
    if n <= _WORD_RUNS.get(text[pos:end], 0):
        return True
    return n <= 2 and end - pos >= 3 and text[pos : pos + 3] in MONTH_PREFIXES


# The bound method, taken once (see phones._chain_at).
_digit_led_at: Final = _DIGIT_LED_HINTED.match


def trap_spans(
    text: str,
    windows: list[tuple[int, int]] | None = None,
    tokens: Collection[str] | None = None,
    led: bool | None = None,
    named_id: bool | None = None,
) -> list[tuple[int, int]]:
    """Spans of `text` (normalised) holding prices, measures, dates, grades or named ids.

    With `windows`, only those stretches of the text are searched (around candidate numbers).
    `tokens`, the text's [a-z0-9] runs, may be given when the caller has them, `led`, whether
    `leads` holds for one of them, and `named_id`, whether one is in ID_TOKENS.
    """
    if tokens is None and (led is None or named_id is None):
        tokens = set(_TOKEN.findall(text))
    if led is None:
        assert tokens is not None
        led = any(map(leads, tokens))
    # In ASCII text the look-behinds already make every match start a word. (And it holds no
    # "€", "£" or "¥": str.isascii reads a flag, where each "in" reads the whole text.)
    ascii = text.isascii()
    word_led = led or "$" in text or (not ascii and ("€" in text or "£" in text or "¥" in text))
    if named_id is None:
        assert tokens is not None
        named_id = not ID_TOKENS.isdisjoint(tokens)
    # ("s/n" and "p/n" both hold "/n": one read of the text where neither is, most texts.)
    named_id = named_id or ("/n" in text and ("s/n" in text or "p/n" in text))
    spans: list[tuple[int, int]] = []
    for lo, hi in windows if windows is not None else [(0, len(text))]:
        # What the window's spans depend on: its text and the character before it (what the
        # look-behinds and `_word_start` see of the text before the window), or that it starts
        # the text, and the switches (see `_window_spans`).
        key = (lo == 0, word_led, named_id, ascii, text[lo - 1 if lo else 0 : hi])
        found = _window_spans.get(key)
        if found is None:
            found = _spans_in(text, lo, hi, word_led, named_id, ascii)
            remember(_window_spans, key, found, 10_000)
        spans += [(lo + a, lo + b) for a, b in found]
    return spans


# The spans of a window, from its start, kept by what they depend on: the windows are the
# stretches around numbers, and a message comes back with the same numbers (each new message
# is scanned with the last few before it, where its numbers were already seen).
_window_spans: Final[dict[tuple[bool, bool, bool, bool, str], tuple[tuple[int, int], ...]]] = {}


def clear_caches() -> None:
    """Forget the spans kept per window (for cold-cache benchmarks)."""
    _window_spans.clear()


def _spans_in(
    text: str, lo: int, hi: int, word_led: bool, named_id: bool, ascii: bool
) -> tuple[tuple[int, int], ...]:
    """The trap spans of text[lo:hi] (see `trap_spans`), counted from `lo`."""
    spans = _digit_led_spans(text, lo, hi)
    if word_led:
        spans += [
            m.span()
            for m in _matches_from_words(_WORD_LED, text, lo, hi, True)
            if ascii or _word_start(text, m.start())
        ]
    if named_id:
        spans += [
            m.span(1)
            for m in _matches_from_words(_ID_RE, text, lo, hi, False)
            if ascii or _word_start(text, m.start())
        ]
    return tuple([(a - lo, b - lo) for a, b in spans])
