"""The offer state machine on its own: every transition, every forbidden one, the expiry instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradetalk.offers.machine import (
    FINAL_STATUSES,
    CannotAnswerOwnOffer,
    NotYourOffer,
    OfferAction,
    OfferNotOpen,
    OfferStatus,
    Party,
    decide,
    effective_status,
    is_expired,
)

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

ALLOWED = {
    (OfferAction.ACCEPT, Party.RECIPIENT): OfferStatus.ACCEPTED,
    (OfferAction.DECLINE, Party.RECIPIENT): OfferStatus.DECLINED,
    (OfferAction.COUNTER, Party.RECIPIENT): OfferStatus.COUNTERED,
    (OfferAction.WITHDRAW, Party.MAKER): OfferStatus.WITHDRAWN,
    (OfferAction.REPLACE, Party.MAKER): OfferStatus.WITHDRAWN,
    (OfferAction.EXPIRE, Party.CLOCK): OfferStatus.EXPIRED,
}


@pytest.mark.parametrize(("action", "party"), list(ALLOWED))
def test_an_open_offer_moves_once_for_the_right_party(action: OfferAction, party: Party) -> None:
    assert decide(OfferStatus.OPEN, action, party) is ALLOWED[(action, party)]


@pytest.mark.parametrize("action", [OfferAction.ACCEPT, OfferAction.DECLINE, OfferAction.COUNTER])
def test_the_maker_cannot_answer_their_own_offer(action: OfferAction) -> None:
    with pytest.raises(CannotAnswerOwnOffer) as refused:
        decide(OfferStatus.OPEN, action, Party.MAKER)
    assert refused.value.status == 409
    assert refused.value.code == "cannot_answer_own_offer"


@pytest.mark.parametrize("action", [OfferAction.WITHDRAW, OfferAction.REPLACE])
def test_only_the_maker_withdraws(action: OfferAction) -> None:
    with pytest.raises(NotYourOffer) as refused:
        decide(OfferStatus.OPEN, action, Party.RECIPIENT)
    assert refused.value.status == 409
    assert refused.value.code == "not_your_offer"


@pytest.mark.parametrize("party", [Party.MAKER, Party.RECIPIENT])
def test_people_do_not_expire_offers(party: Party) -> None:
    with pytest.raises(ValueError):
        decide(OfferStatus.OPEN, OfferAction.EXPIRE, party)


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
@pytest.mark.parametrize("action", list(OfferAction))
@pytest.mark.parametrize("party", list(Party))
def test_every_closed_status_is_final_for_everyone(
    status: OfferStatus, action: OfferAction, party: Party
) -> None:
    with pytest.raises(OfferNotOpen) as refused:
        decide(status, action, party)
    assert refused.value.code == "offer_not_open"
    assert refused.value.extra == {"offer_status": status.value}


def test_the_final_statuses_are_every_status_but_open() -> None:
    assert set(OfferStatus) - FINAL_STATUSES == {OfferStatus.OPEN}
    assert {t for t in ALLOWED.values()} == FINAL_STATUSES


def test_an_offer_expires_at_its_expiry_instant_not_a_tick_later() -> None:
    assert not is_expired(NOON, NOON - timedelta(microseconds=1))
    assert is_expired(NOON, NOON)
    assert is_expired(NOON, NOON + timedelta(days=1))
    assert not is_expired(None, NOON + timedelta(days=3650))


def test_only_an_open_offer_reads_as_expired_once_its_time_is_up() -> None:
    assert effective_status(OfferStatus.OPEN, NOON, NOON) is OfferStatus.EXPIRED
    assert effective_status(OfferStatus.OPEN, NOON, NOON - timedelta(seconds=1)) is OfferStatus.OPEN
    assert effective_status(OfferStatus.ACCEPTED, NOON, NOON) is OfferStatus.ACCEPTED
    assert effective_status(OfferStatus.OPEN, None, NOON) is OfferStatus.OPEN
