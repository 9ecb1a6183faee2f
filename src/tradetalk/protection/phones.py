"""Phone numbers, also dictated, disguised or split over several messages.

A cheap pass groups digit-like tokens (digits, number words, look-alike letters inside digit
runs) that only soft separators divide into runs; only runs long enough to be a phone number
and not covered by a trap or a tracking number are handed to `phonenumbers`, which is slow.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Sequence
from functools import lru_cache
from typing import Final

import phonenumbers
from phonenumbers import re_util

from tradetalk.protection.memo import remember
from tradetalk.protection.tracking import compact_first_checked
from tradetalk.protection.traps import (
    PHONE_CUE,
    PHONE_CUE_WORDS,
    TRACKING_CONTEXT,
    TRACKING_WORDS,
    trap_spans,
)
from tradetalk.protection.traps import clear_caches as _clear_trap_caches
from tradetalk.protection.trie import trie_pattern
from tradetalk.protection.wordnums import (
    COMPOUND_PATTERN,
    CONNECTORS,
    NUMBER_WORDS,
    is_number_word,
    words_to_digits,
)

# Fillers people put between the parts of a dictated number ("415, then 555 and 0123").
_FILLERS: Final = CONNECTORS | frozenset({"then", "dash", "space", "puis", "luego", "dann"})

__all__ = ["PhoneHit", "clear_caches", "find_phones"]

# phonenumbers compiles its metadata patterns through the re module's 512-entry cache; with a
# few regions in play they evict each other and get recompiled (milliseconds each). The
# library's own switch keeps them.
if hasattr(re_util, "enable_pattern_cache"):
    re_util.enable_pattern_cache()

_TOKEN: Final = re.compile(r"[a-z0-9]+")
# Characters that end a digit run: they tie a number to a price, time, ratio or handle.
_HARD_GAP: Final = r":$€£¥%#@=&!?;\"'<>"
_LOOKALIKE: Final = str.maketrans({"o": "0", "l": "1", "i": "1", "s": "5", "b": "8"})
_LOOKALIKE_LETTERS: Final = frozenset("olisb")
_SUFFIX_ONLY: Final = re.compile(r"\d+[a-z]+")
_PARTS: Final = re.compile(r"\d+|[a-z]+")
_GLUE_WORDS: Final = {
    w: d
    for w, d in (
        ("zero", "0"), ("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"),
        ("five", "5"), ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9"),
    )
}  # fmt: skip
# Alternative regions tried only for a run that is clearly meant as a number (dictated,
# disguised, or next to "call"/"text"): people write their home number without "+".
_OTHER_REGIONS: Final = ("GB", "DE", "FR", "AU", "IT", "NL", "IN", "IE", "BR", "MX", "ES")
_MAX_GAP: Final = 6


# A token `_classify` can give a class to: digits (also with look-alike letters or number
# words glued on), a number word or a filler. Any other token between two of them ends a run,
# so a chain of these tokens joined by soft gaps (at most _MAX_GAP characters, no letter, digit
# or hard gap among them) holds every run of the text; the text between chains need not be
# looked at token by token. A chain whose groups `first` and `later` are both unset is plain
# digits: one run, one digit group per token.
def _numeric_token(group: str, words: str) -> str:
    # Plain digits come first, so the named group is set only for a token with letters: digits
    # with look-alike letters ("4l5", "o199", also "5lbs", which `_classify` turns down),
    # digits glued to digit words ("3one2"), both at once ("o1three4"), or one of `words`.
    glue = "|".join(_GLUE_WORDS)
    return (
        rf"(?:[0-9]++(?![a-z])|(?P<{group}>(?:[olisb]*+[0-9][olisb0-9]*+"
        rf"|(?:{glue}|[olisb])*+[0-9](?:[0-9]|{glue}|[olisb])*+|{words})(?![a-z0-9])))"
    )


def _chain(words: str) -> re.Pattern[str]:
    return re.compile(
        rf"(?<![a-z0-9]){_numeric_token('first', words)}"
        rf"(?:[^a-z0-9{_HARD_GAP}]{{1,{_MAX_GAP}}}{_numeric_token('later', words)})*"
    )


_CHAIN: Final = _chain(f"{trie_pattern(NUMBER_WORDS | _FILLERS)}|{COMPOUND_PATTERN}")
# The same where no token is a number word: only fillers can join the digits.
_DIGIT_CHAIN: Final = _chain(trie_pattern(_FILLERS))
# Called at each token a chain may start at: the bound methods, taken once, spare the method
# lookup by name that a compiled `_CHAIN.match(...)` makes on every call.
_chain_at: Final = _CHAIN.match
_digit_chain_at: Final = _DIGIT_CHAIN.match

# Letter-only first parts of tracking numbers typed with spaces ("TBA 0000...", "GM 2 9 5").
_TRACKING_PREFIXES: Final = frozenset(
    [
        "tba",
        "tbc",
        "tbm",
        "gm",
        "lx",
        "rx",
        "uv",
        "cn",
        "sg",
        "th",
        "in",
        "hk",
        "my",
        "jjd",
        "jd",
        "ltn",
        "sp",
        "yt",
        "gfus",
        "c",
        "d",
        "k",
        "j",
        "v",
        "l",
        "1z",
        "z",
    ]
)


# Plain classes with slots rather than NamedTuples: made for every number, they cost a fraction
# of one, above all once compiled.


class PhoneHit:
    """A phone number found in the normalised view (view coordinates)."""

    __slots__ = ("end", "rule", "start")

    def __init__(self, start: int, end: int, rule: str) -> None:
        self.start = start
        self.end = end
        self.rule = rule

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PhoneHit) and (
            self.start == other.start and self.end == other.end and self.rule == other.rule
        )

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.rule))

    def __repr__(self) -> str:
        return f"PhoneHit({self.start!r}, {self.end!r}, {self.rule!r})"


class _Group:
    """Digits of a run and where they stand; `disguised` when not typed as ASCII digits."""

    __slots__ = ("digits", "disguised", "end", "start")

    def __init__(self, digits: str, start: int, end: int, disguised: bool) -> None:
        self.digits = digits
        self.start = start
        self.end = end
        self.disguised = disguised


class _Tok:
    """A token of a run and its class."""

    __slots__ = ("end", "kind", "start", "text")

    def __init__(self, kind: str, text: str, start: int, end: int) -> None:
        self.kind = kind  # "d" digits, "w" number word, "c" connector, "l" look-alike digits
        self.text = text
        self.start = start
        self.end = end


@lru_cache(maxsize=8)
def _possible_lengths(region: str) -> frozenset[int]:
    # Only full national numbers (and with the country code) are looked for inside longer
    # runs: a 7-digit local number next to other figures is too likely a coincidence.
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if meta is None or meta.general_desc is None:
        return frozenset(range(8, 14))
    lengths = set(meta.general_desc.possible_length or ())
    code = phonenumbers.country_code_for_region(region)
    lengths |= {n + len(str(code)) for n in list(lengths)}
    return frozenset(lengths)


_class_cache: Final[dict[str, tuple[str, str] | None]] = {}


def _classify_token(tok: str) -> tuple[str, str] | None:
    """What a token contributes to a number: digits, a number word, a filler, or nothing."""
    cached = _class_cache.get(tok, _MISSING)
    if cached is not _MISSING:
        return cached
    result = _classify(tok)
    remember(_class_cache, tok, result, 50_000)
    return result


# A sentinel of the cache's value type, told apart by identity.
_MISSING: Final[tuple[str, str] | None] = ("<missing>", "")


def clear_caches() -> None:
    """Forget every remembered token class, verdict and trap span (for cold-cache benchmarks)."""
    _class_cache.clear()
    _judge.cache_clear()
    _spoken_digits.cache_clear()
    _chain_runs.clear()
    _clear_trap_caches()


# Pure, and the same dictated number comes back like any other (history is re-scanned with
# every new message).
@lru_cache(maxsize=4096)
def _spoken_digits(words: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    """`words_to_digits` of a run of number words and fillers."""
    return tuple(words_to_digits(list(words)))


_DIGIT_CHARS: Final = frozenset("0123456789")


def _classify(tok: str) -> tuple[str, str] | None:
    if tok.isdigit():
        return "d", tok
    if tok.isalpha():
        if tok in _FILLERS:
            return "c", tok
        return ("w", tok) if is_number_word(tok) else None
    letters = set(tok) - _DIGIT_CHARS
    if not letters <= _LOOKALIKE_LETTERS:
        # Digits glued to number words ("3one2", "five5five"), and look-alike letters for
        # some digits beside them ("o1three4").
        parts = _PARTS.findall(tok)
        if all(p.isdigit() or p in _GLUE_WORDS or set(p) <= _LOOKALIKE_LETTERS for p in parts):
            return "l", "".join(
                p if p.isdigit() else _GLUE_WORDS.get(p) or p.translate(_LOOKALIKE) for p in parts
            )
        return None
    # "5lbs", "1990s", "80s": a unit or plural glued to a number is not a disguised digit.
    if _SUFFIX_ONLY.fullmatch(tok) and len(tok) < 7:
        return None
    return "l", tok.translate(_LOOKALIKE)


_NANP: Final = frozenset({"US", "CA"})


class _Number:
    """A parsed number as the validity checks read it: its calling code and national
    significant number, and the library's `PhoneNumber` of it (see `phone`)."""

    __slots__ = ("_phone", "country_code", "national")

    def __init__(
        self, country_code: int | None, national: str, phone: phonenumbers.PhoneNumber | None
    ) -> None:
        self.country_code = country_code
        self.national = national
        self._phone = phone

    def phone(self) -> phonenumbers.PhoneNumber:
        """The library's `PhoneNumber` of it, for the questions left to the library."""
        if self._phone is None:
            # (Left unbuilt only by the North American shortcut of `_read`, whose national
            # number has no leading zero to keep apart.)
            self._phone = phonenumbers.PhoneNumber(self.country_code, int(self.national))
        return self._phone


