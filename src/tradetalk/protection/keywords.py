"""Names of outside channels (messaging apps, social networks, payment apps, other marketplaces)
and invitations to deal off the platform.

A name counts when it invites ("whatsapp me", "my ig is x", "venmo @x"); a name in a refusal
("I can't use WhatsApp, platform rules") does not. Common words that are also names ("signal",
"line", "wise", "ebay") need an inviting context; rare ones ("venmo", "telegram") count unless
refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from tradetalk.protection.hit import Hit
from tradetalk.protection.matching import matches
from tradetalk.protection.memo import remember
from tradetalk.protection.normalize import leet_skeleton
from tradetalk.protection.trie import trie_pattern

__all__ = [
    "KEYWORD_PREFIXES",
    "NEGATION_WORDS",
    "REFUSAL_WORDS",
    "SOLICIT_WORDS",
    "clear_caches",
    "find_keywords",
    "find_solicitation",
    "prefixes",
]


_MSG, _SOCIAL, _PAY, _MARKET, _EMAIL, _SOLICIT = (
    "messaging_app",
    "social_handle",
    "payment_handle",
    "solicitation",
    "email",
    "solicitation",
)

# (name, kind, strong, pattern). Strong names count unless refused; weak ones need context.
_ENTRIES: Final[tuple[tuple[str, str, bool, str], ...]] = (
    (
        "whatsapp",
        _MSG,
        True,
        r"wh?at'?s\s?app?|wh?att?s?app?|wh?atsap+|wass?app?|wazz?app?|whtsapp",
    ),
    ("telegram", _MSG, True, r"tele?gr?a?m+|telegarm|tele\sgram|tlgrm"),
    ("viber", _MSG, True, r"viber"),
    ("wechat", _MSG, True, r"we\s?chat|weixin"),
    ("kakaotalk", _MSG, True, r"kakao\s?talk|kakao"),
    ("kik", _MSG, True, r"kik"),
    ("skype", _MSG, True, r"skype"),
    ("discord", _MSG, True, r"discord"),
    ("threema", _MSG, True, r"threema|wickr|botim|imo\sapp"),
    ("imessage", _MSG, True, r"i-?message|facetime"),
    ("messenger", _MSG, True, r"fb\s?messenger|facebook\s?messenger"),
    (
        "signal",
        _MSG,
        False,
        r"signal(?:\sapp)?(?!\s(?:strength|bars|reception|is\s(?:bad|weak|poor)))",
    ),
    ("line", _MSG, False, r"line(?:\s?(?:app|id))?"),
    ("tg", _MSG, False, r"tg|wa"),
    ("instagram", _SOCIAL, True, r"insta\s?gram|instagarm|insta|instagr\.am"),
    ("snapchat", _SOCIAL, True, r"snap\s?chat"),
    ("tiktok", _SOCIAL, True, r"tik\s?tok"),
    ("twitter", _SOCIAL, True, r"twitter"),
    ("facebook", _SOCIAL, True, r"face\s?book(?!\s?(?:marketplace|market\splace|messenger))"),
    ("linkedin", _SOCIAL, True, r"linked\s?in|onlyfans"),
    ("ig", _SOCIAL, False, r"ig|fb|snap|sc|yt|youtube|reddit|pinterest|twitch|tumblr|bluesky"),
    ("venmo", _PAY, True, r"venmo"),
    ("cashapp", _PAY, True, r"cash\s?app|cash\.app"),
    ("paypal", _PAY, True, r"pay\s?pal|pp\sf&f|ppff"),
    ("zelle", _PAY, True, r"zelle"),
    ("western_union", _PAY, True, r"western\s?union|money\s?gram|remitly|skrill|payoneer|alipay"),
    ("revolut", _PAY, True, r"revolut|f\s?&\s?f|f\s?n\s?f|friends\s?(?:and|&|n)\s?family"),
    ("wire", _PAY, True, r"wire\s(?:it|the\s(?:money|funds|payment)|me|you)"),
    ("bank_transfer", _PAY, True, r"bank\s?transfer|wire\s?transfer|e-?transfer|interac|iban"),
    (
        "pay_app",
        _PAY,
        False,
        r"apple\s?pay|google\s?pay|g\s?pay|wise|chime|crypto|bitcoin|btc|eth|usdt|usdc|pp|"
        r"money\s?order|cashier'?s?\s?check",
    ),
    (
        "craigslist",
        _MARKET,
        True,
        r"craigs?\s?list|offer\s?up|kijiji|gumtree|facebook\s?market\s?place|"
        r"fb\s?market\s?place|face\sbook\s?market\s?place|"
        r"letgo|wallapop|leboncoin",
    ),
    (
        "other_marketplace",
        _MARKET,
        False,
        r"ebay|etsy|mercari|poshmark|depop|grailed|stockx|vinted|amazon|shopify|"
        r"own\s(?:website|web\s?site|web\s?shop|webstore|online\s(?:store|shop))|"
        r"website|web\s?site|web\s?shop|webstore|online\s(?:store|shop)",
    ),
    (
        "email_provider",
        _EMAIL,
        False,
        r"g\s?mail|googlemail|yahoo|hotmail|outlook|icloud|proton\s?mail|aol|gmx|e-?mail",
    ),
)


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (split at "|" outside groups and sets)."""
    parts: list[str] = []
    depth = 0
    in_set = False
    start = i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif in_set:
            in_set = c != "]"
        elif c == "[":
            in_set = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


# Every alternative of every entry, in order, with its entry. Each is one branch of
# _KEYWORD_RE closed by an empty group of its own: the group that matched last names the branch
# (`lastindex` is its index plus one). Branches that start with a plain letter, and no group
# around them, let the regex engine check that letter before entering a branch: trying the
# names at a word costs a few comparisons instead of entering all 35 entries; the matches are
# those of the entries' patterns one after the other.
_BRANCHES: Final = [(alt, i) for i, entry in enumerate(_ENTRIES) for alt in _alternatives(entry[3])]
assert all(alt[0].isalpha() and alt[1:2] not in ("?", "*", "+", "{") for alt, _ in _BRANCHES)


def _by_letter(branches: list[tuple[str, int]]) -> dict[str, list[tuple[str, int]]]:
    """The branches by first letter, in order: (the rest of the branch, its entry)."""
    by_letter: dict[str, list[tuple[str, int]]] = {}
    for alt, entry in branches:
        by_letter.setdefault(alt[0], []).append((alt[1:], entry))
    return by_letter


def _by_first_letter(by_letter: dict[str, list[tuple[str, int]]]) -> tuple[str, tuple[int, ...]]:
    """The branches as one alternation per first letter, and the entry of each empty group in
    the order the groups now stand.

    Even with the letter checked first, the engine still steps through all 120-odd branches at
    each word it tries; grouped by their first letter it steps through two dozen letters, then
    the few branches of one. Branches with different first letters never match at the same
    place, and those with the same one keep their order, so the matches are the same.
    """
    parts: list[str] = []
    entries: list[int] = []
    for letter, rests in by_letter.items():
        parts.append(letter + "(?:" + "|".join(f"{rest}()" for rest, _ in rests) + ")")
        entries.extend(entry for _, entry in rests)
    return "|".join(parts), tuple(entries)


