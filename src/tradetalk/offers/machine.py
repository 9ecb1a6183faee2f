"""The offer state machine: pure rules, no I/O.

An offer is made by one party of a conversation (the maker) to the other (the recipient). Only
an open offer moves, and only once: every other state is final.

    open --accept (recipient)---> accepted
    open --decline (recipient)--> declined
    open --counter (recipient)--> countered   (the counteroffer is a new open offer)
    open --withdraw (maker)-----> withdrawn
    open --replace (maker)------> withdrawn   (the maker made a new offer instead)
    open --expire (clock)-------> expired     (at expires_at exactly, not one tick later)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from tradetalk.errors import CommittedRefusal, Conflict


class OfferStatus(enum.StrEnum):
    """Where an offer stands."""

    OPEN = "open"
    COUNTERED = "countered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class OfferAction(enum.StrEnum):
    """What can happen to an offer."""

    ACCEPT = "accept"
    DECLINE = "decline"
    COUNTER = "counter"
    WITHDRAW = "withdraw"
    REPLACE = "replace"
    EXPIRE = "expire"


class Party(enum.StrEnum):
    """Who acts on an offer, relative to it."""

    MAKER = "maker"
    RECIPIENT = "recipient"
    CLOCK = "clock"


@dataclass(frozen=True, slots=True)
class Transition:
    """Who may take an action, and the status it leads to."""

    party: Party
    to: OfferStatus


TRANSITIONS: dict[OfferAction, Transition] = {
    OfferAction.ACCEPT: Transition(Party.RECIPIENT, OfferStatus.ACCEPTED),
    OfferAction.DECLINE: Transition(Party.RECIPIENT, OfferStatus.DECLINED),
    OfferAction.COUNTER: Transition(Party.RECIPIENT, OfferStatus.COUNTERED),
    OfferAction.WITHDRAW: Transition(Party.MAKER, OfferStatus.WITHDRAWN),
    OfferAction.REPLACE: Transition(Party.MAKER, OfferStatus.WITHDRAWN),
    OfferAction.EXPIRE: Transition(Party.CLOCK, OfferStatus.EXPIRED),
}

FINAL_STATUSES = frozenset(OfferStatus) - {OfferStatus.OPEN}


class OfferNotOpen(Conflict):
    code = "offer_not_open"
    title = "The offer is no longer open"


class OfferExpired(CommittedRefusal, OfferNotOpen):
    """Refused, but the expiry it discovered commits (see CommittedRefusal)."""

    code = "offer_expired"
    title = "The offer has expired"


class CannotAnswerOwnOffer(Conflict):
    code = "cannot_answer_own_offer"
    title = "Only the other party can accept, decline or counter an offer"


class NotYourOffer(Conflict):
    code = "not_your_offer"
    title = "Only the party who made the offer can withdraw it"


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    """True from the expiry instant on: an offer expiring at noon is no longer open at noon."""
    return expires_at is not None and now >= expires_at


def effective_status(
    status: OfferStatus, expires_at: datetime | None, now: datetime
) -> OfferStatus:
    """The status as of `now`: an open offer past its expiry reads as expired."""
    if status is OfferStatus.OPEN and is_expired(expires_at, now):
        return OfferStatus.EXPIRED
    return status


def decide(status: OfferStatus, action: OfferAction, party: Party) -> OfferStatus:
    """The status `action` by `party` leads to; raises the Conflict that forbids it otherwise.

    The offer's state is judged first (a closed offer is closed for everyone), then who acts.
    Expiry is the caller's job: judge `effective_status` before calling this.
    """
    if status is not OfferStatus.OPEN:
        raise OfferNotOpen(
            f"The offer is {status.value}; only an open offer can change.",
            extra={"offer_status": status.value},
        )
    transition = TRANSITIONS[action]
    if party is transition.party:
        return transition.to
    if transition.party is Party.RECIPIENT:
        raise CannotAnswerOwnOffer(f"You made this offer; you cannot {action.value} it.")
    if transition.party is Party.MAKER:
        raise NotYourOffer(f"Only the party who made this offer can {action.value} it.")
    raise ValueError(f"{action.value} is not something a {party.value} does")
