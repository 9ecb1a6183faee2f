"""Names found in short texts without the gate in the expression and with the entry of a name
remembered by its text: the same as the long way (`_keyword_matches_at_gates`)."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st
from tests.protection.test_shortcuts import RANDOM

from tradetalk.protection import keywords as kw

# The names' words and what may follow them: the look-aheads of "signal" and "facebook" make
# the same text one entry's here and another's there.
_PIECES = sorted(
    {w for e in kw._ENTRIES for w in re.findall("[a-z]+", e[3])}
    | {" ", "  ", "-", ".", "'", "&", "1", "\n", "app", "pay", "pal", "place", "own", "site"}
    | {" strength", " is bad", " marketplace", " market place", " messenger", "wat's", "me"}
)


@RANDOM
@given(st.lists(st.sampled_from(_PIECES), max_size=10))
@example(["signal", " ", "app", " is bad"])
@example(["signal", " app"])
@example(["facebook", " marketplace"])
@example(["wat's", " ", "app"])
@example(["own", " ", "web", " ", "site"])
def test_short_texts_as_the_long_way(pieces: list[str]) -> None:
    text = "".join(pieces)[:61]
    expected = kw._keyword_matches_at_gates(text)
    # (Entries remembered from earlier examples, then none.)
    assert kw._short_text_matches(text) == expected
    kw.clear_caches()
    assert kw._short_text_matches(text) == expected
    assert kw._short_text_matches(text) == expected


def test_names_whose_text_does_not_tell_their_entry_are_not_remembered() -> None:
    kw.clear_caches()
    assert kw._short_text_matches("signal strength") == []
    assert kw._short_text_matches("my signal") == [(3, 9, 11)]
    assert "signal" not in kw._entries_of_names
    assert kw._short_text_matches("my skype") == [(3, 8, 6)]
    assert kw._entries_of_names == {"skype": 6}


@RANDOM
@given(st.text(alphabet="ab9@$!| x.-\u00e9", max_size=16))
@example("wh4tsapp 1234 abcd a1 $$!9 9!x|")
@example("2pm")
@example("10am-11am")
def test_leet_tokens_of_ascii_texts_by_kind_as_by_expression(text: str) -> None:
    expected = [(m.start(), m.end() - 1) for m in kw._LEET_TOKEN.finditer(" " + text)]
    assert kw._leet_tokens(text) == expected


_NEGATION_ORIGINAL = re.compile(
    r"\b(?:no|not|never|dont|don't|do\snot|doesn'?t|cant|can't|cannot|can\snot|wont|won't|"
    r"will\snot|unable|without|avoid|isn'?t|aren'?t|wasn'?t|refuse|rather\snot|prefer\snot|"
    r"instead\sof|rather\sthan|neither|nor|sin|pas|kein|keine|nicht|nunca)\b"
)
_CONTEXT_PIECES = [
    " ", "\n", ".", "'", "_", "1", "\u00e9", "x", "t", "no", "not", "snow", "do", "cant", "won",
    "will", "sin", "keine", "nicht", "ever", "is", "isn't", "are", "app", "site", "the",
    "allowed", "against", "rules", "policy", "tos", "prohibited", "platform",
]  # fmt: skip


@RANDOM
@given(st.lists(st.sampled_from(_CONTEXT_PIECES), max_size=10))
@example(["whatsapp", " ", "is", " ", "not", " ", "allowed"])
@example(["_", "not"])
@example(["\u00e9", "no", " "])
def test_refusal_expressions_rewritten_tell_the_same(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert (kw._NEGATION.search(text) is None) == (_NEGATION_ORIGINAL.search(text) is None)
    assert (kw._refused_after(text) is None) == (kw._REFUSED_AFTER.match(text) is None)


@RANDOM
@given(st.text(alphabet=" \t\n\u00a0:=>-\u2192@$.x1_ihuntaesdrcmgol", max_size=14))
@example(" @coinguy")
@example(" user name: x1")
@example("\u00a0is  $ab")
def test_handles_looked_for_only_where_one_can_be(text: str) -> None:
    if not kw._may_have_handle(text, 0):
        assert kw._HANDLE_AFTER.match(text) is None


@RANDOM
@given(st.text(alphabet="ab9 .-#@\n\t\x0b\x1c\u00e9A_", max_size=14))
def test_tokens_of_ascii_texts_by_table_as_by_expression(text: str) -> None:
    assert kw._tokens(text) == kw._TOKEN.findall(text)


# (As they were written, with "\b" in front of each word.)
_WEAK_BEFORE_ORIGINAL = {
    kw._MSG: re.compile(
        r"(?:\bmy|\bur|\byour|\bon|\bvia|\bover|\buse|\busing|\bhave|\bgot|\badd\sme(?:\son)?|"
        r"\bmessage\sme(?:\son)?|\btext\sme(?:\son)?|\bhit\sme\sup(?:\son)?|\bcontact\sme(?:\son)?)"
        r"\s*$"
    ),
    kw._SOCIAL: re.compile(
        r"(?:\bmy|\bur|\byour|\bon\smy|\badd\sme(?:\son)?|\bfollow\sme(?:\son)?|\bfind\sme(?:\son)?|"
        r"\bdm\sme(?:\son)?|\bmessage\sme(?:\son)?|\bhit\sme\sup(?:\son)?|\bcheck\s(?:out\s)?my|"
        r"\bsearch\s(?:for\s)?me\son|\bme\son)\s*$"
    ),
    kw._PAY: re.compile(
        r"(?:\bpay|\bpaid|\bpaying|\bsend|\bsent|\baccept|\baccepts|\btake|\btakes|\bvia|\bthrough|"
        r"\bthru|\busing|\bwith|\bby|\bprefer|\bhave|\bmy|\bin|\bdo|\bor|\bover|\bon)"
        r"(?:\s(?:me|you|it|the\smoney|the\sfunds|payment|money))?\s*$"
    ),
    kw._MARKET: re.compile(
        r"(?:\bmy|\bon\smy|\blisted\son|\blist\sit\son|\blisting\son|\bselling\s(?:it\s)?on|"
        r"\bsell\s(?:it\s)?on|\brelist(?:ed)?\s(?:it\s)?on|\bbuy\s(?:it\s|this\s|them\s)?"
        r"(?:from\sme\s)?(?:on|through|via)|\border\s(?:it\s)?(?:on|through|via)|"
        r"\bpurchase\s(?:it\s)?(?:on|through|via)|\b(?:find|search|look)\s(?:me|for\sme|my\sname)"
        r"\s(?:up\s)?on|\b(?:message|contact)\sme\son|\bcheck\s(?:out\s)?my|\bvisit\smy|"
        r"\bgo\sto\smy)\s*$"
    ),
    kw._EMAIL: re.compile(
        r"(?:\bmy|\bvia|\bby|\bon|\bto\smy|\bsend\sit\sto|\bsend\sme\san|\bshoot\sme\san|"
        r"\bdrop\sme\san)\s*$"
    ),
}
_WEAK_PIECES = sorted(
    {w for p in _WEAK_BEFORE_ORIGINAL.values() for w in re.findall("[a-z]+", p.pattern)}
    | {" ", "  ", "\n", ".", "'", "_", "1", "\u00e9", "x", "s"}
)


@RANDOM
@given(st.lists(st.sampled_from(_WEAK_PIECES), max_size=8))
@example(["message", " ", "me", " ", "on", " "])
@example(["x", "my"])
@example(["_", "my"])
@example(["my", "\n"])
def test_weak_contexts_before_by_first_letter_as_written(pieces: list[str]) -> None:
    text = "".join(pieces)
    for kind, original in _WEAK_BEFORE_ORIGINAL.items():
        assert (kw._WEAK_BEFORE[kind].search(text) is None) == (original.search(text) is None)
