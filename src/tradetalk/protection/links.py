"""E-mail addresses, URLs, @handles and $cashtags in the de-obfuscated view.

URLs are found with a regular expression and confirmed against the public suffix list that
`tldextract` bundles (no network: `suffix_list_urls=()`). `urlextract` was measured at about
1.3 ms per message here, sixty times the shield's whole budget, so it is not used.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import tldextract

from tradetalk.protection.hit import Hit
from tradetalk.protection.matching import matches

__all__ = ["find_emails", "find_handles", "find_urls", "may_hold_url"]


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # The snapshot shipped inside tldextract; never fetch a fresh list at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@lru_cache(maxsize=4096)
def public_suffix(host: str) -> str:
    """The public suffix of `host` ("co.uk"), or "" when it has none."""
    return _extractor()(host).suffix


_PROVIDERS: Final = frozenset(
    [
        "gmail",
        "googlemail",
        "yahoo",
        "ymail",
        "hotmail",
        "outlook",
        "live",
        "msn",
        "icloud",
        "me",
        "mac",
        "aol",
        "protonmail",
        "proton",
        "pm",
        "gmx",
        "web",
        "yandex",
        "mail",
        "zoho",
        "tutanota",
        "qq",
        "163",
        "126",
        "comcast",
        "verizon",
        "att",
        "sbcglobal",
        "bellsouth",
        "cox",
        "earthlink",
        "optonline",
        "rocketmail",
    ]
)
# Providers safe to recognise without a TLD ("john at gmail"): none of them is a common word.
_SPOKEN_PROVIDERS: Final = frozenset(
    [
        "gmail",
        "googlemail",
        "yahoo",
        "ymail",
        "hotmail",
        "icloud",
        "aol",
        "protonmail",
        "gmx",
        "yandex",
    ]
)
_COMMON_TLDS: Final = frozenset(
    [
        "com",
        "net",
        "org",
        "io",
        "co",
        "me",
        "us",
        "uk",
        "ca",
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "au",
        "in",
        "ru",
        "info",
        "biz",
        "ly",
        "gg",
        "app",
        "shop",
        "store",
        "xyz",
        "online",
        "site",
        "email",
        "mx",
        "br",
        "ch",
        "at",
        "be",
        "se",
        "no",
        "dk",
        "pl",
        "pt",
        "ie",
        "nz",
        "jp",
        "cn",
    ]
)
_LOCAL_STOP: Final = frozenset(
    [
        "me",
        "you",
        "him",
        "her",
        "us",
        "them",
        "it",
        "this",
        "that",
        "is",
        "are",
        "was",
        "be",
        "look",
        "meet",
        "see",
        "stop",
        "arrive",
        "available",
        "here",
        "there",
        "one",
        "pickup",
        "pick",
        "up",
        "home",
        "work",
        "shop",
        "store",
        "sold",
        "listed",
        "priced",
        "ship",
        "shipped",
        "arrives",
        "delivered",
        "open",
        "closed",
        "back",
        "price",
        "only",
        "sell",
        "buy",
        "get",
        "got",
        "find",
        "found",
        "the",
        "a",
        "an",
        "and",
        "or",
        "it's",
        "im",
        "i'm",
        "i",
        "we",
        "they",
        "he",
        "she",
    ]
)

# The name of an address starts with a letter or digit that no character of a name stands
# before: "(?<![a-z0-9._%+\-])[a-z0-9]", written with the letter first (a set of characters the
# engine scans for, where a leading look-behind is tried at every position). The rest of the
# name is taken whole ("{0,63}+"): giving back a character of it can never let "@" or a space
# follow, so only the backtracking goes.
_NAME_START: Final = r"[a-z0-9](?<![a-z0-9._%+\-][a-z0-9])"
_EMAIL_AT: Final = re.compile(
    rf"({_NAME_START}[a-z0-9._%+\-]{{0,63}}+)\s?@\s?"
    r"([a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?(?:\s?\.\s?[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?)*)"
)
_EMAIL_SPOKEN: Final = re.compile(
    rf"({_NAME_START}[a-z0-9._%+\-]{{1,63}}+)\s+(at|arroba|chez|bei|en)\s+"
    r"([a-z0-9][a-z0-9\-]*(?:\.[a-z0-9][a-z0-9\-]*)*)"
)
# What a spoken address's domain needs (`_email_domain_ok`): a dot inside it, between a letter,
# digit or "-" and a letter or digit, or the whole of it a provider named without its ending.
# A text with neither has no spoken address, whatever its " at ": most of them ("meet at 5").
# (`_domain_dot` looks for it without a search; the expression is what a test compares with.)
_DOMAIN_DOT: Final = re.compile(r"\.(?<=[a-z0-9\-]\.)(?=[a-z0-9])")
_SPOKEN_PROVIDER_NAMES: Final[tuple[str, ...]] = tuple(sorted(_SPOKEN_PROVIDERS))


def _may_hold_spoken_domain(text: str) -> bool:
    """Whether `text` has a dot inside a domain or the name of a spoken provider (see above)."""
    return _domain_dot(text) or any(name in text for name in _SPOKEN_PROVIDER_NAMES)


def _domain_dot(text: str) -> bool:
    """Whether `_DOMAIN_DOT` matches in `text`: each "." (found with `str.find`) looked at with
    the characters either side of it, where the search, its setup alone some 1,000
    instructions, would do the same."""
    last = len(text) - 1
    dot = text.find(".")
    while 0 <= dot < last:
        if dot > 0:
            before = ord(text[dot - 1])
            after = ord(text[dot + 1])
            if (97 <= before <= 122 or 48 <= before <= 57 or before == 45) and (
                97 <= after <= 122 or 48 <= after <= 57
            ):
                return True
        dot = text.find(".", dot + 1)
    return False


# Spanish "en" ("juanperez en gmail punto com") is also the everyday "in": an address spoken
# with it needs a provider's domain with its ending (gmail.com, hotmail.es), or a provider alone
# after a name that looks like a handle (letters with digits, "." or "_": "pedro_88 en gmail"),
# and a name that is not one of the words before "en" in a sentence ("tengo cuenta en ...").
_LOCAL_STOP_ES: Final = frozenset((
    "lo", "la", "los", "las", "le", "les", "me", "te", "se", "nos", "mi", "mis", "tu", "tus",
    "su", "sus", "yo", "el", "ella", "esta", "estan", "estoy", "estamos", "esto", "eso", "todo",
    "todos", "algo", "tengo", "tiene", "tienes", "cuenta", "correo", "mail", "email", "perfil",
    "usuario", "registrado", "registrada", "escribo", "escribe", "escribeme", "mando",
    "mandame", "envio", "envia", "pago", "pagar", "busca", "buscame", "vivo", "foto", "fotos",
    "publicado", "subido", "guardado", "hay",
))  # fmt: skip


def _email_domain_ok(domain: str, spoken: bool) -> bool:
    labels = domain.split(".")
    if len(labels) == 1:
        return domain in (_SPOKEN_PROVIDERS if spoken else _PROVIDERS)
    if spoken:
        return labels[0] in _PROVIDERS or labels[-1] in _COMMON_TLDS
    return bool(public_suffix(domain)) or labels[0] in _PROVIDERS


def _spanish_address(local: str, domain: str) -> bool:
    if local in _LOCAL_STOP_ES:
        return False
    if "." in domain:
        return domain.split(".", 1)[0] in _PROVIDERS
    # (the domain is a spoken provider)
    return _HANDLE_LIKE.search(local) is not None and _LETTER.search(local) is not None


_HANDLE_LIKE: Final = re.compile(r"[0-9._]")
_LETTER: Final = re.compile("[a-z]")


# The bound methods, taken once (see phones._chain_at).
_email_at: Final = _EMAIL_AT.match
_email_spoken_at: Final = _EMAIL_SPOKEN.match

# An address's expressions start with a set of characters that most letters are in: a search
# tries them at nearly every position (the engine tests each character against the set, some
# 60 instructions). Both take a name whole, the whole run of name characters ([a-z0-9._%+\-])
# before its "@" or spoken "at" (their look-behind lets no such character stand before the
# name's first, a letter or digit, and the name is taken whole), so each "@" or spoken word,
# found with `str.find`, gives the one place where a match with it can start: the walks below
# try the expression at those places only, left to right and from where the last match ended,
# as the search goes on.


def _address_name_start(text: str, end: int) -> int:
    r"""Where the run of name characters ([a-z0-9._%+\-]) ending at `end` starts."""
    start = end
    while start > 0:
        c = ord(text[start - 1])
        if not (
            97 <= c <= 122 or 48 <= c <= 57 or c == 46 or c == 95 or c == 37 or c == 43 or c == 45
        ):
            break
        start -= 1
    return start


def _email_at_matches(text: str) -> list[re.Match[str]]:
    """`matches(_EMAIL_AT, text)`, the expression tried only where a match can start (see
    above): the name ends at the "@" or at the one whitespace before it."""
    found: list[re.Match[str]] = []
    floor = 0
    at = text.find("@")
    while at >= 0:
        start = _address_name_start(text, at - 1 if at > 0 and text[at - 1].isspace() else at)
        if start >= floor and start < at:
            m = _email_at(text, start)
            if m is not None:
                found.append(m)
                floor = m.end()
        at = text.find("@", at + 1)
    return found


# `_EMAIL_SPOKEN`'s words for "@".
_SPOKEN_AT_WORDS: Final[tuple[str, ...]] = ("at", "arroba", "chez", "bei", "en")


def _email_spoken_matches(text: str) -> list[re.Match[str]]:
    """`matches(_EMAIL_SPOKEN, text)`, the expression tried only where a match can start (see
    above): the name ends where the whitespace before a spoken word that whitespace follows
    starts."""
    starts: list[int] = []
    size = len(text)
    for word in _SPOKEN_AT_WORDS:
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            if at > 0 and end < size and text[at - 1].isspace() and text[end].isspace():
                name_end = at - 1
                while name_end > 0 and text[name_end - 1].isspace():
                    name_end -= 1
                start = _address_name_start(text, name_end)
                if start < name_end:
                    starts.append(start)
            at = text.find(word, end)
    if len(starts) > 1:
        starts.sort()
    found: list[re.Match[str]] = []
    floor = 0
    for start in starts:
        if start >= floor:
            m = _email_spoken_at(text, start)
            if m is not None:
                found.append(m)
                floor = m.end()
    return found


def find_emails(
    text: str, allowed_emails: frozenset[str], allowed_domains: frozenset[str]
) -> list[Hit]:
    """E-mail addresses, also "john at gmail dot com" once the view has "john at gmail.com"."""
    hits: list[Hit] = []
    if "@" in text:
        for m in _email_at_matches(text):
            domain = "".join(m.group(2).split()).rstrip(".")  # (without its spaces)
            local = m.group(1)
            if not _email_domain_ok(domain, False):
                continue
            address = f"{local}@{domain}"
            if address in allowed_emails or _allowed(domain, allowed_domains):
                continue
            end = m.start(2) + len(m.group(2).rstrip(". "))
            hits.append(Hit(m.start(), end, "email", "email_address"))
    if (
        " at " in text
        or " arroba " in text
        or " chez " in text
        or " bei " in text
        or " en " in text
    ) and _may_hold_spoken_domain(text):
        for m in _email_spoken_matches(text):
            local, domain = m.group(1), m.group(3).rstrip(".")
            if local in _LOCAL_STOP or not _email_domain_ok(domain, True):
                continue
            if m.group(2) == "en" and not _spanish_address(local, domain):
                continue
            if f"{local}@{domain}" in allowed_emails or _allowed(domain, allowed_domains):
                continue
            hits.append(Hit(m.start(), m.start(3) + len(domain), "email", "email_spoken"))
    return hits


# Hosts whose links are a channel of their own, not just an outside page.
_HOST_KINDS: Final[dict[str, tuple[str, str]]] = {}
for _host in [
    "wa.me",
    "api.whatsapp.com",
    "chat.whatsapp.com",
    "whatsapp.com",
    "t.me",
    "telegram.me",
    "telegram.org",
    "telegram.dog",
    "signal.me",
    "signal.group",
    "m.me",
    "line.me",
    "discord.gg",
    "discord.com",
    "kik.me",
    "viber.com",
    "invite.viber.com",
    "wechat.com",
    "skype.com",
    "join.skype.com",
]:
    _HOST_KINDS[_host] = ("messaging_app", "messaging_link")
for _host in [
    "instagram.com",
    "instagr.am",
    "facebook.com",
    "fb.com",
    "fb.me",
    "tiktok.com",
    "twitter.com",
    "x.com",
    "snapchat.com",
    "linkedin.com",
    "youtube.com",
    "youtu.be",
    "reddit.com",
    "pinterest.com",
    "threads.net",
    "linktr.ee",
    "onlyfans.com",
]:
    _HOST_KINDS[_host] = ("social_handle", "social_link")
for _host in [
    "paypal.me",
    "paypal.com",
    "venmo.com",
    "account.venmo.com",
    "cash.app",
    "cash.me",
    "revolut.me",
    "wise.com",
    "buymeacoffee.com",
    "ko-fi.com",
]:
    _HOST_KINDS[_host] = ("payment_handle", "payment_link")
for _host in [
    "bit.ly",
    "tinyurl.com",
    "goo.gl",
    "t.co",
    "ow.ly",
    "is.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "rb.gy",
    "tiny.cc",
    "s.id",
    "t.ly",
    "lnkd.in",
    "v.gd",
    "bl.ink",
    "short.io",
]:
    _HOST_KINDS[_host] = ("url", "url_shortener")
for _host in [
    "ebay.com",
    "ebay.co.uk",
    "ebay.de",
    "ebay.ca",
    "ebay.com.au",
    "craigslist.org",
    "offerup.com",
    "mercari.com",
    "etsy.com",
    "poshmark.com",
    "depop.com",
    "grailed.com",
    "stockx.com",
    "vinted.com",
    "kijiji.ca",
    "gumtree.com",
    "amazon.com",
]:
    _HOST_KINDS[_host] = ("url", "marketplace_link")

# TLDs that are also everyday words: "ok.so", "gold.bar", "yes.it" are typos, not links, unless
# the host is one we know.
_WORDLIKE_TLDS: Final = frozenset(
    [
        "so",
        "it",
        "is",
        "in",
        "at",
        "to",
        "be",
        "no",
        "do",
        "go",
        "my",
        "me",
        "us",
        "as",
        "am",
        "an",
        "or",
        "by",
        "on",
        "up",
        "we",
        "he",
        "hi",
        "ok",
        "bar",
        "now",
        "new",
        "one",
        "top",
        "win",
        "fun",
        "art",
        "buy",
        "car",
        "cat",
        "pub",
        "red",
        "run",
        "tv",
        "ai",
        "id",
        "ad",
    ]
)

_URL: Final = re.compile(
    r"\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[^\s<>\"'`]+|"
    r"(?<![@a-z0-9.\-_])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9\-]{1,23}"
    r"(?![a-z0-9@\-])(?::\d{2,5})?(?:/[^\s<>\"'`]*)?"
)
_TRAIL: Final = ".,;:!?)]}'\"*"
_IPV4: Final = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


# Both look `host` up with each domain it is under, itself first: what follows each of its dots,
# while that holds a dot (a domain of one label is never looked up). Sliced off one by one
# instead of splitting at the dots and joining the labels again.


def _allowed(host: str, domains: frozenset[str]) -> bool:
    if not domains:
        return False  # (no operator domains: most e-mail look-ups)
    key = host
    dot = key.find(".")
    while dot >= 0:
        if key in domains:
            return True
        key = key[dot + 1 :]
        dot = key.find(".")
    return False


def _host_kind(host: str, path: str) -> tuple[str, str] | None:
    key = host
    dot = key.find(".")
    while dot >= 0:
        kind = _HOST_KINDS.get(key)
        if kind is not None:
            return kind
        key = key[dot + 1 :]
        dot = key.find(".")
    return None


def may_hold_url(text: str) -> bool:
    """Whether `text` has a "://", "www" or a dot between a letter or digit and a letter.

    Cheaper than the URL expression: most messages only have sentence-ending dots.
    """
    if "://" in text or "www" in text:
        return True
    if "." not in text:
        return False
    # The expression finds the candidates in C; [^\W\d_] also takes a few numeric symbols
    # (superscripts, fractions) that are not letters, hence the isalpha check.
    return any(text[m.end()].isalpha() for m in matches(_DOT_BEFORE_LETTER, text))


# (The dot first, then what stands before it: the engine searches for the dot instead of trying
# the look-behind at every position, over ten times faster.)
_DOT_BEFORE_LETTER: Final = re.compile(r"\.(?<=[^\W_]\.)(?=[^\W\d_])")


def _url_search_start(text: str) -> int:
    """Where in `text` a link can start at the earliest, or -1 where none can be.

    Every match of `_URL` holds a "://", a "www" or a dot between a letter or digit and a
    letter, and no space: it lies in the run of non-spaces of such a mark, at the earliest the
    first one's. The search starts there instead of trying the expression, whose look-behind
    and word boundaries keep the engine from scanning ahead, at every character before it.
    """
    first = len(text)
    at = text.find("://")
    if at >= 0:
        first = at
    at = text.find("www", 0, first)
    if at >= 0:
        first = at
    dot = _dot_before_letter(text, min(first + 1, len(text)))
    if 0 <= dot < first:
        first = dot
    if first == len(text):
        return -1  # no mark, no link
    while first > 0 and not text[first - 1].isspace():
        first -= 1
    return first


def _dot_before_letter(text: str, end: int) -> int:
    """Where `_DOT_BEFORE_LETTER.search(text, 0, end)` matches, or -1 (`end` <= len(text)).

    The dots are found with `str.find` and the characters on either side tested by their codes
    (the expression's classes by the same Unicode properties for the others), where the
    expression's search costs a call and the engine's setup, a few thousand instructions.
    """
    if end < 3:
        return -1  # (no room for a character, the dot and another; and find's end must be >= 0)
    dot = text.find(".", 1, end - 1)  # (a character before it, and one after it within `end`)
    while dot >= 0:
        if _is_alnum(text[dot - 1]) and _is_letter(text[dot + 1]):
            return dot
        dot = text.find(".", dot + 1, end - 1)
    return -1


def _is_alnum(c: str) -> bool:
    # "[^\W_]", as the engine has it: str.isalnum (underscore is no alphanumeric)
    o = ord(c)
    if o < 128:
        return 97 <= o <= 122 or 65 <= o <= 90 or 48 <= o <= 57
    return c.isalnum()


def _is_letter(c: str) -> bool:
    # "[^\W\d_]", as the engine has it: alphanumeric, but no decimal digit
    o = ord(c)
    if o < 128:
        return 97 <= o <= 122 or 65 <= o <= 90
    return c.isalnum() and not c.isdecimal()


def _host_end(rest: str) -> int:
    """Where the host that starts `rest` ends: at its first "/", ":", "?" or "#", if any."""
    end = len(rest)
    for mark in "/:?#":
        at = rest.find(mark, 0, end)
        if at >= 0:
            end = at
    return end


# The bound method, taken once (see phones._chain_at).
_url_at: Final = _URL.match


def _url_matches(text: str, start: int) -> list[re.Match[str]]:
    """`matches(_URL, text, start)`, the expression tried only where a match can start.

    Each of its branches starts with a letter or digit ([a-z0-9]) before which stands none of
    [a-z0-9_]: the scheme ("h", "f") and "www" after a word boundary, the host's first label
    where its look-behind lets it; a label is a run of [a-z0-9-] and a dot after it. A search
    tries the expression at every position from `start` (the boundary and the look-behind keep
    the engine from scanning ahead), some hundreds of instructions each, and a failed try at a
    start costs a few thousand; here the characters are walked by their codes and the
    expression tried only at starts of a scheme, "www" or a label, going on after a match where
    it ends, as the search does.
    """
    found: list[re.Match[str]] = []
    pos = start
    size = len(text)
    while pos < size:
        c = ord(text[pos])
        if (
            (97 <= c <= 122 or 48 <= c <= 57)
            and (pos == 0 or not _in_name(ord(text[pos - 1])))
            and (c == 104 or c == 102 or c == 119 or _label_before_dot(text, pos))  # "h" "f" "w"
        ):
            m = _url_at(text, pos)
            if m is not None:
                found.append(m)
                pos = m.end()
                continue
        pos += 1
    return found


def _label_before_dot(text: str, pos: int) -> bool:
    """Whether the run of [a-z0-9-] at `pos` has a "." right after it."""
    size = len(text)
    while pos < size:
        c = ord(text[pos])
        if not (97 <= c <= 122 or 48 <= c <= 57 or c == 45):  # (45: "-")
            return c == 46  # "."
        pos += 1
    return False


def _in_name(c: int) -> bool:
    """Whether chr(c) is one of [a-z0-9_], which no match of `_URL` starts after."""
    return 97 <= c <= 122 or 48 <= c <= 57 or c == 95


def find_urls(text: str, allowed_domains: frozenset[str]) -> list[Hit]:
    """Links to outside pages; `allowed_domains` (operator, carriers) are left alone."""
    start = _url_search_start(text)
    if start < 0:
        return []
    hits: list[Hit] = []
    for m in _url_matches(text, start):
        raw = m.group().rstrip(_TRAIL)
        if not raw:
            continue
        has_scheme = "://" in raw
        rest = raw.split("://", 1)[1] if has_scheme else raw
        host = rest[: _host_end(rest)].rstrip(".")
        path = rest[len(host) :]
        host_key = host[4:] if host.startswith("www.") else host
        if "." not in host_key:
            continue
        known = _host_kind(host_key, path)
        tld = host_key.rsplit(".", 1)[1]
        if not any(c.isalpha() for c in tld):
            if not (has_scheme and _IPV4.fullmatch(host_key)):
                continue
        elif known is None:
            if not public_suffix(host_key):
                continue
            bare = not has_scheme and not raw.startswith("www.") and not path.strip("/")
            if bare and tld in _WORDLIKE_TLDS:
                continue
        if _allowed(host_key, allowed_domains):
            continue
        kind, rule = known or ("url", "url")
        hits.append(Hit(m.start(), m.start() + len(raw), kind, rule))
    return hits


# Each starts with its sign and looks behind it from there ("(?<!x.)" after the sign is
# "(?<!x)" before it): an expression that starts with a plain character is searched for that
# character first, instead of being tried at every position.
_AT_HANDLE: Final = re.compile(
    r"@(?<![a-z0-9._%+\-@].)([a-z0-9_](?:[a-z0-9_.]{0,28}[a-z0-9_])?)(?![a-z0-9_@])"
)
_CASHTAG: Final = re.compile(r"\$(?<![a-z0-9$].)([a-z][a-z0-9_\-]{1,19})(?![a-z0-9_])")
_CURRENCIES: Final = frozenset(
    ["usd", "cad", "aud", "nzd", "hkd", "sgd", "mxn", "eur", "gbp", "us", "ca", "au"]
)
_AT_STOP: Final = frozenset(["home", "work", "me", "you", "the", "a", "noon", "night"])


def find_handles(text: str) -> list[Hit]:
    """Stand-alone "@name" (social) and "$name" (Cash App) handles."""
    hits: list[Hit] = []
    if "@" in text:
        for m in matches(_AT_HANDLE, text):
            name = m.group(1)
            if name.isdigit() or name in _AT_STOP or not any(c.isalpha() for c in name):
                continue
            hits.append(Hit(m.start(), m.end(), "social_handle", "at_handle"))
    if "$" in text:
        for m in matches(_CASHTAG, text):
            if m.group(1) in _CURRENCIES:
                continue
            hits.append(Hit(m.start(), m.end(), "payment_handle", "cashtag"))
    return hits