def _number_of(phone: phonenumbers.PhoneNumber) -> _Number:
    return _Number(phone.country_code, _national_significant_number(phone), phone)


def _read(number: str, region: str) -> _Number | None:
    """`_parse(number, region)` as a `_Number`.

    For the North American plan `_parse` takes the digits as they are; so does this, without
    a `PhoneNumber` (3,000 instructions for its interpreted constructor alone), which the
    validity checks do not need: the national significant number is the digits (after the
    leading "1" of eleven), since they are ASCII and start with no "0" (eleven digits "10..."
    go to `_parse`, whose number drops that "0").
    """
    if region in _NANP and number.isascii() and number.isdigit() and number[0] != "0":
        if len(number) == 11 and number[0] == "1" and number[1] != "0":
            return _Number(1, number[1:], None)
        if len(number) <= 10:
            return _Number(1, number, None)
    phone = _parse(number, region)
    return None if phone is None else _number_of(phone)


def _parse(number: str, region: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse(number, region)`, None where it raises, built directly where
    certain (the shortcuts below), except for the North American plan.

    The digits are already extracted: for the North American plan (no trunk "0", optional
    leading "1") the number is built directly, skipping phonenumbers' text parser, which
    costs several times the validation itself (150,000 instructions a call, interpreted).
    (Not always the library's number: it may read a leading "1" otherwise, as a national
    prefix of a shorter number, say.)
    """
    if region in _NANP and number.isdigit() and number[0] != "0":
        # (PhoneNumber's first two parameters are the country code and the national number:
        # its interpreted constructor takes them positionally for about half the cost of
        # keywords.)
        if len(number) == 11 and number[0] == "1":
            return phonenumbers.PhoneNumber(1, int(number[1:]))
        if len(number) <= 10:
            return phonenumbers.PhoneNumber(1, int(number))
    if number.isascii():
        if number[0] == "+":
            built = _parse_with_plus(number[1:])
        elif region in _NANP:
            built = _parse_nanp_trunk(number)
        else:
            built = _parse_national_trunk(number, region)
        if built is not None:
            return built
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


# The two shortcuts below build what `phonenumbers.parse` returns for the plainest inputs, where
# its steps are certain to change nothing but the country code (see `test_shortcuts`, which
# compares them with the library on random digits); None: ask the library.


def _parse_with_plus(digits: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse("+" + digits, region)` (any region) when certain, else None.

    After a "+" the library takes the shortest prefix of at most three digits that is an
    assigned calling code (no code starts with "0"); what follows is the national number,
    which it then tries to strip of a national prefix of the code's main region
    (`national_prefix_for_parsing`, matched at its start). When that prefix does not match
    and the number does not start with "0" (the "Italian leading zero"), nothing else
    changes. An unassigned code, a matching prefix, a leading "0" or an implausible length
    are left to the library (it may then read the digits without the "+").
    """
    if not digits.isdigit() or len(digits) < 3 or digits[0] == "0":
        return None
    for size in range(1, 4):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None
    prefix = _national_prefix(code)
    if prefix is None or (prefix is not _NO_PREFIX and prefix.match(national)):
        return None
    return phonenumbers.PhoneNumber(code, int(national))


# What `_national_prefix` gives for a calling code whose metadata has no national prefix.
_NO_PREFIX: Final = re.compile("")


@lru_cache(maxsize=256)
def _national_prefix(code: int) -> re.Pattern[str] | None:
    """The national prefix `phonenumbers.parse` tries to strip from a number after "+" and
    `code`: that of the code's main region (_NO_PREFIX when it has none; None without
    metadata). Metadata, not a verdict: kept from message to message."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)
    )
    if meta is None:
        return None
    prefix = meta.national_prefix_for_parsing
    return re.compile(prefix) if prefix else _NO_PREFIX


