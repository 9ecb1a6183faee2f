"""The shield's shortcuts against the long way round: the same answers, on the corpus and on
randomly perturbed messages.

Each shortcut skips work when a cheap test proves it cannot change the result (see the comments
at each). These tests run both ways and compare, so a rule edited on one side and not the other
shows up here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from tests.protection.test_tracking import NUMBERS as TRACKING_NUMBERS

from tradetalk.protection import detector as det
from tradetalk.protection import keywords as kw
from tradetalk.protection import links, traps
from tradetalk.protection import normalize as nz
from tradetalk.protection import phones as ph
from tradetalk.protection import tracking as tr
from tradetalk.protection.hit import Hit
from tradetalk.protection.matching import matches
from tradetalk.protection.normalize import _normalize_by_character, deobfuscate, normalize
from tradetalk.protection.wordnums import NUMBER_WORDS, is_number_word

CORPUS = Path(__file__).with_name("corpus.jsonl")
TEXTS = [
    json.loads(line)["text"]
    for line in CORPUS.read_text(encoding="utf-8").splitlines()
    if line.strip()
]
# What perturbations insert: separators, look-alikes, digits, number words, trap and channel
# words, invisible and non-ASCII characters.
PIECES = [
    " ", "  ", "-", ".", ",", "/", ":", "#", "@", "$", "&", "'", "(", ")", "\n", "_", "+",
    "0", "1", "5", "9", "415", "555 0199", "o", "l", "s", "b", "x", "a", "e", "i",
    " one ", " five ", " oh ", " and ", " y ", " double ", " nine ", "fünf", "veinticinco",
    " at ", " dot ", "[at]", " w h a t s ", "wh4tsapp", "whatsapp", "pay pal", "gmail",
    "order #", "cert ", " oz", " usd", "$40", "12/25", "3:30 pm", "size ", "ms-", "1z",
    " tracking ", "ups ", "fedex", "text me", "don't ", " is not allowed", " platform rules",
    "１", "５", "ο", "а", "\u200b", "\u00a0", "😀", "ß", "é", "①", "٣", "ﬁ", "4\ufe0f\u20e3",
]  # fmt: skip


def _perturb(base: str, edits: list[tuple[float, str, int]]) -> str:
    text = base
    for where, piece, cut in edits:
        at = int(where * len(text))
        text = text[:at] + piece + text[at + cut :]
    return text


MESSAGES = st.builds(
    _perturb,
    st.sampled_from(TEXTS),
    st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(PIECES), st.integers(0, 2)),
        max_size=4,
    ),
)
RANDOM = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _views(message: str) -> tuple[str, list[str], int, str, list[str], int]:
    """The normalised and de-obfuscated texts with their words and flags, as the detector
    builds them."""
    view = normalize(message)
    words = det._words(view.text)
    flags = det._flags_and_digits(words)[0]
    clean = deobfuscate(view)
    cwords = det._words(clean.text)
    cflags = det._flags_and_digits(cwords)[0]
    return view.text, words, flags, clean.text, cwords, cflags


def _plain(text: str, flags: int) -> bool:
    return not flags & det._NOT_ALNUM and text.isascii()


# --- the pieces each shortcut relies on --------------------------------------------------------


@RANDOM
@given(
    st.text(alphabet="0123456789 \u00a0-/.:,%×xbapmstndrhoflin", max_size=30),
    st.floats(0, 1),
    st.floats(0, 1),
)
@example("12/25/2024", 0.0, 1.0)
@example("call 415-555-0199 in 5 min, 3:30 pm", 0.2, 0.9)
def test_digit_led_hint_holds_where_a_match_starts(text: str, a: float, b: float) -> None:
    lo = int(a * len(text))
    hi = lo + int(b * (len(text) - lo))
    for m in traps._DIGIT_LED.finditer(text, lo, hi):
        assert traps._DIGIT_LED_HINT.match(text, m.start(), hi) is not None, (text, m)
    # ... so trying the expression only where the hint matches finds the same.
    expected = [m.span() for m in traps._DIGIT_LED.finditer(text, lo, hi)]
    assert traps._digit_led_spans(text, lo, hi) == expected


def test_named_ids_of_two_tokens_are_the_ones_looked_for_as_text() -> None:
    # trap_spans looks for "s/n" and "p/n" in the text, every other id word among the tokens.
    two_tokens = {w for w in traps._ID_WORDS.split("|") if w not in traps.ID_TOKENS}
    assert two_tokens == {"s/n", "p/n"}


_TOKEN_PIECES = st.one_of(
    st.sampled_from("0123456789"),
    st.sampled_from("olisb"),
    st.sampled_from("aexz"),
    st.sampled_from(sorted(ph._GLUE_WORDS)),
    st.sampled_from(sorted(NUMBER_WORDS)),
    st.sampled_from(["and", "y", "then", "lbs", "s", "funfundfunfzig", "veintitres"]),
)


@RANDOM
@given(st.lists(_TOKEN_PIECES, min_size=1, max_size=4))
@example(["3", "one", "2"])
@example(["o", "1", "9", "9"])
@example(["five", "5", "five"])
def test_chains_admit_every_token_a_run_can_use(pieces: list[str]) -> None:
    token = "".join(pieces)
    if ph._classify(token) is not None:
        assert ph._CHAIN.fullmatch(token) is not None, token


@RANDOM
@given(st.text(max_size=40))
def test_word_flags_mean_what_they_say(text: str) -> None:
    words = det._words(normalize(text).text)
    flags = det._flags_and_digits(words)[0]
    assert bool(flags & det._HAS_DIGIT) == any(c in "0123456789" for c in "".join(words))
    # (Of each word, or of a run of letters, digits and "&" in it: "#whatsapp".)
    runs = {run for w in words for run in re.findall("[a-z0-9&]+", w)}
    assert bool(flags & det._KEYWORD_PREFIX) == (
        not kw.prefixes(set(words) | runs).isdisjoint(kw.KEYWORD_PREFIXES)
    )
    assert bool(flags & det._MIXED) == any(not w.isalpha() and not w.isdigit() for w in words)
    tokens = re.findall("[a-z0-9]+", normalize(text).text)
    assert bool(flags & det._SOLICIT) == (not kw.SOLICIT_WORDS.isdisjoint([*words, *tokens]))
    assert bool(flags & det._SPOKEN) == (
        not NUMBER_WORDS.isdisjoint(words)
        or any(len(w) > 9 and ("und" in w or w.startswith("veinti")) for w in words)
    )
    # (Of the [a-z0-9] tokens of the text, which the phone finder and the traps split it into.)
    assert bool(flags & det._LEADS) == any(map(traps.leads, tokens))
    assert bool(flags & det._ID_TOKEN) == (not traps.ID_TOKENS.isdisjoint(tokens))
    assert bool(flags & det._NEGATION) == (not kw.NEGATION_WORDS.isdisjoint(tokens))
    assert bool(flags & det._REFUSAL) == (not kw.REFUSAL_WORDS.isdisjoint(tokens))
    may_be_number = [
        t in NUMBER_WORDS or (len(t) > 9 and ("und" in t or "veinti" in t[:6])) for t in tokens
    ]
    assert bool(flags & det._NUMBER_TOKEN) == any(may_be_number)
    assert not any(map(is_number_word, tokens)) or flags & det._NUMBER_TOKEN
    assert bool(flags & det._TRACKING_WORD) == (not traps.TRACKING_WORDS.isdisjoint(words))
    assert bool(flags & det._CUE_WORD) == (not traps.PHONE_CUE_WORDS.isdisjoint(words))
    view = normalize(text).text
    dotted = "dot" in view or "punt" in view or "point" in view
    assert bool(flags & det._DOTTED) == dotted
    assert bool(flags & det._WWW) == ("www" in view)
    spelled_at = (" at ", " arroba ", " chez ", " bei ", " en ")
    spoken_at = any(spelled in view for spelled in spelled_at)
    assert not spoken_at or flags & det._SPOKEN_AT


@RANDOM
@given(st.text(alphabet="ab1 @$&.,!|()\n\u00e9\u2003", max_size=20))
def test_texts_with_at_or_dollar_have_a_word_flagged_for_it(text: str) -> None:
    # The scan looks for "@" and "$" only in texts with a word flagged `_SIGNAL` (any text:
    # the scan asks it of the de-obfuscated one too).
    flags = det._flags_and_digits(det._words(text))[0]
    assert bool(flags & det._SIGNAL) == any(c in text for c in "@$&")


@RANDOM
@given(st.text(max_size=30))
@example("call 415 555 0199")
@example("\ud800 12\u0663\uff15 3")
def test_digits_counted_from_marks_as_one_by_one(text: str) -> None:
    assert det._digit_count(text) == sum(c in "0123456789" for c in text)


_WORD_PIECES = st.one_of(
    st.text(alphabet="abdeinoptuvwx0159#@$&'-\u00e9", max_size=12),
    st.sampled_from(
        sorted(det._LETTER_WORD_FLAGS.keys() | kw.KEYWORD_PREFIXES | traps.MONTH_PREFIXES)
    ),
    st.sampled_from(["funfundfunfzig", "veinticinco", "www", "dotcom", "punto", "3", "415"]),
)


@RANDOM
@given(st.lists(_WORD_PIECES, min_size=1, max_size=3))
@example(["whatsapp"])
@example(["marchand"])
@example(["7"])
@example(["s10"])
@example(["10am"])
@example(["march4"])
@example(["size10"])
@example(["wh4tsapp"])
def test_word_flags_of_letters_and_digits_as_in_general(pieces: list[str]) -> None:
    word = "".join(pieces)
    if word:
        assert det._word_flags(word) == det._word_flags_in_general(word), word


@pytest.mark.parametrize("message", TEXTS)
def test_word_flags_of_the_corpus_as_in_general(message: str) -> None:
    for word in det._words(normalize(message).text):
        assert det._word_flags(word) == det._word_flags_in_general(word), word


# --- fast path against full path ----------------------------------------------------------------


@pytest.mark.parametrize("message", TEXTS)
def test_shortcuts_agree_on_the_corpus(message: str) -> None:
    _compare_shortcuts(message)


@RANDOM
@given(MESSAGES)
def test_shortcuts_agree_on_perturbed_messages(message: str) -> None:
    _compare_shortcuts(message)


def _compare_shortcuts(message: str) -> None:
    text, words, flags, ctext, cwords, cflags = _views(message)

    # Names: one pass over short texts, word by word over long ones; both what a search finds at
    # the words they try.
    at_gates = kw._keyword_matches_at_gates(ctext)
    assert kw._keyword_matches(ctext) == at_gates
    searched = [
        (m.start(), m.end(), kw._ENTRY_OF_BRANCH[(m.lastindex or 0) - 1])
        for m in kw._KEYWORD_RE.finditer(ctext)
    ]
    assert set(at_gates) <= set(searched)

    # Folding: one translate for texts folded character for character.
    assert normalize(message) == (
        normalize(message) if message.isascii() else _normalize_by_character(message)
    )

    # Phrases tried only where their first words stand (the words, or the tokens of a text that
    # is not plain); refusals looked for only where a word can start one.
    plain = _plain(ctext, cflags)
    negation = bool(cflags & det._NEGATION)
    expected = _solicitation_the_long_way(ctext, cwords)
    assert kw.find_solicitation(ctext, cwords, False, negation) == expected
    if plain:
        assert kw.find_solicitation(ctext, cwords, True, negation) == expected
    mixed = bool(cflags & det._MIXED)
    fast = kw.find_keywords(
        ctext,
        True,
        None,
        mixed,
        negation=negation,
        refusal_after=bool(cflags & det._REFUSAL),
    )
    assert fast == kw.find_keywords(ctext, True, None, mixed)

    # Traps and phones told by the words' flags what the text's tokens would tell them; phone
    # chains found from digit to digit when no token may be a number word.
    windows = [(0, len(text))] + [
        (max(0, m.start() - 48), min(len(text), m.end() + 24)) for m in re.finditer(r"\d+", text)
    ]
    led = bool(flags & det._LEADS)
    named_id = bool(flags & det._ID_TOKEN)
    expected = traps.trap_spans(text, windows)
    assert traps.trap_spans(text, windows, None, led, named_id) == expected
    if _plain(text, flags):
        assert traps.trap_spans(text, windows, words, led) == expected
    args = (text, [0], "US", None, words, [])
    full = ph.find_phones(*args)
    told = ph.find_phones(
        *args,
        number_words=bool(flags & det._NUMBER_TOKEN),
        led=led,
        named_id=named_id,
        tracking_words=bool(flags & det._TRACKING_WORD),
        cue_words=bool(flags & det._CUE_WORD),
    )
    assert told == full
    det.clear_caches()  # runs kept per chain: recomputed, the same
    assert ph.find_phones(*args) == full


def _solicitation_the_long_way(text: str, words: list[str]) -> list[Hit]:
    # Each phrase whose gate words are among the words or the tokens, searched for.
    tokens = re.findall("[a-z0-9]+", text)
    hits = []
    for name, pattern, gate, _ in kw._SOLICIT_PHRASES:
        if not gate.isdisjoint(words) or not gate.isdisjoint(tokens):
            for m in pattern.finditer(text):
                if not kw.refused(text, m.start(), m.end()):
                    hits.append(Hit(m.start(), m.end(), "solicitation", name))
    return hits


# Expressions rewritten to start with a plain character, against the look-behind-first
# originals.
_HANDLE_ORIGINALS = [
    (
        re.compile(r"(?<![a-z0-9._%+\-@])@([a-z0-9_](?:[a-z0-9_.]{0,28}[a-z0-9_])?)(?![a-z0-9_@])"),
        links._AT_HANDLE,
    ),
    (re.compile(r"(?<![a-z0-9$])\$([a-z][a-z0-9_\-]{1,19})(?![a-z0-9_])"), links._CASHTAG),
]


# The names as one group per entry, as they were written before every alternative became a
# branch of its own.
_NAMES_BY_ENTRY = re.compile(
    r"(?<![a-z0-9])(?:" + "|".join(f"(?:{e[3]})()" for e in kw._ENTRIES) + r")(?![a-z])"
)
_NAME_PIECES = sorted(
    {w for e in kw._ENTRIES for w in re.findall("[a-z]+", e[3])}
    | {" ", "  ", "-", ".", "'", "&", "1", "\n", "app", "pay", "pal", "place", "own", "site"}
)


@RANDOM
@given(st.lists(st.sampled_from(_NAME_PIECES), max_size=8))
@example(["own", " ", "web", " ", "site"])
@example(["fb", " ", "market", "place"])
def test_names_branch_by_branch_as_by_entry(pieces: list[str]) -> None:
    text = "".join(pieces)
    expected = [(m.span(), (m.lastindex or 0) - 1) for m in _NAMES_BY_ENTRY.finditer(text)]
    found = [
        (m.span(), kw._ENTRY_OF_BRANCH[(m.lastindex or 0) - 1])
        for m in kw._KEYWORD_RE.finditer(text)
    ]
    assert found == expected
    assert ["|".join(kw._alternatives(e[3])) for e in kw._ENTRIES] == [e[3] for e in kw._ENTRIES]


_LINK_DOT_ORIGINAL = re.compile(r"(?<=[^\W_])\.(?=[^\W\d_])")
_LEET_TOKEN_ORIGINAL = re.compile(
    r"(?<![a-z0-9@$!|])(?=[a-z0-9@$!|]{4})(?:[a-z]++[0-9@$!|]|[0-9@$!|]++[a-z])[a-z0-9@$!|]*+"
)


@RANDOM
@given(st.text(alphabet="ab9_@$.-+%! x\u00e9\u0663", max_size=16))
@example("@coinguy88 and $coinguy")
@example("a@b @c")
@example("www.site.com, ok. 2.5x")
@example("wh4tsapp 1234 abcd a1 $$!9 9!x|")
def test_rewritten_expressions_match_the_same(text: str) -> None:
    for original, rewritten in _HANDLE_ORIGINALS:
        expected = [(m.span(), m.span(1)) for m in original.finditer(text)]
        assert [(m.span(), m.span(1)) for m in rewritten.finditer(text)] == expected
    expected = [m.span() for m in _LINK_DOT_ORIGINAL.finditer(text)]
    assert [m.span() for m in links._DOT_BEFORE_LETTER.finditer(text)] == expected
    # (searched with a space in front, led by the character before the token)
    expected = [m.span() for m in _LEET_TOKEN_ORIGINAL.finditer(text)]
    assert [(m.start(), m.end() - 1) for m in kw._LEET_TOKEN.finditer(" " + text)] == expected


@pytest.mark.parametrize("message", TEXTS)
def test_remembered_verdicts_change_nothing_on_the_corpus(message: str) -> None:
    shield = det.Detector()
    first = shield.scan(message)
    assert shield.scan(message) == first
    det.clear_caches()
    assert shield.scan(message) == first


def test_tracking_formats_found_in_one_pass_for_the_test_numbers() -> None:
    for _, _, number in TRACKING_NUMBERS:
        _compare_tracking(number)


@RANDOM
@given(st.text(alphabet="0123456789ABCDJKLNSTXZ", min_size=8, max_size=36))
def test_tracking_formats_found_in_one_pass(number: str) -> None:
    _compare_tracking(number)


# Digits of every length a format has, and the formats' leading letters before digits and
# letters: the formats a number's length admits (`_Fits`) are tried, and no other.
_TRACKING_LIKE = st.one_of(
    st.text(alphabet="0123456789", min_size=8, max_size=40),
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(["1Z", "TBA", "GM", "LX", "JJD", "JD", "JVG", "420", "96", "92",
                         "1LS7", "1LSCX", "LTN", "SP", "YT", "GFUS", "K", "C", "D", "L", "RR"]),
        st.text(alphabet="0123456789ABNUS-", max_size=38),
    ),
)  # fmt: skip


@RANDOM
@given(_TRACKING_LIKE)
@example("42012345" + "9400111202555842332669")
@example("1LS7" + "123456789012-1")
def test_tracking_formats_found_by_length_as_one_by_one(number: str) -> None:
    _compare_tracking(number)


def _compare_tracking(number: str) -> None:
    n = tr.compact(number)
    expected = [
        fmt.name
        for fmt in tr._FORMATS
        if 8 <= len(n) <= 40 and fmt.pattern.fullmatch(n) and (fmt.check is None or fmt.check(n))
    ]
    assert [m.format for m in tr.tracking_candidates(number)] == expected
    found = tr.compact_candidates(n)
    assert tr.compact_first_checked(n) == (found[0].checked if found else None)


@RANDOM
@given(MESSAGES)
@example("four one five, fifty-five, double oh one nine nine")
@example("call 415 555 0199 and funfundfunfzig 12 veintitres 4 5")
@example("ab12 3one2 4i5-5s5-0i23 then 555 0199")
def test_chains_tried_at_tokens_as_searched(message: str) -> None:
    text = normalize(message).text
    searched = [m for m in matches(ph._CHAIN, text) if m.end() - m.start() >= 7]
    assert ph._chains(text, True) == [m.span() for m in searched]
    # Without number words, `_DIGIT_CHAIN`'s chains from each token with a digit.
    digit_led = re.compile("(?=[a-z]*+[0-9])" + ph._DIGIT_CHAIN.pattern)
    searched = [m for m in digit_led.finditer(text) if m.end() - m.start() >= 7]
    assert ph._chains(text, False) == [m.span() for m in searched]
    # (Without number words, find_phones with the words' flags checks `_DIGIT_CHAIN`'s chains:
    # see test_word_flags_mean_what_they_say.)


@RANDOM
@given(MESSAGES)
@example("")
@example("9400 1112 0108 1234 5678 90")
@example("1z999aa10123456784 shipped")
def test_tokens_found_by_character_as_by_their_matches(message: str) -> None:
    text = normalize(message).text
    # A slice's tokens (phone runs read the chain's text[a:b]) are those a search limited to
    # it finds.
    for a, b in ((0, len(text)), (len(text) // 3, len(text) - len(text) // 4)):
        expected = [m.span() for m in ph._TOKEN.finditer(text, a, b)]
        found = []
        end = a
        while (start := ph._token_start(text, end, b)) < b:
            end = ph._token_end(text, start + 1, b)
            found.append((start, end))
            token = text[start:end]
            assert ph._scan_token(text, start, b) == (
                end,
                any(c.isdigit() for c in token),
                any(c.isalpha() for c in token),
            )
        assert found == expected


@RANDOM
@given(MESSAGES, st.integers(0, 2**32 - 1))
@example("call 415 555 0199 or 212-555-0147", 0)
@example("\ud83d415 555 0199 😀 ٣ 212 555 0147", 0b1010)
@example("four one five 555 0199 and 212 five five five", 0)
def test_runs_of_plain_digit_chains_built_directly_as_the_long_way(message: str, seed: int) -> None:
    text = normalize(message).text
    # Some characters blocked (as traps and links block them), or none.
    blocked = bytearray((seed >> (i % 32)) & 1 for i in range(len(text) + 1))
    disguised = (lambda a, b: (a * 7 + b) % 3 == 0) if seed & 1 else None
    chains = [ph._DIGIT_CHAIN.match(text, a) for a, _ in ph._chains(text, False)]
    for chain in [c for c in chains if c is not None] + matches(ph._CHAIN, text):
        lettered = chain.group("first") is not None or chain.group("later") is not None
        a, b = chain.span()
        for block in (None, blocked) if seed else (None,):
            direct = ph._plain_runs(text, a, b, block, disguised)
            long_way = [ph._groups(run, disguised) for run in ph._runs(text, a, b, block)]
            if lettered:
                assert direct is None
                continue
            assert direct is not None
            assert _as_lists(direct) == _as_lists(long_way)
        if not lettered and a > 0:  # (as the chain's own text, as the runs kept per chain are made)
            alone = ph._plain_runs(chain.group(), 0, b - a, None, None)
            long_way = [ph._groups(run, None) for run in ph._runs(text, a, b, None)]
            assert alone is not None
            assert _as_lists(alone, a) == _as_lists(long_way)


def _as_lists(
    runs: list[list[ph._Group]], shift: int = 0
) -> list[list[tuple[str, int, int, bool]]]:
    return [
        [(g.digits, g.start + shift, g.end + shift, g.disguised) for g in groups] for groups in runs
    ]


@RANDOM
@given(MESSAGES, st.floats(0, 1), st.floats(0, 1))
@example("order #112-3456789-1234567, s/n 4455, size10 ms-65 march 4, $1,250.00", 0.0, 1.0)
@example("order 123abc order 45 cert4567 p/n 88-1 ¥300 us 9", 0.0, 0.7)
@example("reorder 12 ordered 5 listing48213379 lot of 5", 0.1, 1.0)
def test_word_led_and_ids_tried_at_tokens_as_searched(message: str, a: float, b: float) -> None:
    text = normalize(message).text
    lo, hi = sorted((int(a * len(text)), int(b * len(text))))
    for pattern, word_led in ((traps._WORD_LED, True), (traps._ID_RE, False)):
        expected = [(m.span(), m.groups()) for m in matches(pattern, text, lo, hi)]
        found = traps._matches_from_words(pattern, text, lo, hi, word_led)
        assert [(m.span(), m.groups()) for m in found] == expected


_JUNK = st.lists(st.sampled_from(PIECES), max_size=4).map("".join)


@RANDOM
@given(MESSAGES, st.floats(0, 1), st.floats(0, 1), _JUNK, _JUNK)
@example("call 415 555 0199, 3:30 pm, size 10, order #12345", 0.0, 0.5, "$1 x", ",9 jan")
@example("paid $40 for 2 oz, cert 4567890-001", 0.1, 1.0, "size ", " oz")
def test_trap_spans_kept_per_window_as_found_afresh(
    message: str, a: float, b: float, before: str, after: str
) -> None:
    # A window's spans depend on its text, the character before it (or that it starts the
    # text) and the switches: the same window in another text gives the spans found here.
    text = normalize(message).text
    lo, hi = sorted((int(a * len(text)), int(b * len(text))))
    other = ("" if lo == 0 else before + text[lo - 1]) + text[lo:hi] + after
    if text.isascii() != other.isascii():
        other += "é"
        assume(not text.isascii())
    start = 0 if lo == 0 else len(before) + 1
    tokens = set(ph._TOKEN.findall(text))
    led = any(map(traps.leads, tokens))
    named_id = not traps.ID_TOKENS.isdisjoint(tokens)
    traps.clear_caches()
    expected = traps.trap_spans(text, [(lo, hi)], None, led, named_id)
    traps.clear_caches()
    traps.trap_spans(other, [(start, start + hi - lo)], None, led, named_id)
    assert traps.trap_spans(text, [(lo, hi)], None, led, named_id) == expected
    traps.clear_caches()


# Every expression the shield reads through `matches` (the chain and trap expressions, now
# matched where they can start, read that way too once; their shortcut tests compare with
# `matches`), and a few that match empty (where the scanner's rule for what may follow an empty
# match applies).
_MATCHED_PATTERNS = [
    kw._NAMES_AFTER_GAPS,
    kw._PREFIX_GATE,
    kw._LEET_TOKEN,
    links._EMAIL_AT,
    links._EMAIL_SPOKEN,
    links._URL,
    links._AT_HANDLE,
    links._CASHTAG,
    links._DOT_BEFORE_LETTER,
    nz._BRACKETED,
    nz._SPOKEN_DOT,
    nz._SPOKEN_LOCAL_DOT,
    nz._SPACED,
    nz._SPACED_SEP,
    ph._CHAIN,
    traps._DIGIT_LED_HINTED,
    traps._WORD_LED,
    traps._ID_RE,
    re.compile(r"[0-9]*"),
    re.compile(r"\b"),
    re.compile(r"(?<=a)|b"),
]


@RANDOM
@given(MESSAGES, st.floats(0, 1), st.floats(0, 1))
@example("mail me at john at gmail dot com or @john_d, 415 555 0199", 0.1, 0.9)
@example("aab ab", 0.0, 1.0)
def test_matches_are_finditers(message: str, a: float, b: float) -> None:
    text = normalize(message).text
    lo, hi = int(a * len(text)), int(b * len(text))
    for pattern in _MATCHED_PATTERNS:
        for args in ((), (lo,), (lo, hi)):
            expected = [(m.span(), m.groups()) for m in pattern.finditer(text, *args)]
            found = [(m.span(), m.groups()) for m in matches(pattern, text, *args)]
            assert found == expected, (pattern.pattern, args)


_REGIONS = ["US", "CA", "GB", "GG", "JE", "IM", "gb", "001", "XX", *ph._OTHER_REGIONS]


@RANDOM
@given(
    st.sampled_from([1, 44, 49, 33, 61, 39, 31, 91, 353, 55, 52, 34, 800, 999]),
    st.integers(0, 10**17),
    st.sampled_from(_REGIONS),
    st.booleans(),
)
@example(1, 4155550199, "US", False)
@example(1, 41555501, "CA", False)
@example(44, 7700900461, "GB", False)
@example(39, 612345678, "IT", True)
def test_validity_asked_only_for_lengths_the_region_has(
    code: int, national: int, region: str, leading_zero: bool
) -> None:
    num = phonenumbers.PhoneNumber(
        country_code=code, national_number=national, italian_leading_zero=leading_zero or None
    )
    expected = phonenumbers.is_valid_number_for_region(num, region)
    assert ph._valid_in(ph._number_of(num), (region,)) == expected
    assert ph._country_code(region) == phonenumbers.country_code_for_region(region)


@pytest.mark.parametrize("c", [*"0123456789", "٣", "５", "৭", "A", "²", "-"])
def test_check_digits_read_as_int_reads_them(c: str) -> None:
    try:
        expected = int(c)
    except ValueError:
        with pytest.raises(ValueError):
            tr._digit(c)
        return
    assert tr._digit(c) == expected


# Digit strings `_judge` may hand to `_parse`: country-code-like starts, trunk and IDD zeros.
_PARSE_DIGITS = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(["", "0", "00", "011", "01", "1", "44", "49", "55", "52", "39", "7", "8",
                     "80", "88", "999", "2", "3", "35", "90", "0044", "01144", "000"]),
    st.text(alphabet="0123456789", min_size=0, max_size=16),
)  # fmt: skip


def _library_parse(number: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


@RANDOM
@given(_PARSE_DIGITS, st.sampled_from(["US", "CA", *ph._OTHER_REGIONS]))
@example("14155550163", "US")
@example("442079460958", "US")
@example("5511987654321", "GB")
@example("07700900461", "US")
@example("0000000", "CA")
@example("01144207946095", "US")
@example("9991234567", "US")
def test_parse_shortcuts_build_what_the_library_parses(digits: str, region: str) -> None:
    assume(7 <= len(digits) <= 16)  # (what `_judge` asks about: runs of 7 digits or more)
    built = ph._parse_with_plus(digits)
    if built is not None:
        assert built == _library_parse("+" + digits, region), digits
    if region in ph._NANP:
        built = ph._parse_nanp_trunk(digits)
        if built is not None:
            assert built == _library_parse(digits, region), digits


@RANDOM
@given(_PARSE_DIGITS, st.sampled_from(["US", "CA", *ph._OTHER_REGIONS]), st.booleans())
@example("14155550163", "US", False)
@example("4155550163", "CA", False)
@example("13103900", "US", False)
@example("10838163157", "US", False)
@example("07700900461", "US", False)
@example("442079460958", "GB", True)
@example("8001234567", "US", True)
def test_numbers_read_without_phone_number_objects_as_parsed(
    digits: str, region: str, plus: bool
) -> None:
    assume(digits)
    number = "+" + digits if plus else digits
    phone = ph._parse(number, region)
    read = ph._read(number, region)
    if phone is None:
        assert read is None, number
        return
    assert read is not None, number
    assert read.country_code == phone.country_code, number
    assert read.national == phonenumbers.national_significant_number(phone), number
    assert read.phone() == phone, number


@RANDOM
@given(
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(["0", "00", "01", "001", "0011", "0044", "09", "090", "0180020"]),
        st.text(alphabet="0123456789", min_size=4, max_size=14),
    ),
    st.sampled_from([*ph._OTHER_REGIONS, "US", "CA", "GG", "AR", "XX"]),
)
@example("015123456789", "GB")
@example("07700900461", "GB")
@example("0018312345678", "AU")
def test_trunk_tries_skipped_only_where_nothing_is_valid(digits: str, region: str) -> None:
    if ph._may_be_valid_national(digits, region):
        return
    num = _library_parse(digits, region)
    assert num is None or not phonenumbers.is_valid_number_for_region(num, region), digits
    # ... and for the reason given, not by chance: the national number's length is not one the
    # region has (or the library read the digits as another country's number).
    lengths = ph._general_lengths(region)
    if num is not None and lengths and num.country_code == ph._country_code(region):
        assert len(phonenumbers.national_significant_number(num)) not in lengths, digits


# Any ASCII letters (capitals too) and digits, where month names, leading words and keyword
# prefixes start: `_word_flags` reads the first three or four characters from one table
# (`_PREFIX_FLAGS`) and the leading lower-case letters of a mixed word by stripping them.
_ASCII_WORD_PIECES = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzAJMSW0123456789", max_size=8),
    st.sampled_from(
        sorted(traps.LEADING_WORDS | kw.KEYWORD_PREFIXES | traps.MONTH_PREFIXES | {"SIZE", "Mar"})
    ),
)


@RANDOM
@given(st.lists(_ASCII_WORD_PIECES, min_size=1, max_size=3))
@example(["ms", "65"])
@example(["Size", "10"])
@example(["10", "size"])
@example(["jan", "2"])
@example(["kik"])
@example(["kiki"])
@example(["fb", "1"])
def test_word_flags_of_ascii_words_as_in_general(pieces: list[str]) -> None:
    word = "".join(pieces)
    if word:
        assert det._word_flags(word) == det._word_flags_in_general(word), word
        assert det._word_flags(word, True) == det._word_flags_in_general(word), word


# Tokens made of leetspeak marks, the names' letters and pieces of the names themselves (and a
# non-ASCII letter now and then): `_leet_name` skips short tokens and maps ASCII ones as bytes.
_LEET_PIECES = st.one_of(
    st.text(alphabet="abcdeghilmnopstwyz0134579@$!|8\u00e9", max_size=6),
    st.sampled_from(sorted({name for name, _ in kw._LEET_NAMES})),
)


@RANDOM
@given(st.lists(_LEET_PIECES, min_size=1, max_size=4))
@example(["wh4ts4pp"])
@example(["v3nm0"])
@example(["smith@gmail"])
@example(["g", "m4il"])
@example(["10am"])
@example(["te1egram\u00e9"])
def test_leet_name_as_in_general(pieces: list[str]) -> None:
    token = "".join(pieces)
    assert kw._leet_name(token) == kw._leet_name_in_general(token), token


# ASCII words with symbols (handles, prices, hashtags, glued addresses), capitals and controls
# among them: `_ascii_symbol_word_flags` splits them by a byte table instead of expressions.
_SYMBOL_WORD_PIECES = st.one_of(
    st.text(alphabet="abdeimnoprstuwxyzMS0123456789#@$&!|'\x01 ", max_size=8),
    st.sampled_from(
        sorted(
            det._LETTER_WORD_FLAGS.keys()
            | kw.KEYWORD_PREFIXES
            | traps.MONTH_PREFIXES
            | traps.LEADING_WORDS
            | {"funfundfunfzig", "veinticinco", "www", "dotcom", "gmail", "whatsapp"}
        )
    ),
)


@RANDOM
@given(st.lists(_SYMBOL_WORD_PIECES, min_size=1, max_size=4))
@example(["#", "whatsapp"])
@example(["f&f"])
@example(["x&", "whatsapp"])
@example(["@", "coinguy88"])
@example(["$", "40"])
@example(["#", "size10"])
@example(["#", "mar4"])
@example(["#", "five"])
@example(["#", "text"])
@example(["smith@", "gmail"])
@example(["#", "funfundfunfzig"])
def test_word_flags_of_ascii_words_with_symbols_as_in_general(pieces: list[str]) -> None:
    word = "".join(pieces)
    assert det._word_flags(word) == det._word_flags_in_general(word), word
    if word.isascii() and not word.isalnum():  # (the words it is for)
        assert det._ascii_symbol_word_flags(word) == det._word_flags_in_general(word), word
