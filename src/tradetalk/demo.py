"""A small demo marketplace: coins, sneakers and cameras, with a lived-in history."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts import service as accounts_service
from tradetalk.accounts.models import User
from tradetalk.accounts.schemas import TokenRequest, UserUpsert
from tradetalk.context import AppContext
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.schemas import MessageCreate
from tradetalk.db import UnitOfWork, unit_of_work
from tradetalk.kit.clock import ManualClock
from tradetalk.marketplace import service as transactions_service
from tradetalk.marketplace.models import TransactionStatus
from tradetalk.marketplace.schemas import TransactionUpsert


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str
    email: str
    is_support: bool = False


USERS = [
    DemoUser("seller-ada", "Ada's Coin Cabinet", "ada@example.com"),
    DemoUser("seller-bo", "Bo's Sneaker Vault", "bo@example.com"),
    DemoUser("seller-cy", "Cy Vintage Cameras", "cy@example.com"),
    DemoUser("buyer-dan", "Dan Okafor", "dan@example.com"),
    DemoUser("buyer-eve", "Eve Lindqvist", "eve@example.com"),
    DemoUser("buyer-fay", "Fay Moreau", "fay@example.com"),
    DemoUser("support-gus", "Gus (Support)", "gus@example.com", is_support=True),
]

# (transaction id, buyer, seller, title, status, amount in cents, the conversation so far)
TRANSACTIONS: list[tuple[str, str, str, str, TransactionStatus, int, list[tuple[str, str]]]] = [
    (
        "ord-1001",
        "buyer-dan",
        "seller-ada",
        "1921 Morgan silver dollar, MS-63",
        TransactionStatus.PAID,
        12500,
        [
            ("buyer-dan", "Hi! Is the coin still in its original PCGS holder?"),
            ("seller-ada", "Yes, PCGS holder, cert 41234567. No scratches on the slab."),
            ("buyer-dan", "Great. Could you ship it in a padded envelope inside a box?"),
            ("seller-ada", "Of course, I always double-box coins over $100."),
        ],
    ),
    (
        "ord-1002",
        "buyer-eve",
        "seller-bo",
        "Air Jordan 1 Retro High OG, size 10.5",
        TransactionStatus.SHIPPED,
        23000,
        [
            ("buyer-eve", "Are these deadstock with the original box?"),
            ("seller-bo", "Deadstock, original box and extra laces. Shipped today."),
            ("buyer-eve", "Thank you! Excited to get them."),
        ],
    ),
    (
        "ord-1003",
        "buyer-fay",
        "seller-cy",
        "Canon AE-1 Program with 50mm f/1.8",
        TransactionStatus.INITIATED,
        18900,
        [
            ("buyer-fay", "Does the light meter work? And are there any fungus spots in the lens?"),
        ],
    ),
    (
        "ord-1004",
        "buyer-dan",
        "seller-cy",
        "Olympus OM-1 body, serviced",
        TransactionStatus.DELIVERED,
        15000,
        [
            (
                "seller-cy",
                "Your OM-1 should have arrived. Let me know how the first roll turns out!",
            ),
            ("buyer-dan", "Arrived safely, shutter sounds perfect."),
        ],
    ),
]

SERVER_API_KEY = "demo-server-key"


async def seed(ctx: AppContext) -> None:
    """Create the demo users, transactions and conversations (histories dated in the past)."""
    clock = ManualClock(ctx.clock.now() - timedelta(days=2))
    seeding = dataclasses.replace(ctx, clock=clock)
    async with unit_of_work(seeding) as uow:
        for user in USERS:
            await accounts_service.do_upsert_user(
                uow,
                user.id,
                UserUpsert(display_name=user.name, email=user.email, is_support=user.is_support),
            )
    for transaction_id, buyer, seller, title, status, amount, lines in TRANSACTIONS:
        clock.advance(timedelta(hours=3))
        async with unit_of_work(seeding) as uow:
            await transactions_service.do_upsert(
                uow,
                transaction_id,
                TransactionUpsert(
                    buyer_id=buyer,
                    seller_id=seller,
                    title=title,
                    status=status,
                    amount_minor=amount,
                    currency="USD",
                ),
            )
        for sender_id, body in lines:
            clock.advance(timedelta(minutes=17))
            async with unit_of_work(seeding) as uow:
                sender = await _user(uow, sender_id)
                conversation = await conversations_service.do_open_for_transaction(
                    uow, transaction_id, sender
                )
                await conversations_service.do_send(
                    uow, conversation, sender, MessageCreate(body=body)
                )


async def _user(uow: UnitOfWork, user_id: str) -> User:
    user = await users_repo.get(uow.session, user_id)
    if user is None:  # pragma: no cover - seeded just above
        raise LookupError(user_id)
    return user


async def tokens(ctx: AppContext) -> dict[str, str]:
    """A day-long token for each demo user, for trying the API with curl."""
    issued: dict[str, str] = {}
    async with unit_of_work(ctx) as uow:
        for user in USERS:
            token, _ = await accounts_service.do_issue_token(
                uow, user.id, TokenRequest(ttl_seconds=86400)
            )
            issued[user.id] = token
    return issued