_LETTERS: Final = _by_letter(_BRANCHES)
_BY_LETTER: Final = _by_first_letter(_LETTERS)
_ENTRY_OF_BRANCH: Final = _BY_LETTER[1]
_KEYWORD_RE: Final = re.compile(r"(?<![a-z0-9])(?:" + _BY_LETTER[0] + r")(?![a-z])")
# The same alternation without the empty groups: where a name is and how far it goes, not which
# branch it is (`_entry_of_name` tells).
_BARE_NAMES: Final = "|".join(
    letter + "(?:" + "|".join(rest for rest, _ in rests) + ")" for letter, rests in _LETTERS.items()
)
# Per first letter: its branches as in _KEYWORD_RE, matched where a name starting with it was
# found (`match`); the entry of each of its empty groups; and how many of its first branches
# look only at what they match (no look-around: the rest, "signal(?!\s(?:strength...", may
# match or not depending on what follows).
_LetterBranches = tuple[Callable[[str, int], "re.Match[str] | None"], tuple[int, ...], int]


def _letter_branches(rests: list[tuple[str, int]], letter: str) -> _LetterBranches:
    pattern = re.compile(
        letter + "(?:" + "|".join(f"{rest}()" for rest, _ in rests) + r")(?![a-z])"
    )
    plain = 0
    while plain < len(rests) and _LOOK_AROUND.search(rests[plain][0]) is None:
        plain += 1
    return pattern.match, tuple(entry for _, entry in rests), plain


# (Anything that could make a branch match or not depending on the text around what it matches.)
_LOOK_AROUND: Final = re.compile(r"\(\?[=!<]|\\[bBAZ]|[\^$]")
_LETTER_BRANCHES: Final[dict[str, _LetterBranches]] = {
    letter: _letter_branches(rests, letter) for letter, rests in _LETTERS.items()
}


# Which three characters can start a name, for `_short_ascii_text_matches`: a table of
# 26 x 128 x 128 bytes, one for each ASCII lowercase letter followed by two ASCII characters
# (a space for each past the text's end), 1 where some name's match may start with them.
# (Written as numbers, compiled code has them as constants instead of module attributes.)
_A: Final = 97  # ord("a")
_SPACE: Final = 32  # ord(" ")
_ANY_CHAR: Final = frozenset(range(128))
_NOT_A_LETTER: Final = frozenset(c for c in range(128) if not _A <= c <= ord("z"))
_SPACE_CHARS: Final = frozenset(c for c in range(128) if re.match(r"\s", chr(c)))


def _name_heads(rest: str, size: int) -> list[list[frozenset[int]]]:
    """Sets of ASCII characters, `size` of them in a row, such that the first `size`
    characters of any match of `rest` followed by a character not a letter (how every
    name ends) are in one of these rows' products (more rows than needed at times, never
    fewer): `rest` is read atom by atom, a group, a set or a count standing for anything."""
    atoms: list[tuple[frozenset[int], int, int]] = []  # (characters, least, most times)
    i = 0
    while i < len(rest):
        c = rest[i]
        if c in "([{":
            atoms.append((_ANY_CHAR, 0, size))
            break
        if c == "\\":
            i += 1
            assert rest[i] == "s" or not rest[i].isalnum()
            chars = _SPACE_CHARS if rest[i] == "s" else frozenset((ord(rest[i]),))
        else:
            chars = _ANY_CHAR if c == "." else frozenset((ord(c),))
        i += 1
        least = most = 1
        if i < len(rest) and rest[i] in "?*+":
            least = 0 if rest[i] in "?*" else 1
            most = 1 if rest[i] == "?" else size
            i += 1
        atoms.append((chars, least, most))
    rows: list[list[frozenset[int]]] = []

    def spell(k: int, row: list[frozenset[int]]) -> None:
        if k == len(atoms):
            # The name's end: a character not a letter, then anything.
            rows.append((row + [_NOT_A_LETTER] + [_ANY_CHAR] * size)[:size])
            return
        chars, least, most = atoms[k]
        for times in range(least, most + 1):
            longer = row + [chars] * times
            if len(longer) >= size:
                rows.append(longer[:size])
            else:
                spell(k + 1, longer)

    spell(0, [])
    return rows


def _name_heads_table() -> bytes:
    table = bytearray(26 << 14)
    for alt, _ in _BRANCHES:
        first = ord(alt[0]) - _A
        assert 0 <= first < 26
        for second, third in _name_heads(alt[1:], 2):
            for b in second:
                row = (first << 14) | (b << 7)
                if third == _ANY_CHAR:
                    table[row : row + 128] = b"\x01" * 128
                else:
                    for c in third:
                        table[row | c] = 1
    return bytes(table)


_NAME_HEADS: Final = _name_heads_table()
# Each ASCII letter, digit, "&" and "'" (the characters of a word for the gate) as itself,
# any other character as a space.
_WORD_BYTES: Final = bytes(
    i if chr(i) in "abcdefghijklmnopqrstuvwxyz0123456789&'" else _SPACE for i in range(256)
)
# `_LETTER_BRANCHES` by letter code (0 for "a"); letters no name starts with never get there.
_LETTER_BRANCHES_BY_CODE: Final[tuple[_LetterBranches, ...]] = tuple(
    _LETTER_BRANCHES.get(chr(_A + i), _LETTER_BRANCHES["a"]) for i in range(26)
)


# Word prefixes (first four letters) that can start a keyword: a set lookup decides whether the
# keyword expression needs to run at all.
# fmt: off
KEYWORD_PREFIXES: Final = frozenset((
    "what", "wats", "wass", "wazz", "whts", "wapp", "tele", "telg", "tlgr", "vibe", "chat",
    "wech", "weix", "kaka", "kik", "skyp", "disc", "thre", "wick", "boti", "imo", "imes",
    "face", "fb", "sign",
    "line", "tg", "wa", "inst", "snap", "tik", "twit", "link", "only", "ig", "sc", "yt", "yout",
    "redd", "pint", "tumb", "blue", "venm", "cash", "pp", "ppff", "payp", "pal", "zell",
    "west", "mone", "remi", "skri", "payo", "alip", "revo", "f&f", "fnf", "f", "frie", "bank",
    "wire", "e", "inte", "iban", "appl", "goog", "g", "gpay", "wise", "chim", "cryp", "bitc",
    "btc", "eth", "usdt", "usdc", "crai", "offe", "kiji", "gumt", "letg", "wall", "lebo", "ebay",
    "etsy", "merc", "posh", "depo", "grai", "stoc", "vint", "amaz", "webs", "web", "onli", "gmai",
    "yaho", "hotm", "outl", "iclo", "prot", "aol", "gmx", "emai",
))
# fmt: on

# Leetspeak: only rare names, and long enough that a skeleton match is no accident.
_LEET_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("whatsapp", _MSG),
    ("watsapp", _MSG),
    ("telegram", _MSG),
    ("signal", _MSG),
    ("viber", _MSG),
    ("wechat", _MSG),
    ("skype", _MSG),
    ("discord", _MSG),
    ("instagram", _SOCIAL),
    ("insta", _SOCIAL),
    ("snapchat", _SOCIAL),
    ("tiktok", _SOCIAL),
    ("twitter", _SOCIAL),
    ("facebook", _SOCIAL),
    ("venmo", _PAY),
    ("cashapp", _PAY),
    ("paypal", _PAY),
    ("zelle", _PAY),
    ("gmail", _EMAIL),
    ("hotmail", _EMAIL),
    ("craigslist", _MARKET),
)
# (An empty group closes each branch, as in _KEYWORD_RE: `lastindex` - 1 is the name's index.)
_LEET_RE: Final = re.compile("|".join(f"{leet_skeleton(n)}()" for n, _ in _LEET_NAMES))
# A run of letters, digits and @$!| four characters or longer that mixes letters with the rest
# (its leading letters, or leading marks, are followed by the other kind), led by the character
# before it (the text is searched with a space in front): the engine skips ahead to that
# character, where a look-behind for the run's start, as this was written before, cost it a try
# at every position of the text.
_LEET_TOKEN: Final = re.compile(
    r"[^a-z0-9@$!|](?=[a-z0-9@$!|]{4})(?:[a-z]++[0-9@$!|]|[0-9@$!|]++[a-z])[a-z0-9@$!|]*+"
)


