"""One rule at a time: what the shield catches, what it leaves alone, and where it points."""

from __future__ import annotations

import pytest

from tradetalk.protection.detector import Detector, DetectorConfig, Finding, clear_caches


@pytest.fixture(scope="module")
def shield() -> Detector:
    return Detector(DetectorConfig(allowed_domains=frozenset({"tradetalk.example"})))


def kinds(findings: list[Finding]) -> set[str]:
    return {f.kind for f in findings}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("call 415-555-0199", "phone"),
        ("+44 20 7946 0958", "phone"),
        ("four one five five five five oh one nine nine", "phone"),
        ("my number ４１５５５５０１２３", "phone"),
        ("4l5 555 O199", "phone"),
        # look-alike letters beside a number word glued to digits, in one token
        ("415 555 o1three4", "phone"),
        ("four one five, 555 O1three4", "phone"),
        ("4 1 5 5 5 5 0 1 8 2", "phone"),
        ("cuatro uno cinco cinco cinco cinco cero uno dos tres", "phone"),
        ("john.smith@gmail.com", "email"),
        ("john at gmail dot com", "email"),
        ("john [at] yahoo (dot) com", "email"),
        ("www.coinsbymike.com", "url"),
        ("bit.ly/3kX9aB2", "url"),
        ("my ig is @coinguy88", "social_handle"),
        ("snap: coinguy88", "social_handle"),
        ("whatsapp me", "messaging_app"),
        ("w h a t s a p p", "messaging_app"),
        ("wh4ts4pp", "messaging_app"),
        ("t.me/coinguy", "messaging_app"),
        ("venmo @mike-t", "payment_handle"),
        ("cashapp $coinguy", "payment_handle"),
        ("paypal.me/coinguy", "payment_handle"),
        ("text me", "solicitation"),
        ("let's deal outside the app", "solicitation"),
        ("pay me directly and save the fees", "solicitation"),
        ("find me on craigslist", "solicitation"),
        # a name glued to a symbol or an emoji
        ("#whatsapp me", "messaging_app"),
        ("#whatsapp me", "solicitation"),
        ("#WhatsApp", "messaging_app"),
        ("📱telegram me", "messaging_app"),
        # Spanish "en" for "at"
        ("juanperez en gmail punto com", "email"),
        ("carlos1990 en outlook.com", "email"),
        ("pedro_88 en gmail", "email"),
    ],
)
def test_catches(shield: Detector, text: str, kind: str) -> None:
    found = shield.scan(text)
    assert kind in kinds(found), found
    assert all(f.rule for f in found)


@pytest.mark.parametrize(
    "text",
    [
        "$1,250.00 shipped",
        "1250 usd",
        "€45",
        "2 oz and 1/10 oz gold, 31.1 g",
        "12 x 8 x 4 in",
        "1921 Morgan dollar 1881-S MS-65",
        "PCGS cert 12345678",
        "NGC 4567890-001",
        "PSA 10 cert 87654321",
        "order #112-3456789-1234567",
        "listing 48213379",
        "receipt 0042-1138",
        "12/25/2024 or 2024-03-15 at 3:30 pm",
        "size 10.5, qty 3",
        "iPhone 15 Pro 256GB, RTX 4090, SKU 88213-4410",
        "tracking: https://www.ups.com/track?tracknum=1Z5R89390357567127",
        "Shipped USPS 9400 1112 0108 0805 4830 16",
        "I can't share my WhatsApp, platform rules",
        "please keep it on the platform",
        "no PayPal please, use checkout",
        "email support@tradetalk.example with questions",
        "Is this still available?",
        "#vintage #levis #denim",
        "está en buen estado, casi nuevo",
        "envío en 24 horas a todo el país",
        "nos vemos en el metro a las 5 en punto",
        "tengo cuenta en gmail pero mejor hablamos por aquí",
        "es 100 en gmail",
    ],
)
def test_leaves_alone(shield: Detector, text: str) -> None:
    assert shield.scan(text) == []


def test_spanish_spoken_email_span(shield: Detector) -> None:
    text = "escríbeme a juanperez en gmail punto com"
    (email,) = [f for f in shield.scan(text) if f.kind == "email"]
    assert email.text == "juanperez en gmail punto com" and email.rule == "email_spoken"


def test_spans_point_into_original(shield: Detector) -> None:
    text = "ok so my mail is jdoe [at] gmail (dot) com thanks"
    (email,) = [f for f in shield.scan(text) if f.kind == "email"]
    assert text[email.start : email.end] == email.text == "jdoe [at] gmail (dot) com"


def test_number_split_over_three_messages(shield: Detector) -> None:
    found = shield.scan("0199", history=["four one five", "555"])
    assert [(f.kind, f.start, f.end, f.text) for f in found] == [("phone", 0, 4, "0199")]


def test_finding_only_in_history_is_not_reported(shield: Detector) -> None:
    assert shield.scan("thanks!", history=["call me 415 555 0199"]) == []


def test_history_window_limits_context() -> None:
    history = ["four one five five five five", "oh one"]
    assert Detector(DetectorConfig(history_window=1)).scan("nine nine", history) == []
    assert Detector(DetectorConfig(history_window=2)).scan("nine nine", history) != []


def test_allowed_email_and_domain() -> None:
    shield = Detector(DetectorConfig(allowed_emails=frozenset({"help@shopco.com"})))
    assert shield.scan("write to help@shopco.com") == []
    assert kinds(shield.scan("write to other@shopco.com")) == {"email"}


def test_default_region() -> None:
    uk = Detector(DetectorConfig(default_region="GB"))
    assert kinds(uk.scan("ring 020 7946 0958")) >= {"phone"}


def test_handle_after_name_extends_span(shield: Detector) -> None:
    (hit,) = [f for f in shield.scan("telegram: @coinguy88") if f.kind == "messaging_app"]
    assert hit.text == "telegram: @coinguy88" and hit.rule == "telegram_handle"


def test_remembered_verdicts_change_nothing(shield: Detector) -> None:
    # The shield keeps per-token and per-number verdicts between messages; a second scan, and
    # a scan after forgetting them, must find exactly what the first did.
    texts = [
        "call 415-555-0199",
        "FedEx tracking 1 0 0 1 9 0 1 7 8 1 9 9 0 0 0 1 0 0 0 3 0 0 6 1 7 7 6 7 8 3 9 4 3 7",
        "wh4tsapp me, 07700 900461",
        "Is $40 ok for the pair? Shipped 12/25/2024",
    ]
    clear_caches()
    first = [shield.scan(t) for t in texts]
    assert [shield.scan(t) for t in texts] == first
    clear_caches()
    assert [shield.scan(t) for t in texts] == first
    assert kinds(first[0]) == {"phone"} and not first[3]
