"""Carrier tracking numbers: recognise them by format and check digit.

No maintained Python library covers this set of carriers with their check digits (the public
reference is the language-neutral data set jkeen/tracking_number_data), so the formats and check
algorithms are written here from that specification and verified against its test numbers
(`shared/data/tracking-numbers/valid.json`).

The shield uses `match_tracking` so a shipping update is never mistaken for a phone number; the
shipping-update feature uses it to name the carrier and link to its tracking page.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = [
    "TRACKING_DOMAINS",
    "TrackingMatch",
    "clear_caches",
    "compact",
    "compact_candidates",
    "compact_first_checked",
    "match_tracking",
    "tracking_candidates",
]


@dataclass(frozen=True, slots=True)
class TrackingMatch:
    """A recognised tracking number."""

    carrier: str
    format: str
    number: str  # compact form: no spaces, upper case
    url: str | None
    checked: bool  # True when a check digit confirmed it, False for formats that have none


@dataclass(frozen=True, slots=True)
class _Format:
    carrier: str
    name: str
    pattern: re.Pattern[str]
    lengths: frozenset[int]  # every length of a string the pattern matches
    check: Callable[[str], bool] | None
    url: str | None


# --- check digit algorithms (named as in the reference data set) ------------------------------


def _digit(c: str) -> int:
    # `int(c)`, which the formats' \d admits for any decimal digit; an ASCII digit (nearly
    # always) spares the conversion of a string to an int.
    o = ord(c)
    return o - 48 if 48 <= o <= 57 else int(c)


def _char_value(c: str) -> int:
    # Letters count as (ord - 3) % 10: UPS and OnTrac put letters inside the checked serial.
    return _digit(c) if c.isdigit() else (ord(c) - 3) % 10


def _mod10(seq: str, evens: int, odds: int) -> int:
    total = 0
    for i, c in enumerate(seq):
        total += _char_value(c) * (evens if i % 2 == 0 else odds)
    rem = total % 10
    return 0 if rem == 0 else 10 - rem


def _luhn(seq: str) -> int:
    total = 0
    for i, c in enumerate(reversed(seq)):
        x = _digit(c)
        if i % 2 == 0:
            x *= 2
            if x > 9:
                x -= 9
        total += x
    return (10 - total % 10) % 10


def _weighted(seq: str, weights: tuple[int, ...]) -> int:
    total = sum(_digit(c) * weights[i % len(weights)] for i, c in enumerate(seq))
    return total % 11 % 10


def _s10(serial8: str) -> int:
    total = sum(_digit(c) * w for c, w in zip(serial8, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    rem = total % 11
    if rem == 0:
        return 5
    if rem == 1:
        return 0
    return 11 - rem


def _mod37_36(seq: str) -> str:
    # ISO 7064 MOD 37,36 as DPD specifies it for the 28-character parcel label.
    mod = 36
    cd = mod
    for ch in seq:
        val = ord(ch) - 55 if ch.isalpha() else _digit(ch)
        cd += val
        if cd > mod:
            cd -= mod
        cd *= 2
        if cd > mod:
            cd -= mod + 1
    cd = (mod + 1) - cd
    if cd == mod:
        cd = 0
    return str(cd) if cd < 10 else chr(cd + 55)


def _last_is(fn: Callable[[str], int], first: int = 0) -> Callable[[str], bool]:
    def check(n: str) -> bool:
        return fn(n[first:-1]) == int(n[-1])

    return check


def _ups(n: str) -> bool:
    return _mod10(n[2:-1], 1, 2) == _char_value(n[-1])


def _usps(n: str) -> bool:
    # IMpb: an optional routing prefix "420" + ZIP (5 or 9 digits) precedes the serial; a legacy
    # 20-digit serial without its "9x" application identifier is checked as if "91" led it.
    m = _USPS_ROUTING.fullmatch(n)
    serial = m.group(1) if m else n
    if _mod10(serial[:-1], 3, 1) == int(serial[-1]):
        return True
    if serial.startswith(("91", "92", "93", "94", "95")):
        return False
    return _mod10("91" + serial[:-1], 3, 1) == int(serial[-1])


_USPS_ROUTING: Final = re.compile(r"420\d{5}(?:\d{4})?(9[1-5]\d{18,24})")


def _fedex34(n: str) -> bool:
    return _weighted(n[20:33], (1, 7, 3)) == int(n[33])


def _astra(n: str) -> bool:
    # The 32-digit ASTRA barcode embeds the 12-digit Express number at positions 16-27.
    return _weighted(n[16:27], (3, 1, 7)) == int(n[27])


def _dpd(n: str) -> bool:
    return _mod37_36(n[:-1]) == n[-1]


def _s10_check(n: str) -> bool:
    return _s10(n[2:10]) == int(n[10])


def _f(
    carrier: str,
    name: str,
    pattern: str,
    lengths: Iterable[int],
    check: Callable[[str], bool] | None,
    url: str | None,
) -> _Format:
    return _Format(carrier, name, re.compile(pattern), frozenset(lengths), check, url)


_UPS_URL: Final = "https://www.ups.com/track?tracknum=%s"
_USPS_URL: Final = "https://tools.usps.com/go/TrackConfirmAction?tLabels=%s"
_FEDEX_URL: Final = "https://www.fedex.com/fedextrack/?trknbr=%s"
_DHL_URL: Final = "https://www.dhl.com/en/express/tracking.html?AWB=%s"
_DHL_ECS_URL: Final = "https://webtrack.dhlecs.com/?trackingnumber=%s"
_ONTRAC_URL: Final = "https://www.ontrac.com/tracking/?number=%s"

# Most specific first: letter-prefixed formats, then pure-digit formats by length. Each pattern's
# lengths follow it (see `_Fits`; test_tracking_lengths checks them against the pattern).
_FORMATS: Final[tuple[_Format, ...]] = (
    _f("UPS", "UPS", r"1Z[A-Z0-9]{16}", (18,), _ups, _UPS_URL),
    _f(
        "UPS",
        "UPS Waybill",
        r"[KJV]\d{10}",
        (11,),
        _last_is(lambda s: _mod10(s, 1, 2), 1),
        _UPS_URL,
    ),
    _f(
        "Amazon",
        "Amazon Logistics",
        r"TB[ACM]\d{12}",
        (15,),
        None,
        "https://track.amazon.com/tracking/%s",
    ),
    _f(
        "Amazon",
        "Amazon International",
        r"C\d{10}",
        (11,),
        None,
        "https://track.amazon.com/tracking/%s",
    ),
    _f(
        "Canpar",
        "Canpar (22)",
        r"[DLS]\d{21}",
        (22,),
        None,
        "https://www.canpar.com/en/tracking/delivery_options.htm?barcode=%s",
    ),
    _f("DHL", "DHL Express (Piece ID)", r"J[A-Z]{2,3}\d{9,10}", range(12, 15), None, _DHL_URL),
    _f(
        "DHL",
        "DHL E-Commerce",
        r"(?:GM|LX|RX|UV|CN|SG|TH|IN|HK|MY)[0-9A-Z]{10,39}",
        range(12, 42),
        None,
        _DHL_ECS_URL,
    ),
    _f(
        "DPD",
        "DPD (28)",
        r"\d{27}[0-9A-Z]",
        (28,),
        _dpd,
        "https://tracking.dpd.de/status/en_US/parcel/%s",
    ),
    _f(
        "DPD",
        "DPD (14)",
        r"\d{14}[0-9A-Z]",
        (15,),
        _dpd,
        "https://tracking.dpd.de/status/en_US/parcel/%s",
    ),
    _f("GOFO Express", "GOFO Express (US)", r"GFUS\d{14}", (18,), None, None),
    _f(
        "Landmark Global LTN",
        "Landmark Global LTN",
        r"LTN\d{8}N\d",
        (13,),
        None,
        "https://track.landmarkglobal.com/?trck=%s",
    ),
    _f("LaserShip", "LaserShip LX", r"L[XIAHEN]\d{8}", (10,), None, _ONTRAC_URL),
    _f("LaserShip", "LaserShip 1LS7 (15)", r"1LS7\d{11}", (15,), None, _ONTRAC_URL),
    _f("LaserShip", "LaserShip 1LS7 (18)", r"1LS7\d{12}-1", (18,), None, _ONTRAC_URL),
    _f("LaserShip", "LaserShip 1LSCX (15)", r"1LSCX[0-9A-Z]{10}", (15,), None, _ONTRAC_URL),
    _f("OnTrac", "OnTrac", r"[CD]\d{14}", (15,), _last_is(lambda s: _mod10(s, 1, 2)), _ONTRAC_URL),
    _f(
        "Purolator",
        "Purolator (alpha + 9)",
        r"[A-Z]{3}\d{9}",
        (12,),
        None,
        "https://www.purolator.com/en/shipping/tracker?pin=%s",
    ),
    _f(
        "S10 International Standard",
        "S10",
        r"[A-Z]{2}\d{9}[A-Z]{2}",
        (13,),
        _s10_check,
        None,  # filled per destination below
    ),
    _f(
        "Spee-Dee Delivery",
        "Spee-Dee (20)",
        r"SP\d{18}",
        (20,),
        None,
        "https://speedeedelivery.com/track-a-shipment/?v=detail&barcode=%s",
    ),
    _f("Yodel", "Yodel", r"J?JD\d{16}", (18, 19), None, "https://www.yodel.co.uk/tracking/%s"),
    _f(
        "YunExpress",
        "YunExpress",
        r"YT\d{16}",
        (18,),
        None,
        "https://www.yuntrack.com/parcelTracking?id=%s",
    ),
    # pure digits
    _f("FedEx", "FedEx Express (34)", r"1\d{33}", (34,), _fedex34, _FEDEX_URL),
    _f("FedEx", "FedEx Ground GSN", r"96\d{32}", (34,), _fedex34, _FEDEX_URL),
    _f("FedEx", "FedEx ASTRA (32)", r"\d{32}", (32,), _astra, _FEDEX_URL),
    _f(
        "FedEx",
        "FedEx Ground 96 (22)",
        r"96\d{20}",
        (22,),
        _last_is(lambda s: _mod10(s, 1, 3), 7),
        _FEDEX_URL,
    ),
    _f(
        "United States Postal Service",
        "USPS IMpb",
        r"(?:420\d{5}(?:\d{4})?)?9[1-5]\d{18,24}",
        (*range(20, 27), *range(28, 39)),
        _usps,
        _USPS_URL,
    ),
    _f("United States Postal Service", "USPS 20", r"\d{20}", (20,), _usps, _USPS_URL),
    _f(
        "FedEx",
        "FedEx Ground (SSCC-18)",
        r"\d{18}",
        (18,),
        _last_is(lambda s: _mod10(s, 3, 1)),
        _FEDEX_URL,
    ),
    _f(
        "Canada Post",
        "Canada Post (16)",
        r"\d{16}",
        (16,),
        _last_is(lambda s: _mod10(s, 3, 1)),
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s",
    ),
    _f("FedEx", "FedEx Ground", r"\d{15}", (15,), _last_is(lambda s: _mod10(s, 1, 3)), _FEDEX_URL),
    _f("DHL", "DHL E-Commerce (14)", r"[56]\d{13}", (14,), None, _DHL_ECS_URL),
    _f(
        "FedEx",
        "FedEx Express (12)",
        r"\d{12}",
        (12,),
        _last_is(lambda s: _weighted(s, (3, 1, 7))),
        _FEDEX_URL,
    ),
    _f(
        "Purolator",
        "Purolator (12)",
        r"\d{12}",
        (12,),
        _last_is(_luhn),
        "https://www.purolator.com/en/shipping/tracker?pin=%s",
    ),
    _f(
        "Old Dominion Freight Line",
        "Old Dominion",
        r"\d{11}",
        (11,),
        _last_is(_luhn),
        "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers=%s",
    ),
    _f("DHL", "DHL Express", r"\d{10,11}", (10, 11), _last_is(lambda s: int(s) % 7), _DHL_URL),
)

_S10_URLS: Final = {
    "GB": "https://www.royalmail.com/track-your-item#/tracking-results/%s",
    "US": _USPS_URL,
    "CA": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s",
}

# Hosts of the carriers' own tracking pages: links to them are shipping updates, not contact.
TRACKING_DOMAINS: Final[frozenset[str]] = frozenset(
    {
        "ups.com",
        "usps.com",
        "fedex.com",
        "dhl.com",
        "dhl.de",
        "dhlecs.com",
        "dhlparcel.co.uk",
        "canadapost-postescanada.ca",
        "canadapost.ca",
        "canpar.com",
        "dpd.de",
        "dpd.com",
        "dpd.co.uk",
        "dpdgroup.com",
        "track.amazon.com",
        "ontrac.com",
        "lasership.com",
        "odfl.com",
        "purolator.com",
        "royalmail.com",
        "parcelforce.com",
        "speedeedelivery.com",
        "yodel.co.uk",
        "yuntrack.com",
        "landmarkglobal.com",
        "gofoexpress.com",
    }
)

_SPACES: Final = re.compile(r"\s+")


class _Fits:
    """The formats a number of one length may fit, as one expression per place in their list.

    `formats` are the indices of the formats whose pattern can match a string of the length,
    in order; `from_[k]` matches what the formats from `formats[k]` on match, each branch
    closed by an empty group of its own: a full match names the first of them that fits (the
    group that matched last, `lastindex`, is the one of `formats[k + lastindex - 1]`), so the
    fitting formats are found in one pass each instead of trying every format's pattern in
    turn. Empty groups at the end leave each branch starting with a character, which the
    engine checks before entering the branch. Only the formats of the number's length are in
    it: a full match of all of them tries many more branches (35), most of which fail only
    after a dozen characters or more.
    """

    __slots__ = ("formats", "from_")

    def __init__(self, length: int) -> None:
        self.formats = [j for j, fmt in enumerate(_FORMATS) if length in fmt.lengths]
        self.from_ = [
            re.compile("|".join(f"(?:{_FORMATS[j].pattern.pattern})()" for j in self.formats[k:]))
            for k in range(len(self.formats))
        ]


# Made for a length when first needed (metadata, not verdicts: kept from message to message;
# one per length of 8 to 40 characters, the only ones asked about).
_fits_by_length: Final[dict[int, _Fits]] = {}


def compact(number: str) -> str:
    """Strip spaces and upper-case a tracking number as people type it."""
    return _SPACES.sub("", number).upper()


def tracking_candidates(number: str) -> list[TrackingMatch]:
    """Every carrier format `number` is valid for, most specific first.

    Some formats collide (a 12-digit number can pass both the FedEx Express and the Purolator
    check); a caller that knows the carrier from elsewhere can pick among these.
    """
    return list(_candidates(compact(number)))


def compact_candidates(number: str) -> tuple[TrackingMatch, ...]:
    """`tracking_candidates` of a number already compact (no spaces, upper case)."""
    return _candidates(number)


def compact_first_checked(number: str) -> bool | None:
    """Of a number already compact: None when no carrier format is valid for it, else whether
    the first one is checked (`compact_candidates(number)[0].checked`), found without the
    other formats and without making the matches."""
    return _first_checked(number)


# Pure and called for every chain of digits the shield sees near a carrier word (several
# lengths each), so the answer per compact number is kept.
@lru_cache(maxsize=8192)
def _candidates(n: str) -> tuple[TrackingMatch, ...]:
    found: list[TrackingMatch] = []
    if not 8 <= len(n) <= 40:
        return ()
    j = _next_fit(n, 0)
    while j >= 0:
        fmt = _FORMATS[j]
        url_template = fmt.url
        if fmt.name == "S10":
            url_template = _S10_URLS.get(n[-2:])
        url = url_template % n if url_template else None
        found.append(TrackingMatch(fmt.carrier, fmt.name, n, url, fmt.check is not None))
        j = _next_fit(n, j + 1)
    return tuple(found)


@lru_cache(maxsize=8192)
def _first_checked(n: str) -> bool | None:
    # (the shield's question, kept like `_candidates`)
    j = _next_fit(n, 0) if 8 <= len(n) <= 40 else -1
    return None if j < 0 else _FORMATS[j].check is not None


def _next_fit(n: str, i: int) -> int:
    """The first of the formats from the i-th on that `n` fits, check digit included (-1:
    none does)."""
    fits = _fits_by_length.get(len(n))
    if fits is None:
        fits = _fits_by_length[len(n)] = _Fits(len(n))
    formats = fits.formats
    k = bisect.bisect_left(formats, i)
    while k < len(formats):
        found = fits.from_[k].fullmatch(n)
        if found is None or found.lastindex is None:
            return -1
        k += found.lastindex - 1
        j = formats[k]
        check = _FORMATS[j].check
        if check is None or check(n):
            return j
        k += 1
    return -1


def clear_caches() -> None:
    """Forget remembered verdicts (for cold-cache benchmarks)."""
    _candidates.cache_clear()
    _first_checked.cache_clear()


def match_tracking(number: str) -> TrackingMatch | None:
    """Return the carrier format `number` is valid for (check digit included), or None."""
    found = tracking_candidates(number)
    return found[0] if found else None