# The kind of each ASCII character for `_leet_tokens`: "a" a letter, "0" a mark (a digit or one
# of @$!|), " " anything else.
_LEET_KINDS: Final = bytes(
    ord("a") if "a" <= chr(i) <= "z" else ord("0") if chr(i) in "0123456789@$!|" else ord(" ")
    for i in range(256)
)
_LETTER: Final = ord("a")
_MARK: Final = ord("0")

# --- context ---------------------------------------------------------------------------------


def _searched_by_first_letter(words: str, tail: str = r"\b") -> str:
    r"""`\b(?:words)tail` for a search whose result is only whether it matches, where each of
    the alternatives `words` starts with a letter: the alternatives by first letter, each letter
    followed by a look-behind for the character before it (a word boundary before a letter).

    Starting with `\b`, the expression is tried at every position; starting with one letter of
    a dozen, at those letters only, the engine skipping ahead to them. Which alternative
    matches first, and where, may change; whether one matches does not.
    """
    by_letter: dict[str, list[str]] = {}
    for alt in _alternatives(words):
        assert alt[0].isalpha() and alt[1:2] not in ("?", "*", "+", "{")
        by_letter.setdefault(alt[0], []).append(alt[1:])
    return (
        "(?:"
        + "|".join(rf"{c}(?<!\w.)(?:{'|'.join(rests)})" for c, rests in by_letter.items())
        + ")"
        + tail
    )


_NEGATION: Final = re.compile(
    _searched_by_first_letter(
        r"no|not|never|dont|don't|do\snot|doesn'?t|cant|can't|cannot|can\snot|wont|won't|"
        r"will\snot|unable|without|avoid|isn'?t|aren'?t|wasn'?t|refuse|rather\snot|prefer\snot|"
        r"instead\sof|rather\sthan|neither|nor|sin|pas|kein|keine|nicht|nunca"
    )
)
# Negative-looking idioms that do not refuse anything: "no problem", "why not", "can't you".
_NOT_NEGATION: Final = re.compile(
    r"\b(?:no\s(?:problem|prob|probs|worries|worry|rush|pressure|biggie|stress|doubt)|"
    r"not\s(?:a\sproblem|sure|bad)|why\snot|(?:don't|dont|can't|cant|won't|wont)\syou)\b"
)
# The words a negation starts with, as `detector` splits words ("don't" gives "don").
NEGATION_WORDS: Final = frozenset((
    "no", "not", "never", "dont", "don", "do", "doesn", "doesnt", "cant", "can", "cannot",
    "wont", "won", "will", "unable", "without", "avoid", "isn", "isnt", "aren", "arent", "wasn",
    "wasnt", "refuse", "rather", "prefer", "instead", "neither", "nor", "sin", "pas", "kein",
    "keine", "nicht", "nunca",
))  # fmt: skip
# The words `_REFUSED_AFTER` starts its phrases with (each followed by a space).
REFUSAL_WORDS: Final = frozenset((
    "is", "are", "isn", "isnt", "aren", "arent", "not", "against", "platform", "site", "app",
    "marketplace",
))  # fmt: skip
# Matched on the text after a name (a slice: its start is a word boundary). A search would
# retry at every later position, up to forty times the work.
_REFUSED_AFTER: Final = re.compile(
    r"[^.!?;\n]{0,40}?\b(?:(?:is|are|isn'?t|aren'?t)\s(?:not\s)?(?:allowed|permitted|forbidden|"
    r"prohibited|against)|not\sallowed|against\s(?:the\s)?(?:rules|policy|tos|terms)|"
    r"(?:platform|site|app|marketplace)\s(?:rules|policy))"
)
# Every phrase of _REFUSED_AFTER holds one of these words: where none is, it cannot match, and
# a few substring tests cost less than its try at each of up to forty positions.
_REFUSAL_KEYS: Final = (
    "allowed", "permitted", "forbidden", "prohibited", "against", "rules", "policy",
)  # fmt: skip
_HANDLE_AFTER: Final = re.compile(
    r"\s*(?:(?:id|handle|username|user\s?name|user|name|tag|acct|account|is|at)\s*)?"
    r"(?:[:=>\-→]+\s*|is\s+|@\s*|\$\s*|\s+(?=[@$]))@?\$?([a-z0-9][a-z0-9_.\-]{1,39})"
)
# The first letters of _HANDLE_AFTER's labels and its separators.
_HANDLE_FIRST: Final = "ihunta:=>-→@$"
_HANDLE_STOP: Final = frozenset(
    [
        "me",
        "you",
        "him",
        "her",
        "us",
        "them",
        "it",
        "is",
        "are",
        "the",
        "a",
        "an",
        "and",
        "or",
        "for",
        "to",
        "too",
        "only",
        "please",
        "pls",
        "thanks",
        "ok",
        "okay",
        "instead",
        "works",
        "fine",
        "if",
        "then",
        "so",
        "but",
        "no",
        "not",
        "yes",
        "here",
        "there",
        "this",
        "that",
        "my",
        "your",
        "our",
        "app",
        "account",
        "now",
        "later",
        "today",
        "tomorrow",
        "or",
        "also",
        "as",
        "well",
        "just",
        "maybe",
        "sure",
        "again",
    ]
)

