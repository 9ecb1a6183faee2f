"""Spelled-out numbers ("four one five", "fifty-five", "double oh", "cuatro", "quatre", "vier").

Number-parsing libraries (word2number, text2num) turn a phrase into one quantity; a dictated phone
number is a sequence of digits and pairs ("four one five, fifty-five, double oh") that those
parse wrongly or reject, so the small grammar people use to dictate numbers is written here.
Words arrive already normalised: lower case, accents stripped ("fünf" -> "funf").
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "COMPOUND_PATTERN",
    "CONNECTORS",
    "NUMBER_WORDS",
    "is_number_word",
    "words_to_digits",
]

_UNITS: Final[dict[str, int]] = {
    # English ("oh" and "o" are the usual spoken zero)
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
    # Spanish
    "cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9,
    # French ("zero" shared with English once accents are gone)
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8,
    "neuf": 9,
    # German
    "null": 0, "eins": 1, "zwei": 2, "zwo": 2, "drei": 3, "vier": 4, "funf": 5, "fuenf": 5,
    "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
}  # fmt: skip

_TEENS: Final[dict[str, int]] = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19,
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16,
    "zehn": 10, "elf": 11, "zwolf": 12, "zwoelf": 12, "dreizehn": 13, "vierzehn": 14,
    "funfzehn": 15, "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19,
}  # fmt: skip

_TENS: Final[dict[str, int]] = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
    "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70,
    "ochenta": 80, "noventa": 90,
    "vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60,
    "septante": 70, "huitante": 80, "octante": 80, "nonante": 90,
    "zwanzig": 20, "dreissig": 30, "dreizig": 30, "vierzig": 40, "funfzig": 50, "sechzig": 60,
    "siebzig": 70, "achtzig": 80, "neunzig": 90,
}  # fmt: skip

_REPEAT: Final[dict[str, int]] = {
    "double": 2, "triple": 3, "doble": 2, "doppel": 2, "dreifach": 3,
}  # fmt: skip
_HUNDRED: Final = frozenset({"hundred", "cien", "ciento", "cent", "hundert"})
CONNECTORS: Final = frozenset({"and", "y", "et", "und"})

# German writes 21-99 as one word, units first ("funfundfunfzig" = 55); Spanish 21-29 likewise
# ("veinticinco").
_DE_UNIT: Final = "ein|eins|zwei|drei|vier|funf|fuenf|sechs|sieben|acht|neun"
_DE_TENS: Final = "zwanzig|dreissig|vierzig|funfzig|sechzig|siebzig|achtzig|neunzig"
_ES_UNIT: Final = "uno|un|dos|tres|cuatro|cinco|seis|siete|ocho|nueve"
_DE_COMPOUND: Final = re.compile(rf"({_DE_UNIT})und({_DE_TENS})")
_ES_VEINTI: Final = re.compile(rf"veinti({_ES_UNIT})")
# Either compound, for expressions that look for number words in running text.
COMPOUND_PATTERN: Final = rf"(?:{_DE_UNIT})und(?:{_DE_TENS})|veinti(?:{_ES_UNIT})"

NUMBER_WORDS: Final[frozenset[str]] = frozenset(
    set(_UNITS) | set(_TEENS) | set(_TENS) | set(_REPEAT) | _HUNDRED
)


def _compound(word: str) -> int | None:
    m = _DE_COMPOUND.fullmatch(word)
    if m:
        unit = 1 if m.group(1) in ("ein", "eins") else _UNITS[m.group(1)]
        return _TENS[m.group(2)] + unit
    m = _ES_VEINTI.fullmatch(word)
    if m:
        return 20 + (1 if m.group(1) == "un" else _UNITS[m.group(1)])
    return None


def is_number_word(word: str) -> bool:
    """True for a word that can stand for one or more digits when dictating a number."""
    if word in NUMBER_WORDS:
        return True
    return len(word) > 9 and _compound(word) is not None


def words_to_digits(words: list[str]) -> list[tuple[str, int, int]]:
    """Turn dictated number words into digit groups.

    Returns (digits, first_word_index, last_word_index_exclusive) per group, so the caller can
    map each group back to the words (and so to text offsets) it came from.
    """
    out: list[tuple[str, int, int]] = []
    i = 0
    n = len(words)

    def peek(j: int) -> str:
        # Skip one connector ("cincuenta y cinco", "vingt et un").
        if j < n and words[j] in CONNECTORS and j + 1 < n:
            return words[j + 1]
        return words[j] if j < n else ""

    def skip(j: int) -> int:
        return j + 2 if j < n and words[j] in CONNECTORS and j + 1 < n else j + 1

    while i < n:
        w = words[i]
        start = i
        if w in CONNECTORS:
            i += 1
            continue
        if w in _REPEAT:
            nxt = words[i + 1] if i + 1 < n else ""
            if nxt in _UNITS:
                out.append((str(_UNITS[nxt]) * _REPEAT[w], start, i + 2))
                i += 2
            elif nxt.isdigit() and len(nxt) == 1:
                out.append((nxt * _REPEAT[w], start, i + 2))
                i += 2
            else:
                i += 1
            continue
        if w in _UNITS:
            unit = _UNITS[w]
            nxt = words[i + 1] if i + 1 < n else ""
            if unit == 4 and nxt in ("vingt", "vingts"):
                # French "quatre-vingt(-dix)": 80 (+ teen or unit)
                value, i = _tens_tail(80, words, i + 2)
                out.append((str(value), start, i))
                continue
            if nxt in _HUNDRED:
                value = unit * 100
                i += 2
                nxt2 = peek(i)
                if nxt2 in _TENS:
                    tail, i = _tens_tail(_TENS[nxt2], words, skip(i))
                    value += tail
                elif nxt2 in _TEENS:
                    value += _TEENS[nxt2]
                    i = skip(i)
                elif nxt2 in _UNITS and nxt2 not in ("o", "oh"):
                    value += _UNITS[nxt2]
                    i = skip(i)
                out.append((str(value), start, i))
                continue
            out.append((str(unit), start, i + 1))
            i += 1
            continue
        if w in _TEENS:
            value = _TEENS[w]
            nxt = words[i + 1] if i + 1 < n else ""
            if value == 10 and nxt in _UNITS and _UNITS[nxt] >= 7:
                # "dix-sept", "dix-huit", "dix-neuf"
                out.append((str(10 + _UNITS[nxt]), start, i + 2))
                i += 2
                continue
            out.append((str(value), start, i + 1))
            i += 1
            continue
        if w in _TENS:
            value, i = _tens_tail(_TENS[w], words, i + 1)
            out.append((str(value), start, i))
            continue
        if w in _HUNDRED:
            out.append(("100", start, i + 1))
            i += 1
            continue
        value_c = _compound(w)
        if value_c is not None:
            out.append((str(value_c), start, i + 1))
        i += 1
    return out


def _tens_tail(
    tens: int,
    words: list[str],
    i: int,
) -> tuple[int, int]:
    """Add the unit or (French 70/90) teen that follows a tens word; return (value, next index)."""
    n = len(words)
    j = i
    if j < n and words[j] in CONNECTORS and j + 1 < n:
        j += 1
    nxt = words[j] if j < n else ""
    if nxt in _UNITS and _UNITS[nxt] > 0 and nxt not in ("o", "oh"):
        return tens + _UNITS[nxt], j + 1
    if nxt in _TEENS and tens in (60, 80):
        teen = _TEENS[nxt]
        after = words[j + 1] if j + 1 < n else ""
        if teen == 10 and after in _UNITS and _UNITS[after] >= 7:
            return tens + 10 + _UNITS[after], j + 2
        return tens + teen, j + 1
    return tens, i