def _parse_nanp_trunk(digits: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse(digits, "US" or "CA")` of digits starting with "0", else None.

    Without "+" the library first strips the region's international prefix ("011"; left to
    it), then looks for the region's calling code "1" at the start (a "0" is not it), so the
    number is national; its national prefix "1" does not match a "0" either. What remains is
    the leading zeros it keeps apart (`_set_italian_leading_zeros_for_phone_number`: all
    but the last digit may count).
    """
    if not digits.isdigit() or digits[0] != "0" or digits.startswith("011"):
        return None
    if not 2 <= len(digits) <= 17:
        return None
    zeros = 1
    while zeros < len(digits) - 1 and digits[zeros] == "0":
        zeros += 1
    return phonenumbers.PhoneNumber(
        country_code=1,
        national_number=int(digits),
        italian_leading_zero=True,
        number_of_leading_zeros=zeros if zeros != 1 else None,
    )


def _parse_national_trunk(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    """`phonenumbers.parse(digits, region)` of digits starting with "0" when certain, else None.

    Without "+" the library first strips the region's international prefix when it matches
    at the start (left to it), then looks for the region's calling code at the start (a code
    never starts with "0"), so the number is national. It then strips the region's
    `national_prefix_for_parsing` when it matches at the start (a region with a transform
    rule is left to it), unless the digits match the general description and what follows
    the prefix does not, and keeps what is left only when its length is possible for the
    region or too long (`_test_number_length`). What remains is the national significant
    number, with the leading zeros it keeps apart (as in `_parse_nanp_trunk`).
    """
    if not digits.isdigit() or digits[0] != "0" or not 2 <= len(digits) <= 17:
        return None
    parsing = _national_parsing(region)
    if parsing is None or (
        parsing.international is not None and parsing.international.match(digits)
    ):
        return None
    national = digits
    prefix = parsing.national_prefix.match(digits) if parsing.national_prefix else None
    if prefix is not None:
        stripped = digits[prefix.end() :]
        general = parsing.general.fullmatch
        if (general(digits) is None or general(stripped) is not None) and _length_kept(
            len(stripped), parsing.lengths, parsing.local_lengths
        ):
            national = stripped
    if not 2 <= len(national) <= 17:
        return None  # (the library raises: left to it)
    zeros = 0
    while zeros < len(national) - 1 and national[zeros] == "0":
        zeros += 1
    return phonenumbers.PhoneNumber(
        country_code=parsing.country_code,
        national_number=int(national),
        italian_leading_zero=True if zeros else None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )


def _length_kept(length: int, lengths: Sequence[int], local_lengths: Sequence[int]) -> bool:
    """Whether `phonenumbers.parse` keeps a number stripped of its national prefix with
    `length` digits: `_test_number_length` (with the general description's possible lengths,
    smallest first, and local-only ones) says it is possible or too long."""
    if length in local_lengths:
        return False  # (IS_POSSIBLE_LOCAL_ONLY)
    if length == lengths[0]:
        return True  # (IS_POSSIBLE)
    if length < lengths[0]:
        return False  # (TOO_SHORT)
    if length > lengths[-1]:
        return True  # (TOO_LONG)
    return length in lengths[1:]  # (IS_POSSIBLE, else INVALID_LENGTH)


class _NationalParsing:
    """What `phonenumbers.parse` uses of a region's metadata for digits without "+"."""

    __slots__ = (
        "country_code",
        "general",
        "international",
        "lengths",
        "local_lengths",
        "national_prefix",
    )

    def __init__(
        self, metadata: phonenumbers.PhoneMetadata, general: phonenumbers.PhoneNumberDesc
    ) -> None:
        self.country_code = metadata.country_code
        self.international = (
            re.compile(metadata.international_prefix) if metadata.international_prefix else None
        )
        prefix = metadata.national_prefix_for_parsing
        self.national_prefix = re.compile(prefix) if prefix else None
        self.general = re.compile(general.national_number_pattern or "(?!)")
        self.lengths = general.possible_length
        self.local_lengths = general.possible_length_local_only


@lru_cache(maxsize=64)
def _national_parsing(region: str) -> _NationalParsing | None:
    """The region's `_NationalParsing`; None (ask the library) without metadata (also for a
    code in lower case, which the library may turn down), without
    possible lengths of its general description, or with a national prefix transform rule.
    Metadata, not a verdict: kept from message to message."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.national_prefix_transform_rule:
        return None
    general = metadata.general_desc
    if general is None or not general.possible_length:
        return None
    return _NationalParsing(metadata, general)


# Countries sharing a calling code with the default region: phonenumbers' is_valid_number
# walks every region of the code (25 for +1); checking the few likely ones is far cheaper.
_NEIGHBOURS: Final[dict[str, tuple[str, ...]]] = {
    "US": ("CA",),
    "CA": ("US",),
    "GB": ("GG", "JE", "IM"),
}


def _valid_in(num: _Number, regions: tuple[str, ...]) -> bool:
    """Whether `num` is valid for one of `regions` (`is_valid_number_for_region`)."""
    return any(_valid_for_region(num, region) for region in regions)


def _national_significant_number(num: phonenumbers.PhoneNumber) -> str:
    """`phonenumbers.national_significant_number`: the national number after the leading
    zeros it keeps apart (an interpreted call of the library costs several times this)."""
    national = str(num.national_number)
    if num.italian_leading_zero:
        zeros = num.number_of_leading_zeros
        if zeros is None:
            zeros = 1
        if zeros > 0:
            national = "0" * zeros + national
    return national


def _valid_for_region(num: _Number, region: str) -> bool:
    """`phonenumbers.is_valid_number_for_region(num.phone(), region)`.

    The library, interpreted, looks the metadata up at each call and then matches the
    number's digits against the region's general description and up to ten type descriptions
    one by one (28,000 instructions a call); `_RegionValidity` asks the same of them in one
    expression per length.
    """
    rules = _validity.get(region)
    if rules is None:
        if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
            # (metadata by calling code: left to the library)
            return bool(phonenumbers.is_valid_number_for_region(num.phone(), region))
        rules = _validity[region] = _RegionValidity(region)
    if rules.metadata is None or num.country_code != rules.country_code:
        return False  # (no metadata for the region, or another calling code)
    national = num.national
    length = len(national)
    pattern = rules.by_length.get(length, _NOT_BUILT)
    if pattern is _NOT_BUILT:
        pattern = rules.by_length[length] = _valid_numbers(rules.metadata, length)
    return pattern is not None and pattern.fullmatch(national) is not None


class _RegionValidity:
    """What `is_valid_number_for_region` asks of a number for one region: its metadata (None:
    the library knows no such region), calling code and, per length of a national significant
    number, an expression the valid ones match in full (None: no number of that length is
    valid), made when first needed (metadata, not verdicts: kept from message to message)."""

    __slots__ = ("by_length", "country_code", "metadata")

    def __init__(self, region: str) -> None:
        self.metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
        self.country_code = None if self.metadata is None else self.metadata.country_code
        self.by_length: dict[int, re.Pattern[str] | None] = {}


_validity: Final[dict[str, _RegionValidity]] = {}
# A sentinel for a length whose expression is not made yet, told apart by identity.
_NOT_BUILT: Final = re.compile("(?!)")


def _valid_numbers(
    metadata: phonenumbers.PhoneMetadata | None, length: int
) -> re.Pattern[str] | None:
    """An expression that matches in full exactly the national significant numbers of
    `length` digits that phonenumbers finds valid with `metadata` (None when none is).

    The library's number type is UNKNOWN, and the number invalid, unless the number matches
    the general description and then one of the type descriptions; the mobile one counts
    only when the metadata does not say its pattern is the fixed-line one
    (`same_mobile_and_fixed_line_pattern`), and the order of the types matters only for
    which type is named. A description matches a number when it has a pattern that matches
    it in full and, when it lists possible lengths, the number's is one of them.
    """
    general = None if metadata is None else metadata.general_desc
    if metadata is None or general is None or not _admits(general, length):
        return None
    types = [
        metadata.fixed_line,  # (the likeliest first: the match stops at the first that fits)
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
    ]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.insert(1, metadata.mobile)
    alternatives = "|".join(
        f"(?:{desc.national_number_pattern})"
        for desc in types
        if desc is not None and _admits(desc, length)
    )
    if not alternatives:
        return None
    return re.compile(f"(?=(?:{general.national_number_pattern})\\Z)(?:{alternatives})")


def _admits(desc: phonenumbers.PhoneNumberDesc, length: int) -> bool:
    """Whether a description may match a number of `length` digits (`_is_number_matching_desc`
    before its pattern: a description without a pattern matches nothing)."""
    if not desc.national_number_pattern:
        return False
    return not desc.possible_length or length in desc.possible_length


# The library looks the code up in its metadata at each call.
_country_code: Final = lru_cache(maxsize=64)(phonenumbers.country_code_for_region)


@lru_cache(maxsize=64)
def _general_lengths(region: str) -> frozenset[int] | None:
    """The lengths of national significant numbers `is_valid_number_for_region` may find
    valid for `region`: None when it finds none valid, empty when it does not look at lengths.

    It takes the region's metadata and says no without it; then (when the calling codes
    agree) no to a number that does not match the general description, without one or when
    it lists possible lengths and not the number's (`_is_number_matching_desc`).
    """
    if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return frozenset()  # (metadata by calling code: not looked at here)
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    if meta is None or meta.general_desc is None:
        return None
    return frozenset(meta.general_desc.possible_length or ())


def _may_be_valid_national(digits: str, region: str) -> bool:
    """False when `phonenumbers.parse(digits, region)` cannot give a number valid for `region`,
    for digits starting with "0" (a trunk "0"): it is not worth parsing them there.

    Without "+" the library strips the region's international prefix when it matches at the
    start (then the digits after it are read as another country's number: left to the
    library). Otherwise it reads the digits as a national number (a calling code never starts
    with "0", so it is not looked for), and without a transform rule (BR's, say, which may
    add digits) its national significant number is then the digits or, when its
    `national_prefix_for_parsing` matches at their start, what follows that match. When
    neither length is one the region's numbers have, `_valid_in` says no (`_general_lengths`).
    """
    if not (digits.isascii() and digits.isdigit() and digits[0] == "0"):
        return True
    lengths = _general_lengths(region)
    if lengths is None:
        return False  # (valid nowhere in the region)
    if not lengths or len(digits) in lengths:
        return True
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    if meta is None or meta.national_prefix_transform_rule:
        return True
    if meta.international_prefix and re.match(meta.international_prefix, digits):
        return True
    prefix = meta.national_prefix_for_parsing
    trunk = re.match(prefix, digits) if prefix else None
    return trunk is not None and len(digits) - trunk.end() in lengths


def _valid_international(num: _Number) -> bool:
    """`phonenumbers.is_valid_number` of `num`, but for a calling code shared by more than
    three regions asked of its main region and `_NEIGHBOURS` only."""
    if num.country_code is None:
        return False
    regions = phonenumbers.region_codes_for_country_code(num.country_code)
    if len(regions) == 1:
        # `is_valid_number` asks `is_valid_number_for_region` about the code's only region.
        return _valid_in(num, (regions[0],))
    if len(regions) > 3:
        main = phonenumbers.region_code_for_country_code(num.country_code)
        return _valid_in(num, (main, *_NEIGHBOURS.get(main, ())))
    return phonenumbers.is_valid_number(num.phone())


# A pure function of its arguments and the slowest step (phonenumbers parses and matches the
# metadata's patterns): the same number is usually sent again (a buyer repeats it, history
# is re-scanned with every new message), so its verdict is kept.
@lru_cache(maxsize=8192)
def _judge(digits: str, plus: bool, region: str, strong: bool) -> str | None:
    """Rule name when `digits` is a phone number, else None."""
    if plus or (digits.startswith("00") and len(digits) > 9):
        num = _read("+" + (digits if plus else digits[2:]), region)
        if num is not None and _valid_international(num):
            return "phone_international"
        if plus:
            if num is not None and strong and phonenumbers.is_possible_number(num.phone()):
                return "phone_possible"
            return None
    num = _read(digits, region)
    if num is not None:
        home = (region, *_NEIGHBOURS.get(region, ()))
        if num.country_code == _country_code(region):
            if _valid_in(num, home):
                return "phone_valid"
        elif _valid_international(num):
            return "phone_international"
        if strong and phonenumbers.is_possible_number(num.phone()):
            return "phone_possible"
    if strong and digits.startswith("0"):
        # A national number written with its trunk "0" ("07700 900123"): try where people
        # write numbers that way.
        for other in _OTHER_REGIONS:
            if other == region or not _may_be_valid_national(digits, other):
                continue
            num = _read(digits, other)
            if num is not None and _valid_in(num, (other,)):
                return "phone_valid_" + other.lower()
    return None


def _year_list(groups: Sequence[_Group]) -> bool:
    # "1878, 1879, 1880 Morgans": every group a plausible year.
    return len(groups) >= 2 and all(
        len(g.digits) == 4 and 1600 <= int(g.digits) <= 2099 for g in groups
    )


def _tracking_spans(text: str, msg_starts: list[int]) -> list[tuple[int, int]]:
    """Spans of tracking numbers, also typed with spaces ("9400 1112 0108 ...", "1 Z 8 V ...")."""
    spans: list[tuple[int, int]] = []
    # The text's tokens (`_TOKEN`) and what the search below asks of each, in one pass over
    # the characters: where it starts, how many digits it has, and whether the gap before it
    # is soft (one to three spaces or hyphens, which a number's pieces may have between them)
    # and then one with a single hyphen (kept before a last piece "1": "...-1").
    toks: list[str] = []
    starts: list[int] = []
    digit_counts: list[int] = []
    soft: list[bool] = []
    hyphen: list[bool] = []
    end = len(text)
    b = 0
    while True:
        a = _token_start(text, b, end)
        if a >= end:
            break
        gap = a - b
        hyphens = 0
        is_soft = 0 < gap <= 3 and bool(toks)  # (the text before the first is no gap)
        if is_soft:
            for k in range(b, a):
                c = ord(text[k])
                if c == 45:  # "-"
                    hyphens += 1
                elif c != 32:  # " "
                    is_soft = False
        digits = 0
        b = a
        while b < end:
            c = ord(text[b])
            if 48 <= c <= 57:  # "0" to "9"
                digits += 1
            elif not 97 <= c <= 122:
                break
            b += 1
        toks.append(text[a:b])
        starts.append(a)
        digit_counts.append(digits)
        soft.append(is_soft)
        hyphen.append(is_soft and hyphens == 1)
    n = len(toks)
    context: dict[int, bool] = {}  # per joined message: has a carrier or tracking word
    i = 0
    while i < n:
        first = toks[i]
        # A number starts with digits, a single character or a carrier's letters (a token
        # with no digit is all letters).
        if len(first) > 1 and digit_counts[i] == 0 and first not in _TRACKING_PREFIXES:
            i += 1
            continue
        if len(first) < 3 and i > 0 and soft[i] and toks[i - 1][-1].isdigit():
            # Inside a chain of short pieces ("1 0 0 1 9 ..."): the number starts where the
            # chain does, which was tried already.
            i += 1
            continue
        # The pieces that could belong to one number starting here: digits, short letter
        # groups, single spaces or hyphens between them, at most 40 characters.
        pieces = [first]
        piece_digits = [digit_counts[i]]
        size = len(first)
        for j in range(i + 1, n):
            tok = toks[j]
            if not soft[j] or (digit_counts[j] == 0 and len(tok) > 2):
                break
            piece = "-" + tok if hyphen[j] and tok == "1" else tok
            size += len(piece)
            if size > 40:
                break
            pieces.append(piece)
            piece_digits.append(digit_counts[j])
        # Longest first: a tracking number is normally the whole chain.
        matched = -1
        total = sum(piece_digits)
        for k in range(len(pieces), 0, -1):
            if k < len(pieces):
                total -= piece_digits[k]
            joined = "".join(pieces[:k])
            if len(joined) < 8 or total < 8:
                break
            # (tokens: no spaces to strip)
            checked = compact_first_checked(joined.upper())
            if checked is None:
                continue
            # A bare 10-14 digit number passes some check by chance one time in ten: only
            # believe it next to a carrier or tracking word in the same message. (Asked after
            # the formats: a search of the message costs more than trying the few formats of
            # a number's length, which most numbers fit none of.)
            distinctive = not joined.isdigit() or len(joined) >= 12
            if not (distinctive and checked) and not _tracking_context(
                text, msg_starts, starts[i], context
            ):
                continue
            matched = i + k - 1
            break
        if matched >= 0:
            spans.append((starts[i], starts[matched] + len(toks[matched])))
            i = matched + 1
        else:
            i += 1
    return spans


def _tracking_context(text: str, msg_starts: list[int], pos: int, seen: dict[int, bool]) -> bool:
    """Whether the joined message holding `pos` has a carrier or tracking word (kept in `seen`,
    per message)."""
    m = bisect.bisect_right(msg_starts, pos) - 1
    known = seen.get(m)
    if known is None:
        lo = msg_starts[m]
        hi = msg_starts[m + 1] if m + 1 < len(msg_starts) else len(text)
        known = seen[m] = TRACKING_CONTEXT.search(text, lo, hi) is not None
    return known


def find_phones(
    text: str,
    msg_starts: list[int],
    region: str,
    disguised: Callable[[int, int], bool] | None,
    words: Collection[str],
    links: list[tuple[int, int]],
    *,
    traps: bool = True,
    tokens: Collection[str] | None = None,
    number_words: bool = True,
    led: bool | None = None,
    named_id: bool | None = None,
    tracking_words: bool | None = None,
    cue_words: bool | None = None,
) -> list[PhoneHit]:
    """Phone numbers in `text` (the normalised view of the messages joined by newlines).

    `msg_starts` is the view offset of each joined message; `disguised(a, b)` says whether
    text[a:b] was not typed in ASCII digits (None: all of it was); `words` are the text's words
    (a cheap first check for carrier and cue words); `links` are spans of links and e-mail
    addresses, whose digits are theirs. `traps=False` (no ASCII digit in the text) skips the
    traps; `tokens`, when the caller knows them, are the text's tokens, and `led` whether a
    trap word leads one of them (see `trap_spans`).
    `number_words=False` says no token is a number word (the caller saw the tokens).
    `named_id`, `tracking_words` and `cue_words`, when the caller knows, say whether a token
    is an id word (see `trap_spans`), a carrier or tracking word (TRACKING_WORDS), a word that
    says "phone" (PHONE_CUE_WORDS); otherwise `words` tells.
    """
    # A run can give at most one digit per character of its tokens (a number word gives fewer
    # digits than it has letters), so a chain shorter than seven characters holds no number.
    chains = _chains(text, number_words)
    if not chains:
        return []
    blocked: bytearray | None = None
    if links:
        blocked = bytearray(len(text) + 1)
        for a, b in links:
            blocked[a:b] = b"\x01" * (b - a)
    # First pass without traps: most texts never get a 7-digit run, and then traps, tracking
    # numbers and phonenumbers need not be consulted at all.
    windows: list[tuple[int, int]] = []
    per_chain = [_candidates(text, chain, blocked, disguised) for chain in chains]
    longest = 0
    for found in per_chain:
        for groups, digits, base in found:
            windows.append(
                (max(0, base + groups[0].start - 48), min(len(text), base + groups[-1].end + 24))
            )
            longest = max(longest, len(digits))
    if not windows:
        return []
    spans = trap_spans(text, windows, tokens, led, named_id) if traps else []
    # Tracking numbers of up to 11 digits need a carrier word anyway; longer ones and lettered
    # ones are recognised alone.
    if tracking_words is None:
        tracking_words = not TRACKING_WORDS.isdisjoint(words)
    if longest >= 12 or tracking_words:
        spans = spans + _tracking_spans(text, msg_starts)
    if spans:
        if blocked is None:
            blocked = bytearray(len(text) + 1)
        for a, b in spans:
            blocked[a:b] = b"\x01" * (b - a)
        for i, chain in enumerate(chains):
            if blocked.find(1, chain[0], chain[1]) >= 0:
                # A trap or tracking number covers part of the chain: its runs may split
                # differently. (Runs of shorter chains cannot reach seven digits either way,
                # and a chain the new spans miss keeps the runs it had.)
                per_chain[i] = _candidates(text, chain, blocked, disguised)

    hits: list[PhoneHit] = []
    cue: bool | None = None
    for found in per_chain:
        for groups, digits, base in found:
            if cue is None:
                if cue_words is None:
                    cue_words = not PHONE_CUE_WORDS.isdisjoint(words)
                cue = cue_words and PHONE_CUE.search(text) is not None
            hit = _judge_run(text, groups, digits, base, msg_starts, region, cue)
            if hit is not None:
                hits.append(hit)
    return hits


def _chains(text: str, number_words: bool) -> list[tuple[int, int]]:
    """The spans of the chains of seven characters or more of a text: `_CHAIN`'s, or when no
    token of the text is a number word (`number_words` False), `_DIGIT_CHAIN`'s.

    A chain starts at a token (its first token's look-behind) that its first token takes
    whole: one with a digit, or a number word, filler or compound. The search goes from token
    to token (character by character, see `_token_start`) and tries only those, instead of
    the expression at every position: a search would find the same, since it fails
    everywhere else and goes on after a match. Without number words every run starts at a
    token with digits (fillers before it are skipped anyway), so only those are tried; a chain
    found then may lack the fillers `_CHAIN` would have put before its first digits: they
    make no run.
    """
    chain_at = _chain_at if number_words else _digit_chain_at
    chains: list[tuple[int, int]] = []
    end = len(text)
    pos = 0
    while True:
        start = _token_start(text, pos, end)
        if start >= end:
            return chains
        pos, digit, letter = _scan_token(text, start, end)
        if digit:
            taken = _PLAIN if not letter else _MAYBE
        elif number_words:
            taken = _word_taken(text[start:pos], True)
        else:
            continue  # (without number words a chain starts at digits)
        if taken == _NOT_TAKEN:
            continue  # (the expression fails here: the search goes on after the token)
        if taken == _PLAIN:
            # Most chains hold plain digits and words only: followed without the expression.
            stop = _simple_chain_end(text, pos, number_words)
            if stop >= 0:
                pos = stop
                if pos - start >= 7:  # (see find_phones)
                    chains.append((start, pos))
                continue
        # The expression takes a token whole or not at all; when the token is shorter than
        # seven characters and no other can follow it in a chain, the chain from here (if
        # any) is that token, too short: the search goes on after it either way.
        if pos - start < 7 and not _chain_goes_on(text, pos, number_words):
            continue
        chain = chain_at(text, start)
        if chain is None:  # a token no run can hold ("ab12"): go on after it
            continue
        pos = chain.end()
        if pos - start >= 7:
            chains.append((start, pos))


# What a chain expression does with a token: takes it whole without a doubt (plain digits, or
# a word of the expression), does not take it, or may (the expression decides).
_PLAIN: Final = 1
_NOT_TAKEN: Final = 0
_MAYBE: Final = -1


def _word_taken(token: str, number_words: bool) -> int:
    """What `_CHAIN` (`number_words`) or `_DIGIT_CHAIN` does with a token without digits.

    Such a token can only be one of the expression's words (the other alternatives need a
    digit), which are taken whole: `_CHAIN`'s number words and fillers, `_DIGIT_CHAIN`'s
    fillers. A compound (`_CHAIN`'s COMPOUND_PATTERN) is left to the expression.
    """
    if number_words:
        if token in _CHAIN_WORDS:
            return _PLAIN
        return _MAYBE if "und" in token or token.startswith("veinti") else _NOT_TAKEN
    return _PLAIN if token in _FILLERS else _NOT_TAKEN


def _simple_chain_end(text: str, pos: int, number_words: bool) -> int:
    """Where a chain (`_CHAIN`, or `_DIGIT_CHAIN` without `number_words`) ends whose first
    token, taken whole, ends at `pos`, when each next token is plain digits or a word of the
    expression; -1 when a token with digits and letters or a possible compound comes first
    (the expression decides then).

    Each next token follows a gap of 1 to _MAX_GAP characters that are neither token
    characters nor hard (the whole gap: a token starts with a token character); plain digits
    are always taken whole, a token without digits as `_word_taken` says, and the chain ends
    before the first token not taken.
    """
    end = len(text)
    while True:
        after = pos
        while after < end and not _is_token_char(ord(text[after])):
            if text[after] in _HARD_GAP_CHARS or after - pos == _MAX_GAP:
                return pos
            after += 1
        if after == end:
            return pos
        token_end, digit, letter = _scan_token(text, after, end)
        if letter:
            if digit:  # digits with letters ("o199", "3one2"): the expression decides
                return -1
            taken = _word_taken(text[after:token_end], number_words)
            if taken == _NOT_TAKEN:
                return pos
            if taken == _MAYBE:
                return -1
        pos = token_end


_CHAIN_WORDS: Final = NUMBER_WORDS | _FILLERS


_HARD_GAP_CHARS: Final = frozenset(_HARD_GAP.replace("\\", ""))  # (the pattern escapes '"')


def _chain_goes_on(text: str, pos: int, number_words: bool) -> bool:
    """Whether a chain (`_CHAIN`, or `_DIGIT_CHAIN` without `number_words`) may go on past the
    token ending at `pos`: a soft gap of at most _MAX_GAP characters, then a token with a digit
    or a filler, or a number word (a token of `_numeric_token` has one or is one; this may say
    yes where the chain stops, never the other way)."""
    end = len(text)
    gap = 0
    while pos < end and not _is_token_char(ord(text[pos])):
        if text[pos] in _HARD_GAP_CHARS:
            return False
        gap += 1
        pos += 1
    if gap == 0 or gap > _MAX_GAP or pos == end:
        return False
    after, digit, _ = _scan_token(text, pos, end)
    if digit:
        return True
    return _word_taken(text[pos:after], number_words) != _NOT_TAKEN


# The tokens of a chain or text, `_TOKEN`'s runs of [a-z0-9], are found character by character
# where the caller needs their offsets: compiled, a loop over the characters' code points
# costs far less than a regex split or search of a short string (a few thousand instructions
# each, setup mostly). The hottest loops test the code points in line: a call, which mypyc
# does not inline, costs as much as the test itself.


def _is_token_char(c: int) -> bool:
    return 97 <= c <= 122 or 48 <= c <= 57  # "a" to "z", "0" to "9"


def _token_start(text: str, pos: int, end: int) -> int:
    """Where the first token at or after `pos` starts (`end` when none does before it)."""
    while pos < end:
        c = ord(text[pos])
        if 97 <= c <= 122 or 48 <= c <= 57:  # a token character: "a" to "z", "0" to "9"
            return pos
        pos += 1
    return pos


def _scan_token(text: str, pos: int, end: int) -> tuple[int, bool, bool]:
    """Where the token starting at `pos` ends (at most `end`), whether it has a digit and
    whether it has a letter."""
    digit = letter = False
    while pos < end:
        c = ord(text[pos])
        if 48 <= c <= 57:  # "0" to "9"
            digit = True
        elif 97 <= c <= 122:  # "a" to "z"
            letter = True
        else:
            break
        pos += 1
    return pos, digit, letter


def _token_end(text: str, pos: int, end: int) -> int:
    """Where the token holding text[pos - 1] ends (at most `end`)."""
    while pos < end and _is_token_char(ord(text[pos])):
        pos += 1
    return pos


# A candidate: digit groups at offsets from a base position, their digits, and that base.
_Candidate = tuple[Sequence["_Group"], str, int]


def _candidates(
    text: str,
    chain: tuple[int, int],
    blocked: bytearray | None,
    disguised: Callable[[int, int], bool] | None,
) -> list[_Candidate]:
    """The digit groups and digits of every run of a chain with at least seven digits."""
    if blocked is None and disguised is None:
        # Then the runs of a chain depend on its own text alone, so they are kept per chain,
        # like the verdict on a number: a number comes back (the same buyer, or history
        # scanned again with each new message).
        key = text[chain[0] : chain[1]]
        runs = _chain_runs.get(key)
        if runs is None:
            runs = _long_runs(key, 0, len(key), None, None)
            remember(_chain_runs, key, runs, 10_000)
        base = chain[0]
        return [(groups, digits, base) for groups, digits in runs]
    runs = _long_runs(text, chain[0], chain[1], blocked, disguised)
    return [(groups, digits, 0) for groups, digits in runs]


_chain_runs: Final[dict[str, tuple[tuple[tuple[_Group, ...], str], ...]]] = {}


def _long_runs(
    text: str,
    a: int,
    b: int,
    blocked: bytearray | None,
    disguised: Callable[[int, int], bool] | None,
) -> tuple[tuple[tuple[_Group, ...], str], ...]:
    """Digit groups and digits of the runs of seven digits or more in the chain text[a:b]."""
    runs = _plain_runs(text, a, b, blocked, disguised)
    if runs is None:
        runs = [_groups(run, disguised) for run in _runs(text, a, b, blocked)]
    found = []
    for groups in runs:
        digits = "".join([g.digits for g in groups])
        if len(digits) >= 7:
            found.append((tuple(groups), digits))
    return tuple(found)


def _plain_runs(
    text: str,
    a: int,
    b: int,
    blocked: bytearray | None,
    disguised: Callable[[int, int], bool] | None,
) -> list[list[_Group]] | None:
    """The digit groups of the runs of the chain text[a:b] as `_runs` and `_groups` make them
    when all its tokens are plain digits (most chains), else None.

    A chain has letters only in tokens (its gaps have none), and a token without letters is
    plain digits: its own group. Runs end only at blocked tokens (no token lacks a class, and
    there are no fillers), so the groups are the runs of ASCII digits, found character by
    character: compiled, that costs a fraction of `_runs` and its tokens' objects.
    """
    runs: list[list[_Group]] = []
    groups: list[_Group] = []
    start = -1  # where the digits being read start (-1: in a gap)
    for i in range(a, b + 1):
        c = ord(text[i]) if i < b else 32  # (a gap after the chain ends the last token)
        if 48 <= c <= 57:  # "0" to "9"
            if start < 0:
                start = i
            continue
        if 97 <= c <= 122:  # "a" to "z": the chain has a lettered token
            return None
        if start < 0:
            continue
        if blocked is not None and (blocked[start] or blocked[i - 1]):
            if groups:
                runs.append(groups)
                groups = []
        else:
            odd = disguised is not None and disguised(start, i)
            groups.append(_Group(text[start:i], start, i, odd))
        start = -1
    if groups:
        runs.append(groups)
    return runs


def _runs(text: str, start: int, end: int, blocked: bytearray | None) -> list[list[_Tok]]:
    """Maximal runs of numeric tokens in the chain text[start:end].

    Inside a chain every gap is soft; a token without a class (a word such as "lbs" glued to
    digits), a blocked token or two fillers in a row end the run.
    """
    runs: list[list[_Tok]] = []
    current: list[_Tok] = []
    fillers = False  # whether `current` holds a filler (most runs are digits only)
    # The chain's tokens (`_TOKEN`), found character by character (see `_long_runs`).
    b = start
    while True:
        a = _token_start(text, b, end)
        if a >= end:
            break
        b = _token_end(text, a + 1, end)
        tok = text[a:b]
        # (`.get` on the module's dict itself: compiled, a direct dictionary lookup, where a
        # bound method kept in a local is a generic call.)
        cls = _class_cache.get(tok, _MISSING)
        if cls is _MISSING:  # a token not seen before
            cls = _classify_token(tok)
        if cls is None or (blocked is not None and (blocked[a] or blocked[b - 1])):
            if current:
                runs.append(_strip_fillers(current) if fillers else current)
                current, fillers = [], False
            continue
        kind = cls[0]
        if kind == "c":
            if not current:
                continue
            if current[-1].kind == "c":
                runs.append(_strip_fillers(current))
                current, fillers = [], False
                continue
            fillers = True
        current.append(_Tok(kind, cls[1], a, b))
    if current:
        runs.append(_strip_fillers(current) if fillers else current)
    return runs


def _strip_fillers(run: list[_Tok]) -> list[_Tok]:
    # A filler counts only between two numeric tokens; digit tokens keep their own groups.
    while run and run[-1].kind == "c":
        run = run[:-1]
    if not any(t.kind == "c" for t in run):
        return run
    return [t for i, t in enumerate(run) if t.kind != "c" or run[i - 1].kind == "w"]


def _groups(run: list[_Tok], disguised: Callable[[int, int], bool] | None) -> list[_Group]:
    groups: list[_Group] = []
    i = 0
    while i < len(run):
        tok = run[i]
        if tok.kind == "w" or tok.kind == "c":
            j = i
            while j < len(run) and run[j].kind in ("w", "c"):
                j += 1
            for digits, a, b in _spoken_digits(tuple([t.text for t in run[i:j]])):
                groups.append(_Group(digits, run[i + a].start, run[i + b - 1].end, True))
            i = j
            continue
        odd = tok.kind == "l" or (disguised is not None and disguised(tok.start, tok.end))
        groups.append(_Group(tok.text, tok.start, tok.end, odd))
        i += 1
    return groups


def _judge_run(
    text: str,
    groups: Sequence[_Group],
    digits: str,
    base: int,
    msg_starts: list[int],
    region: str,
    cue: bool,
) -> PhoneHit | None:
    """The phone number in a run of digit `groups` (whose digits are `digits`, and whose
    offsets count from `base`), if any."""
    if _year_list(groups):
        return None
    start, end = base + groups[0].start, base + groups[-1].end
    plus_at = text.rfind("+", max(0, start - 2), start)
    plus = plus_at >= 0
    disguised = any([g.disguised for g in groups])
    spaced = [len(g.digits) for g in groups].count(1) >= 4
    split = len(msg_starts) > 1 and (
        bisect.bisect_right(msg_starts, start) != bisect.bisect_right(msg_starts, end - 1)
    )
    strong = disguised or spaced or split or cue
    if len(digits) <= 15:
        rule = _judge(digits, plus, region, strong)
        if rule is not None:
            if disguised or spaced:
                rule = "phone_disguised"
            elif split:
                rule = "phone_split"
            return PhoneHit(plus_at if plus else start, end, rule)
    # A longer run may hold a number next to other figures: try windows on group boundaries
    # whose length a number of the region can have.
    lengths = _possible_lengths(region)
    for i in range(len(groups)):
        count = 0
        for j in range(i, len(groups)):
            count += len(groups[j].digits)
            if count > 15:
                break
            if (i == 0 and j == len(groups) - 1) or count not in lengths:
                continue
            window = "".join(g.digits for g in groups[i : j + 1])
            rule = _judge(window, plus and i == 0, region, False)
            if rule is not None:
                return PhoneHit(base + groups[i].start, base + groups[j].end, "phone_in_run")
    return None