# Searched for in the 40 characters before a weak name: the words written without the "\b" in
# front of each, which `_searched_by_first_letter` puts after their first letter.
_WEAK_BEFORE: Final[dict[str, re.Pattern[str]]] = {
    _MSG: re.compile(
        _searched_by_first_letter(
            r"my|ur|your|on|via|over|use|using|have|got|add\sme(?:\son)?|message\sme(?:\son)?|"
            r"text\sme(?:\son)?|hit\sme\sup(?:\son)?|contact\sme(?:\son)?",
            r"\s*$",
        )
    ),
    _SOCIAL: re.compile(
        _searched_by_first_letter(
            r"my|ur|your|on\smy|add\sme(?:\son)?|follow\sme(?:\son)?|find\sme(?:\son)?|"
            r"dm\sme(?:\son)?|message\sme(?:\son)?|hit\sme\sup(?:\son)?|check\s(?:out\s)?my|"
            r"search\s(?:for\s)?me\son|me\son",
            r"\s*$",
        )
    ),
    _PAY: re.compile(
        _searched_by_first_letter(
            r"pay|paid|paying|send|sent|accept|accepts|take|takes|via|through|thru|using|with|by|"
            r"prefer|have|my|in|do|or|over|on",
            r"(?:\s(?:me|you|it|the\smoney|the\sfunds|payment|money))?\s*$",
        )
    ),
    _MARKET: re.compile(
        _searched_by_first_letter(
            r"my|on\smy|listed\son|list\sit\son|listing\son|selling\s(?:it\s)?on|"
            r"sell\s(?:it\s)?on|relist(?:ed)?\s(?:it\s)?on|buy\s(?:it\s|this\s|them\s)?"
            r"(?:from\sme\s)?(?:on|through|via)|order\s(?:it\s)?(?:on|through|via)|"
            r"purchase\s(?:it\s)?(?:on|through|via)|find\s(?:me|for\sme|my\sname)\s(?:up\s)?on|"
            r"search\s(?:me|for\sme|my\sname)\s(?:up\s)?on|look\s(?:me|for\sme|my\sname)"
            r"\s(?:up\s)?on|message\sme\son|contact\sme\son|check\s(?:out\s)?my|visit\smy|"
            r"go\sto\smy",
            r"\s*$",
        )
    ),
    _EMAIL: re.compile(
        _searched_by_first_letter(
            r"my|via|by|on|to\smy|send\sit\sto|send\sme\san|shoot\sme\san|drop\sme\san",
            r"\s*$",
        )
    ),
}
# What may follow a weak name, past the spaces: a word or a separator.
_WEAK_AFTER_WORDS: Final[dict[str, str]] = {
    _MSG: r"me\b|id\b|only\b|number\b|instead\b|[:=@]",
    _SOCIAL: r"me\b|handle\b|username\b|page\b|account\b|[:=@]",
    _PAY: (
        r"me\b|only\b|ok\b|accepted\b|instead\b|address\b|wallet\b|handle\b|tag\b|"
        r"id\b|details\b|info\b|works\b|is\sfine\b|[:=@$]"
    ),
    _MARKET: (
        r"store\b|shop\b|page\b|account\b|username\b|user\s?name\b|id\b|profile\b|handle\b|"
        r"seller\b|instead\b|for\sless\b|cheaper\b|directly\b|to\s(?:save|avoid)"
    ),
    _EMAIL: r"me\b|address\b|account\b|is\b|[:=]",
}
_WEAK_AFTER: Final[dict[str, re.Pattern[str]]] = {
    kind: re.compile(rf"\s*(?:{words})") for kind, words in _WEAK_AFTER_WORDS.items()
}


def _first_characters(words: str) -> str:
    """The characters the alternatives of `words` can start with: each starts with a letter or
    is a set of characters written out ("[:=@]")."""
    firsts = ""
    for alt in _alternatives(words):
        if alt[0] == "[":
            assert alt.endswith("]") and "-" not in alt and "\\" not in alt
            firsts += alt[1:-1]
        else:
            assert alt[0].isalpha() and alt[1:2] not in ("?", "*", "+", "{")
            firsts += alt[0]
    return "".join(sorted(set(firsts)))


# (What `_after_spaces` must find for each of them to match.)
_WEAK_AFTER_FIRST: Final[dict[str, str]] = {
    kind: _first_characters(words) for kind, words in _WEAK_AFTER_WORDS.items()
}


_WORD_AT: Final = re.compile(r"[a-z0-9&']+")
_TOKEN: Final = re.compile("[a-z0-9]+")


# A word is a candidate when its first four letters (the whole word when shorter) are in
# KEYWORD_PREFIXES: one expression finds exactly those words, so the regex engine skips the
# others instead of a Python loop visiting every word. Only where a match starts is used, and
# every branch ends inside the word it started, so the branches may be merged into a trie.
_GATE_WORD: Final = trie_pattern(
    KEYWORD_PREFIXES, lambda p: "" if len(p) == 4 else "(?![a-z0-9&'])"
)
_PREFIX_GATE: Final = re.compile(rf"(?<![a-z0-9&']){_GATE_WORD}")
# Matched on the reversed text before a word: the gap, then the previous word backwards.
_WORD_BEFORE_REVERSED: Final = re.compile(r"[^a-z0-9&']*[a-z0-9&']+")
# The names at every word of a short text, each led by the character before it (the text is
# searched with a space in front), which the engine skips ahead to, rather than with a
# look-behind tried at every position; the character is no part of a name, so matches can
# follow one another as in a search. Neither the gate nor the empty groups are in it: over a
# short text, checking the gate at every word (two walks through the prefixes' trie, for the
# word and the one after it) costs more than trying the names there, and a match of an
# expression with 124 groups costs some 2,500 instructions more than one without. The gate is
# checked, and the entry found, only where a name matched (`_short_text_matches`).
_NAMES_AFTER_GAPS: Final = re.compile(r"[^a-z0-9&'](?:" + _BARE_NAMES + r")(?![a-z])")
# What the gate asks at a word: it or the word after it passes.
_GATED_AT: Final = re.compile(rf"{_GATE_WORD}|[a-z0-9&']++[^a-z0-9&']++{_GATE_WORD}")
# (The fast way `_short_text_matches` checks the gate: four characters that are a prefix are
# the word's first four.)
assert all(re.fullmatch("[a-z0-9&']+", p) for p in KEYWORD_PREFIXES)


# The bound methods of the expressions called once per name found, taken once: compiled, a
# method call by name looks the method up on each call (`PyObject_VectorcallMethod`), a bound
# method is called directly (see docs/performance.md, round five).
_negation_in: Final = _NEGATION.search
_refused_at: Final = _REFUSED_AFTER.match
_handle_at: Final = _HANDLE_AFTER.match
_name_after_gap: Final = _NAMES_AFTER_GAPS.search
_weak_before_in: Final[dict[str, Callable[[str], re.Match[str] | None]]] = {
    kind: pattern.search for kind, pattern in _WEAK_BEFORE.items()
}
_weak_after_at: Final[dict[str, Callable[[str, int], re.Match[str] | None]]] = {
    kind: pattern.match for kind, pattern in _WEAK_AFTER.items()
}
_gated_at: Final = _GATED_AT.match
# The entry of each name found (its text), for the names whose text tells (`_entry_of_name`).
_entries_of_names: Final[dict[str, int]] = {}


def _keyword_matches(text: str) -> list[tuple[int, int, int]]:
    """(start, end, index in _ENTRIES) of each name `_KEYWORD_RE.finditer` would find that
    starts at a word passing the gate or at the word before one."""
    if len(text) <= 61:
        return _short_ascii_text_matches(text)
    return _keyword_matches_at_gates(text)


def _short_ascii_text_matches(text: str) -> list[tuple[int, int, int]]:
    """`_short_text_matches(text)`, word by word for an ASCII text.

    The search there looks for a name after every gap, each of its characters tested against
    a set (some 60 instructions a character: the engine does not skip ahead to a set as it
    does to one character) and each word start costing a try of two dozen letters. Here the
    words come from a translate and a split, and a name is tried, by the branches of its
    first letter alone, only where the word's first three characters can start one
    (`_NAME_HEADS`): at one word in five or so.
    """
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        # (Most texts are ASCII: the exception costs less, in all, than asking each.)
        return _short_text_matches(text)
    size = len(raw)
    found: list[tuple[int, int, int]] = []
    free = 0  # where the next name may start: past the last one found
    at = 0
    for word in raw.translate(_WORD_BYTES).split(b" "):
        n = len(word)
        if n and at >= free:
            first = word[0] - _A
            if 0 <= first < 26:
                # (The text's end reads as a space: it ends a name as a space does.)
                second = raw[at + 1] if at + 1 < size else _SPACE
                third = raw[at + 2] if at + 2 < size else _SPACE
                if _NAME_HEADS[(first << 14) | (second << 7) | third]:
                    match, entries, _ = _LETTER_BRANCHES_BY_CODE[first]
                    m = match(text, at)
                    if m is not None and (
                        text[at : at + 4] in KEYWORD_PREFIXES or _gated_at(text, at) is not None
                    ):
                        end = m.end()
                        branch = m.lastindex
                        assert branch is not None
                        found.append((at, end, entries[branch - 1]))
                        free = end + 1
        at += n + 1
    return found


