"""Rules for transactions synced from the operator."""

from __future__ import annotations

from tradetalk.accounts import repository as users_repo
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.db import UnitOfWork
from tradetalk.errors import InvalidRequest, TransactionPartiesFixed
from tradetalk.marketplace import repository as transactions_repo
from tradetalk.marketplace.models import Transaction, TransactionStatus
from tradetalk.marketplace.schemas import TransactionUpsert

# What the thread says when the operator moves a transaction to each status.
STATUS_NOTES: dict[TransactionStatus, str] = {
    TransactionStatus.INITIATED: "Order moved back to initiated",
    TransactionStatus.PAID: "Order marked as paid",
    TransactionStatus.SHIPPED: "Order marked as shipped",
    TransactionStatus.DELIVERED: "Order marked as delivered",
    TransactionStatus.COMPLETED: "Order marked as completed",
    TransactionStatus.CANCELLED: "Order cancelled",
    TransactionStatus.REFUNDED: "Order refunded",
}


class UnknownUser(InvalidRequest):
    code = "unknown_user"
    title = "The transaction names a user that does not exist"


async def check_upsert(
    uow: UnitOfWork, existing: Transaction | None, payload: TransactionUpsert
) -> None:
    """Both parties must exist; once a conversation exists, the parties are fixed."""
    users = await users_repo.get_many(uow.session, {payload.buyer_id, payload.seller_id})
    missing = sorted({payload.buyer_id, payload.seller_id} - users.keys())
    if missing:
        raise UnknownUser(
            f"Create these users first with PUT /v1/users/{{user_id}}: {', '.join(missing)}.",
            extra={"user_ids": missing},
        )
    if existing is None:
        return
    parties_change = (existing.buyer_id, existing.seller_id) != (
        payload.buyer_id,
        payload.seller_id,
    )
    if parties_change and await conversations_repo.for_transaction(uow.session, existing.id):
        raise TransactionPartiesFixed(
            "This transaction already has a conversation between its buyer and seller."
        )


async def do_upsert(
    uow: UnitOfWork, transaction_id: str, payload: TransactionUpsert
) -> tuple[Transaction, bool]:
    """Create or update a transaction; a status change is noted in its conversation, if any."""
    transaction = await transactions_repo.get(uow.session, transaction_id)
    await check_upsert(uow, transaction, payload)
    created = transaction is None
    status_changed = transaction is not None and transaction.status != payload.status.value
    if transaction is None:
        transaction = Transaction(id=transaction_id, created_at=uow.now)
        uow.session.add(transaction)
    transaction.buyer_id = payload.buyer_id
    transaction.seller_id = payload.seller_id
    transaction.title = payload.title
    transaction.status = payload.status.value
    transaction.amount_minor = payload.amount_minor
    transaction.currency = payload.currency
    transaction.updated_at = uow.now
    await uow.session.flush()
    if status_changed:
        conversation = await conversations_repo.for_transaction(uow.session, transaction_id)
        if conversation is not None:
            await conversations_service.do_post_system_item(
                uow, conversation, STATUS_NOTES[payload.status]
            )
    return transaction, created
