"""Normalisation keeps an exact map back to the original text."""

from __future__ import annotations

import re

import pytest

from tradetalk.protection.normalize import _fold_char, deobfuscate, leet_skeleton, normalize
from tradetalk.protection.wordnums import is_number_word, words_to_digits


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ＡＢＣ１２３", "abc123"),  # fullwidth
        ("𝟒𝟏𝟓", "415"),  # mathematical bold digits
        ("①②③", "123"),  # circled
        ("٤١٥", "415"),  # Arabic-Indic
        ("۴۱۵", "415"),  # extended Arabic-Indic
        ("4️⃣1️⃣", "41"),  # keycaps
        ("4\u200b1\u200d5", "415"),  # zero-width
        ("Instagrаm", "instagram"),  # Cyrillic a
        ("ᴡʜᴀᴛsᴀᴘᴘ", "whatsapp"),  # small capitals
        ("fünf zéro", "funf zero"),  # accents
        ("ⓘⓝⓢⓣⓐ", "insta"),  # circled letters
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert normalize(raw).text == folded


def test_the_only_digits_left_are_ascii() -> None:
    # The view is made character by character (ASCII lower-cased, the rest `_fold_char`ed):
    # no character of any script folds to a decimal digit other than 0-9, which traps.py relies
    # on when it writes [0-9] for \d.
    other_digit = re.compile(r"(?![0-9])\d")
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue  # surrogates are no characters
        c = chr(code)
        assert other_digit.search(c.lower() if code < 128 else _fold_char(c)) is None, hex(code)


def test_ascii_fast_path_is_identity() -> None:
    view = normalize("Call ME")
    assert view.text == "call me" and view.starts is None
    assert view.span(0, 4) == (0, 4)


def test_offsets_point_into_original() -> None:
    raw = "x 4️⃣1️⃣5️⃣ y"
    view = normalize(raw)
    i = view.text.index("415")
    a, b = view.span(i, i + 3)
    assert raw[a:b] == "4️⃣1️⃣5️⃣"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("john [at] gmail (dot) com", "john@gmail.com"),
        ("john {at} gmail {dot} com", "john@gmail.com"),
        ("john at gmail dot com", "john at gmail.com"),
        ("w h a t s a p p me", "whatsapp me"),
        ("g-m-a-i-l", "gmail"),
        ("t.e.l.e.g.r.a.m", "telegram"),
        ("j o h n @ g m a i l . c o m", "john @ gmail.com"),
        ("polka dot dress", "polka dot dress"),
    ],
)
def test_deobfuscate(raw: str, clean: str) -> None:
    view = deobfuscate(normalize(raw))
    assert view.text == clean
    a, b = view.span(0, len(view.text))
    assert raw[a:b].strip() == raw.strip()


def test_leet_skeleton_matches_names() -> None:
    assert leet_skeleton("wh4ts4pp") == leet_skeleton("whatsapp")
    assert leet_skeleton("te1egram") == leet_skeleton("telegram")
    assert leet_skeleton("1nst4gram") == leet_skeleton("instagram")


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("four one five", "415"),
        ("fifty five", "55"),
        ("double five oh", "550"),
        ("triple two", "222"),
        ("cuatro cincuenta y cinco", "455"),
        ("quatre-vingt-dix-huit", "98"),
        ("soixante quinze", "75"),
        ("vier funfundfunfzig", "455"),
        ("four hundred fifteen", "415"),
    ],
)
def test_words_to_digits(words: str, digits: str) -> None:
    groups = words_to_digits(words.replace("-", " ").split())
    assert "".join(g for g, _, _ in groups) == digits


def test_number_words() -> None:
    assert is_number_word("cuatro") and is_number_word("quatre") and is_number_word("vier")
    assert not is_number_word("coin")