def _short_text_matches(text: str) -> list[tuple[int, int, int]]:
    # `_keyword_matches_at_gates` looks for the word before a gated one within 60 characters, so
    # for texts of up to 61 characters, where that limit never cuts anything off, this is what
    # it finds: each name `_NAMES_AFTER_GAPS` finds where the gate lets it, the search going on
    # after a name found and right after a name the gate turns away (a name the gate lets
    # through may start inside that one).
    found: list[tuple[int, int, int]] = []
    spaced = " " + text
    pos = 0
    m = _name_after_gap(spaced, pos)
    while m is not None:
        # (The text has one character in front: the gap is spaced[start], the name starts at
        # text[start].)
        start = m.start()
        end = m.end() - 1
        # Four characters that are a prefix are the word's first four (most names are longer).
        if text[start : start + 4] in KEYWORD_PREFIXES or _gated_at(text, start) is not None:
            found.append((start, end, _entry_of_name(text, start, end)))
            pos = m.end()
        else:
            pos = start + 1
        m = _name_after_gap(spaced, pos)
    return found


def _entry_of_name(text: str, start: int, end: int) -> int:
    """The entry (index in _ENTRIES) of the name text[start:end] `_NAMES_AFTER_GAPS` found."""
    name = text[start:end]
    entry = _entries_of_names.get(name)
    if entry is not None:
        return entry
    # The branches starting with its letter, matched where it stands as `_KEYWORD_RE` would:
    # the first that matches wins, with the same span.
    match, entries, plain = _LETTER_BRANCHES[name[0]]
    m = match(text, start)
    assert m is not None and m.lastindex is not None
    branch = m.lastindex - 1
    entry = entries[branch]
    # A branch that looks only at what it matches (and the letter after it, as all do) matches
    # that text wherever it stands; so does every branch before it, or fails wherever it
    # stands: the same text is always this branch's, and its entry can be kept.
    if branch < plain:
        remember(_entries_of_names, name, entry, 50_000)
    return entry


def _keyword_matches_at_gates(text: str) -> list[tuple[int, int, int]]:
    # Trying the keyword expression only where a word with a keyword prefix starts (or the word
    # before it, for two-word names like "pay pal") is several times faster than a search.
    found: list[tuple[int, int, int]] = []
    last_end = 0
    tried: set[int] = set()
    for w in matches(_PREFIX_GATE, text):
        start = w.start()
        before = _WORD_BEFORE_REVERSED.match(text[max(0, start - 60) : start][::-1])
        prev = start - before.end() if before is not None else -1
        for pos in (prev, start):
            if pos < last_end or pos in tried or pos < 0:
                continue
            tried.add(pos)
            m = _KEYWORD_RE.match(text, pos)
            if m is not None:
                assert m.lastindex is not None
                found.append((pos, m.end(), _ENTRY_OF_BRANCH[m.lastindex - 1]))
                last_end = m.end()
    return found


def prefixes(words: set[str]) -> set[str]:
    """First four letters of each word (whole word when shorter), for the keyword gate."""
    return {w[:4] for w in words}


_CLAUSE_MARKS: Final = ".!?;,\n"
_CLAUSE_WORDS: Final = (" but ", " however ", " instead ", " pero ", " mais ", " aber ")


def _clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    # str.rfind/find per mark: a regex over the window costs several times more.
    lo = max(0, start - 80)
    clause_start = lo
    for mark in _CLAUSE_MARKS:
        i = text.rfind(mark, lo, start)
        if i >= clause_start:
            clause_start = i + 1
    for word in _CLAUSE_WORDS:
        i = text.rfind(word, lo, start)
        if i >= 0 and i + len(word) - 1 > clause_start:
            clause_start = i + len(word) - 1
    hi = min(len(text), end + 80)
    clause_end = hi
    for mark in _CLAUSE_MARKS:
        i = text.find(mark, end, clause_end)
        if i >= 0:
            clause_end = i
    for word in _CLAUSE_WORDS:
        i = text.find(word, end, clause_end)
        if i >= 0:
            clause_end = i
    return clause_start, clause_end


def refused(
    text: str, start: int, end: int, negation: bool = True, refusal_after: bool = True
) -> bool:
    """True when the clause around text[start:end] refuses rather than invites.

    `negation=False` and `refusal_after=False` are promises from a caller who has seen the
    words (see NEGATION_WORDS and REFUSAL_WORDS) that the expressions cannot match.
    """
    # The clause lies inside the 80 characters either side (sliced the same way) and starts
    # after a mark or a space, where a word boundary holds either way: when neither expression
    # matches in the wider windows it cannot match in the clause, and finding the clause (two
    # dozen str searches) is skipped. Most names and phrases are not refused.
    # (A window that starts past the text's start may begin inside a word, where a piece of
    # it could pass for a negation: the promise covers whole words only.)
    if (
        (not negation and start <= 80) or _negation_in(text[max(0, start - 80) : start]) is None
    ) and (not refusal_after or _refused_after(text[end : end + 80]) is None):
        return False
    c0, c1 = _clause_bounds(text, start, end)
    before = text[c0:start]
    if _negation_in(before) is not None:
        cleaned = _NOT_NEGATION.sub(" ", before)
        if _negation_in(cleaned) is not None:
            return True
    return _refused_at(text[end:c1]) is not None


def _refused_after(after: str) -> re.Match[str] | None:
    """`_REFUSED_AFTER.match(after)`, skipped when none of its phrases' words is there."""
    # (The words of _REFUSAL_KEYS written out: compiled, a loop over the tuple goes through
    # Python's iteration protocol, some 70 instructions a word more.)
    if (
        "allowed" in after
        or "permitted" in after
        or "forbidden" in after
        or "prohibited" in after
        or "against" in after
        or "rules" in after
        or "policy" in after
    ):
        return _refused_at(after)
    return None


_HANDLE_LIKE: Final = re.compile(r"[0-9_.\-]")
_EXPLICIT_SEP: Final = re.compile(r"[:=@$]")
_ON_PLATFORM_WORDS: Final = "at|through|thru|via|on|in|using|with"
_ON_PLATFORM_AFTER: Final = re.compile(
    rf"\s*(?:{_ON_PLATFORM_WORDS})\s(?:the\s|your\s|our\s)?"
    r"(?:checkout|check\sout|app|platform|site|here|cart)\b"
)
_ON_PLATFORM_FIRST: Final = _first_characters(_ON_PLATFORM_WORDS)


# (Bound once, as `_negation_in` above.)
_explicit_sep_in: Final = _EXPLICIT_SEP.search
_on_platform_at: Final = _ON_PLATFORM_AFTER.match


def _may_have_handle(text: str, end: int) -> bool:
    """False when `_HANDLE_AFTER` cannot match at `end`.

    It needs first, past the spaces, a label ("id", "handle", "is", "at" ...) or a separator
    (":", "@", "$" ...). Most names are followed by neither ("venmo me"), and a look at one
    character spares the expression.
    """
    following = _after_spaces(text, end)
    return following != "" and following in _HANDLE_FIRST


def _after_spaces(text: str, end: int) -> str:
    r"""The first character from `end` on that is not a space, "" at the text's end.

    An expression that starts with `\s*` followed by words or separators matches at `end`
    only if it is one they start with (`\s` is `str.isspace`): most names are followed by
    none, and this look spares the expression (some 1,000 instructions a call).
    """
    size = len(text)
    at = end
    while at < size and text[at].isspace():
        at += 1
    return text[at] if at < size else ""


def _handle_after(text: str, end: int, strict: bool) -> int | None:
    """End of a handle given right after a name ("snap: coinguy88"), or None.

    `strict` (names that are also common words) wants an explicit separator or a handle that
    looks like one (digits, "_" or "."), so "line is busy" is not a handle.
    """
    if not _may_have_handle(text, end):
        return None
    m = _handle_at(text, end)
    if m is None:
        return None
    handle = m.group(1).rstrip(".-")
    if handle in _HANDLE_STOP or len(handle) < 2:
        return None
    # "is" alone is too weak a separator ("WhatsApp is against the rules"): without ":", "=",
    # "@" or "$" the handle must look like one; `strict` names want that even after "-".
    explicit = _explicit_sep_in(text, end, m.start(1)) is not None
    dash = not explicit and "-" in text[end : m.start(1)]
    if not explicit and (strict or not dash) and _HANDLE_LIKE.search(handle) is None:
        return None
    return m.start(1) + len(handle)


def find_keywords(
    text: str,
    names: bool,
    disguised: Callable[[int, int], bool] | None,
    mixed_words: bool = True,
    *,
    negation: bool = True,
    refusal_after: bool = True,
) -> list[Hit]:
    """Outside channels named in an inviting way in the de-obfuscated view `text`.

    `names=False` (no word's `prefixes` is in KEYWORD_PREFIXES) skips the pass over names.
    `negation` and `refusal_after` are passed to `refused` for names (see there).
    `disguised(a, b)` says whether text[a:b] was disguised in the original (spaced letters,
    fullwidth ...; None: nothing was): a disguised name is never innocent, so it counts
    without context.
    `mixed_words=False` (no word mixes letters with digits or symbols) skips the leetspeak pass.
    """
    hits: list[Hit] = []
    if names:
        for start, end, index in _keyword_matches(text):
            name, kind, strong, _ = _ENTRIES[index]
            handle_end = _handle_after(text, end, not strong)
            odd = disguised is not None and disguised(start, end)
            if handle_end is not None and (strong or kind != _MARKET):
                hits.append(Hit(start, handle_end, kind, f"{name}_handle"))
                continue
            # (A name ends before anything but a letter, so the words after it are whole.)
            following = _after_spaces(text, end)
            if refused(text, start, end, negation, refusal_after) or (
                following != ""
                and following in _ON_PLATFORM_FIRST
                and _on_platform_at(text, end) is not None
            ):
                continue
            if strong or odd:
                hits.append(Hit(start, end, kind, f"{name}_mention"))
                continue
            # (What follows first: its look costs less than the search before.)
            if (
                following != ""
                and following in _WEAK_AFTER_FIRST[kind]
                and _weak_after_at[kind](text, end) is not None
            ) or _weak_before_in[kind](text[max(0, start - 40) : start]) is not None:
                hits.append(Hit(start, end, kind, f"{name}_context"))
    if not mixed_words:
        return hits
    for at, stop in _leet_candidates(text):
        found = _leet_names[text[at:stop]]
        if found is None:
            continue
        index, a, b = found
        name, kind = _LEET_NAMES[index]
        start, end = at + a, at + b
        if any(h.start <= start < h.end for h in hits) or refused(text, start, end):
            continue
        handle_end = _handle_after(text, end, False)
        hits.append(Hit(start, handle_end or end, kind, f"{name}_leet"))
    return hits


def _leet_tokens(text: str) -> list[tuple[int, int]]:
    """(start, end) of each token `_LEET_TOKEN` finds in `text` (searched with a space in front).

    An ASCII text is read through its characters' kinds instead (`_LEET_KINDS`): split at each
    character of neither kind, its pieces are the runs of letters and marks, in order, one
    character apart; a token is a run four characters or longer holding both kinds. (The
    expression tries every gap between words; the split and a few byte tests cost less.)
    """
    if not text.isascii():
        # (The text has one character in front: the token is text[m.start() : m.end() - 1].)
        return [(m.start(), m.end() - 1) for m in matches(_LEET_TOKEN, " " + text)]
    found: list[tuple[int, int]] = []
    at = 0
    for run in text.encode("ascii").translate(_LEET_KINDS).split(b" "):
        n = len(run)
        # (Looked for as byte values: looking for b"0" goes through a failed conversion to int.)
        if n >= 4 and _MARK in run and _LETTER in run:
            found.append((at, at + n))
        at += n + 1
    return found


def _leet_candidates(text: str) -> list[tuple[int, int]]:
    """The tokens of `_leet_tokens(text)` that may hold a leetspeak name: those as long as the
    shortest name and, in an ASCII text, with a name's first three letters in their skeleton
    (`_leet_head`), what `_leet_name` would look for first. Most tokens have none ("10am",
    "coinguy88"), and are spared slicing and a lookup in `_leet_names`."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return [(a, b) for a, b in _leet_tokens(text) if b - a >= _SHORTEST_LEET_NAME]
    # (Each character has one in the skeleton, at the same place: a token's skeleton is the
    # text's, sliced.)
    skeleton = raw.translate(_LEET_BYTES)
    found: list[tuple[int, int]] = []
    at = 0
    # (The runs of `_leet_tokens`, read the same way.)
    for run in raw.translate(_LEET_KINDS).split(b" "):
        n = len(run)
        if (
            n >= _SHORTEST_LEET_NAME
            and _MARK in run
            and _LETTER in run
            and _leet_head(skeleton, at, at + n) >= 0
        ):
            found.append((at, at + n))
        at += n + 1
    return found


def _leet_head(skeleton: bytes, start: int, stop: int) -> int:
    """The first place in skeleton[start:stop] where a name's first three letters stand
    (`_LEET_HEADS`) with room for the shortest name, or -1: no name starts before it.

    The names' expression would test each character against the names' first letters, at
    some 60 instructions each, then step through the names at each of those letters; most
    tokens hold none of the score of heads.
    """
    last = stop - _SHORTEST_LEET_NAME
    at = start
    while at <= last:
        first = skeleton[at] - _A
        if 0 <= first < 26:
            second = skeleton[at + 1] - _A
            if 0 <= second < 26:
                third = skeleton[at + 2] - _A
                if 0 <= third < 26 and _LEET_HEADS[(first * 26 + second) * 26 + third]:
                    return at
        at += 1
    return -1


class _LeetNames(dict[str, tuple[int, int, int] | None]):
    """The leetspeak name in a token ("wh4tsapp"): (index in _LEET_NAMES, start, end), or None.

    Tokens such as "2pm" or "10am" come back in message after message; the answer is kept.
    """

    def __missing__(self, token: str) -> tuple[int, int, int] | None:
        found = _leet_name(token)
        remember(self, token, found, 50_000)
        return found


def _leet_name(token: str) -> tuple[int, int, int] | None:
    """`_leet_name_in_general(token)`, most tokens spared the work.

    The skeleton has one character for each of the token's, so a token shorter than every
    name holds none ("10am", "2pm"). An ASCII token (every token of an ASCII text) is mapped
    to its skeleton as bytes, through a table of 256 (`str.translate` with a dict looks each
    character up and builds the string piece by piece: ten times the cost), and the names'
    expression searched as bytes, the same positions.
    """
    if len(token) < _SHORTEST_LEET_NAME:
        return None
    if not token.isascii():
        return _leet_name_in_general(token)
    skeleton = token.encode("ascii").translate(_LEET_BYTES)
    # (Searched from the first place a name can start.)
    at = _leet_head(skeleton, 0, len(skeleton))
    if at < 0:
        return None
    found = _LEET_RE_BYTES.search(skeleton, at)
    if found is None or found.lastindex is None:
        return None
    return found.lastindex - 1, found.start(), found.end()


def _leet_name_in_general(token: str) -> tuple[int, int, int] | None:
    """The leetspeak name in `token`, the long way (the reference for `_leet_name`)."""
    found = _LEET_RE.search(leet_skeleton(token))
    if found is None or found.lastindex is None:
        return None
    return found.lastindex - 1, found.start(), found.end()


_SHORTEST_LEET_NAME: Final = min(len(leet_skeleton(name)) for name, _ in _LEET_NAMES)
# `leet_skeleton` of each ASCII character (each maps to one ASCII character), as a byte table;
# the names' expression, all ASCII letters, as bytes.
_LEET_BYTES: Final = bytes(ord(leet_skeleton(chr(i))) for i in range(128)) + bytes(range(128, 256))
_LEET_RE_BYTES: Final = re.compile(_LEET_RE.pattern.encode("ascii"))
assert all(re.fullmatch("[a-z]{5,}", leet_skeleton(name)) for name, _ in _LEET_NAMES)


def _leet_heads_table() -> bytes:
    """1 at (first * 26 + second) * 26 + third (letters counted from "a") for the first three
    letters of each name's skeleton."""
    table = bytearray(26**3)
    for name, _ in _LEET_NAMES:
        first, second, third = (ord(c) - _A for c in leet_skeleton(name)[:3])
        table[(first * 26 + second) * 26 + third] = 1
    return bytes(table)


_LEET_HEADS: Final = _leet_heads_table()
assert all(len(leet_skeleton(chr(i))) == 1 for i in range(128))


_leet_names: Final = _LeetNames()


def clear_caches() -> None:
    """Forget remembered leetspeak verdicts and names' entries (for cold-cache benchmarks)."""
    _leet_names.clear()
    _entries_of_names.clear()


# --- solicitation ------------------------------------------------------------------------------

_PLATFORM: Final = (
    r"(?:the\s|this\s|their\s)?"
    r"(?:app|platform|site|website|marketplace|system|ebay|etsy|here|checkout)"
)
_SOLICIT_ENTRIES: Final[tuple[tuple[str, str], ...]] = (
    (
        "contact_me",
        r"\b(?:text|txt|call|ring|phone|sms|e-?mail|whatsapp|telegram|viber|imessage|facetime)"
        r"\s(?:me|us)\b(?!\s(?:here|through|via|on\s(?:the\s)?(?:app|platform|site)|in\s(?:the\s)?"
        r"(?:app|chat)))|\bgive\sme\sa\s(?:call|ring|text|buzz)\b|\b(?:shoot|drop|send)\sme\s(?:a|an)\s"
        r"(?:text|txt|e-?mail|call|line|sms)\b|\b(?:hmu|hit\sme\sup|reach\sme|contact\sme|dm\sme|pm\sme|"
        r"message\sme|msg\sme|ping\sme|find\sme|add\sme|follow\sme|look\sme\sup|catch\sme)"
        r"\s(?:on|at|via|@|off|directly|privately|outside|elsewhere|personally)\b"
        r"(?!\s(?:the\s|this\s|your\s|my\s)?(?:app|platform|site|here|chat|checkout|inbox)\b)|"
        r"\bgoogle\s(?:me|my\s(?:name|shop|store|business))\b|\bcall\sor\stext\b|"
        r"\b(?:move|take|switch|continue|go)\s(?:this\s|it\s|the\sconversation\s|the\schat\s)?"
        r"(?:over\s)?(?:to|on)\s(?:e-?mail|text|texting|whatsapp|telegram|phone|sms|signal|"
        r"messenger|insta|instagram|snap|discord)\b",
    ),
    (
        "contact_exchange",
        r"\b(?:give|send|share|drop|leave|post|tell|pass|dm|text|pm|what'?s|whats|wats|is|here'?s|"
        r"heres|here\sis|need|want)\s(?:me\s|you\s|us\s)?(?:your|ur|yr|my|me\syour)\s"
        r"(?:(?:cell|mobile|phone|personal|private|direct|home|work|contact|whatsapp|telegram)\s)?"
        r"(?:number|#|no\b|num\b|digits|contact(?:\s(?:info|details|information|number))?|"
        r"e-?mail(?:\saddress)?|cell|mobile|phone|socials?|handle|@|contact\sinfo)"
        r"|\bmy\s(?:(?:cell|mobile|phone|personal|private|direct|home|work)\s)?(?:number|#|num|"
        r"digits|cell|mobile|e-?mail(?:\saddress)?|contact(?:\sinfo)?|socials?)\s?(?:is|:|=|-|>|\bat\b)"
        r"|\b(?:mi\s(?:numero|correo|celular|movil|whatsapp|telefono|cel)|llamame|escribeme|"
        r"mon\s(?:numero|mail|email|tel|portable|whatsapp)|appelle[\s-]?moi|ecris[\s-]?moi|"
        r"meine\s(?:nummer|handynummer|telefonnummer|email|e-mail)|ruf\smich\san|schreib\smir)\b",
    ),
    (
        "off_platform",
        rf"\b(?:off|outside(?:\sof)?|away\sfrom|bypass(?:ing)?|skip(?:ping)?|go\saround)\s"
        rf"{_PLATFORM}\b|\b(?:deal|trade|sell|buy|pay|paying|purchase|transact|talk|chat|continue|"
        r"finish|do\s(?:this|it|the\sdeal)|move\s(?:this|it)|take\s(?:this|it))\s"
        r"(?:(?:it|this|them|one)\s)?(?:(?:to|with|from)\s)?(?:(?:me|you|us)\s)?(?:directly|direct|privately|in\sprivate|elsewhere|"
        r"somewhere\selse|offline|off\s?line|outside|on\sthe\sside|under\sthe\stable)\b"
        r"(?!\s(?:through|via|at|on|in|using)\s(?:the\s)?(?:checkout|app|platform|site|here))"
        r"|\b(?:side|off-platform|offline)\s(?:deal|sale|transaction|payment)\b"
        r"|\b(?:private|direct)\s(?:deal|transaction|payment)\b",
    ),
    (
        "save_fees",
        r"\b(?:save|saving|avoid|avoiding|skip|skipping|dodge|cut|bypass|split|no\smore)\s"
        r"(?:on\s)?(?:the\s|those\s|their\s|all\sthe\s|these\s)?(?:platform\s|site\s|app\s|ebay\s|"
        r"seller\s|service\s|transaction\s|marketplace\s|stupid\s|extra\s)*fees?\b|\bfee[\s-]free\b|"
        r"\bcut\sout\sthe\smiddle\s?m[ae]n\b|\bno\smiddle\s?m[ae]n\b|\bwithout\s(?:the\s)?fees?\b",
    ),
)
_SOLICIT_RES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pat)) for name, pat in _SOLICIT_ENTRIES
)
# Each phrase needs one of these (rarer) words; a set lookup skips the expression otherwise.
# fmt: off
_SOLICIT_GATES: Final[dict[str, frozenset[str]]] = {
    "contact_me": frozenset((
        "text", "txt", "call", "ring", "phone", "sms", "email", "e", "whatsapp", "telegram",
        "viber", "imessage", "facetime", "give", "shoot", "drop", "send", "hmu", "hit", "reach",
        "contact", "dm", "pm", "message", "msg", "ping", "find", "add", "follow", "look",
        "catch", "google", "move", "take", "switch", "continue", "go",
    )),
    "contact_exchange": frozenset((
        "number", "#", "num", "digits", "contact", "email", "mail", "cell", "mobile",
        "phone", "social", "socials", "handle", "@", "info", "numero", "correo", "celular",
        "movil", "whatsapp", "telefono", "cel", "tel", "portable", "nummer", "handynummer",
        "telefonnummer", "llamame", "escribeme", "appelle", "ecris", "ruf", "schreib",
    )),
    "off_platform": frozenset((
        "app", "platform", "site", "website", "marketplace", "system", "ebay", "etsy",
        "checkout", "directly", "direct", "privately", "private", "elsewhere", "somewhere",
        "offline", "outside", "side", "table", "line",
    )),
    "save_fees": frozenset(("fee", "fees", "middleman", "middlemen", "middle")),
}
# The words each phrase can start with, as `detector` splits words (at "'" and "-", so
# "what's" starts with "what" and "e-mail" with "e").
_SOLICIT_STARTS: Final[dict[str, frozenset[str]]] = {
    "contact_me": _SOLICIT_GATES["contact_me"],
    "contact_exchange": frozenset((
        "give", "send", "share", "drop", "leave", "post", "tell", "pass", "dm", "text", "pm",
        "what", "whats", "wats", "is", "here", "heres", "need", "want", "my", "mi", "llamame",
        "escribeme", "mon", "appelle", "appellemoi", "ecris", "ecrismoi", "meine", "ruf",
        "schreib",
    )),
    "off_platform": frozenset((
        "off", "outside", "away", "bypass", "bypassing", "skip", "skipping", "go", "deal",
        "trade", "sell", "buy", "pay", "paying", "purchase", "transact", "talk", "chat",
        "continue", "finish", "do", "move", "take", "side", "offline", "private", "direct",
    )),
    "save_fees": frozenset((
        "save", "saving", "avoid", "avoiding", "skip", "skipping", "dodge", "cut", "bypass",
        "split", "no", "fee", "without",
    )),
}
# fmt: on
SOLICIT_WORDS: Final[frozenset[str]] = frozenset().union(*_SOLICIT_GATES.values())
_SolicitPhrase = tuple[str, re.Pattern[str], frozenset[str], frozenset[str]]
_SOLICIT_PHRASES: Final[tuple[_SolicitPhrase, ...]] = tuple(
    (name, pattern, _SOLICIT_GATES[name], _SOLICIT_STARTS[name]) for name, pattern in _SOLICIT_RES
)


# Each phrase's `match`, bound once (see `_negation_in`).
_solicit_match: Final[tuple[Callable[[str, int], re.Match[str] | None], ...]] = tuple(
    pattern.match for _, pattern, _, _ in _SOLICIT_PHRASES
)


# Per word, which phrases it gates (bit i: the i-th phrase's gate words) and starts (bit
# _STARTS_BIT << i: its first words).
_STARTS_BIT: Final = 1 << len(_SOLICIT_PHRASES)
_ANY_GATE: Final = _STARTS_BIT - 1
_SOLICIT_BITS: Final[dict[str, int]] = {}
for _i, _phrase in enumerate(_SOLICIT_PHRASES):
    _gate, _starts = _phrase[2], _phrase[3]
    for _word in _gate:
        _SOLICIT_BITS[_word] = _SOLICIT_BITS.get(_word, 0) | (1 << _i)
    for _word in _starts:
        _SOLICIT_BITS[_word] = _SOLICIT_BITS.get(_word, 0) | (_STARTS_BIT << _i)


def find_solicitation(
    text: str,
    words: list[str],
    plain: bool = False,
    negation: bool = True,
) -> list[Hit]:
    """Invitations to move the conversation or the payment off the platform.

    `words` are the text's words; a phrase is looked for only when its gate words are among
    them or among the text's [a-z0-9] tokens. A phrase starts where one of its first words
    stands as a whole token (its first word is always followed by something else), so it is
    tried there alone instead of at every position of the text: `plain` says the text is ASCII
    and every word is letters and digits only, and then the words are those tokens.
    `negation` is passed to `refused` (a phrase starts a word, so the words before it are
    whole).
    """
    hits: list[Hit] = []
    # What each word gates and starts, or-ed: one lookup per word instead of a set operation
    # per phrase (`_SOLICIT_BITS`). With it, the tokens that start some phrase, with what they
    # start, from the same lookup.
    present = 0
    starters: list[tuple[str, int]] = []
    tokens = words
    if not plain:
        for word in words:
            present |= _SOLICIT_BITS.get(word, 0)
        # The tokens too: a gate word glued to a symbol ("#whatsapp me") counts.
        tokens = _tokens(text)
    for token in tokens:
        bits = _SOLICIT_BITS.get(token, 0)
        if bits:
            present |= bits
            if bits & ~_ANY_GATE:
                starters.append((token, bits))
    if not present & _ANY_GATE:
        return hits  # most messages
    for i, (name, _, _, _) in enumerate(_SOLICIT_PHRASES):
        if not present & (1 << i):
            continue
        # (A list, repeats left out: compiled, a loop over a set goes through Python's
        # iteration protocol, and building one costs more than a few comparisons.)
        first_words: list[str] = []
        starts_phrase = _STARTS_BIT << i
        for token, bits in starters:
            if bits & starts_phrase and token not in first_words:
                first_words.append(token)
        for m in _word_led_matches(_solicit_match[i], text, first_words):
            start, end = m.span()
            if not refused(text, start, end, negation):
                hits.append(Hit(start, end, _SOLICIT, name))
    return hits


def _tokens(text: str) -> list[str]:
    """`_TOKEN.findall(text)`: in an ASCII text, the words left when every other character is
    a space (a translate by table and a split cost less than the search)."""
    if text.isascii():
        return text.encode("ascii").translate(_TOKEN_BYTES).decode("ascii").split()
    return _TOKEN.findall(text)


# Each ASCII letter and digit as itself, any other character as a space.
_TOKEN_BYTES: Final = bytes(
    i if chr(i) in "abcdefghijklmnopqrstuvwxyz0123456789" else ord(" ") for i in range(256)
)


def _word_led_matches(
    match: Callable[[str, int], re.Match[str] | None], text: str, first_words: list[str]
) -> list[re.Match[str]]:
    """What `pattern.finditer(text)` finds, `match` being `pattern.match`, for a pattern whose
    matches start with one of `first_words` (the ones present, each once) as whole tokens (see
    `find_solicitation`): the pattern is tried at each of their occurrences, left to right,
    never inside an earlier match."""
    starts: list[int] = []
    size = len(text)
    for word in first_words:
        n = len(word)
        at = text.find(word)
        while at >= 0:
            end = at + n
            if (at == 0 or not text[at - 1].isalnum()) and (end == size or not text[end].isalnum()):
                starts.append(at)
            at = text.find(word, end)
    if len(starts) > 1:
        starts.sort()
    found: list[re.Match[str]] = []
    last_end = 0
    for at in starts:
        if at < last_end:
            continue
        m = match(text, at)
        if m is not None:
            found.append(m)
            last_end = m.end()
    return found
