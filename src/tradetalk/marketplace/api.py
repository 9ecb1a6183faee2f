"""Server API for transactions (the operator's API key)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from tradetalk.deps import ServerKey, UoW
from tradetalk.kit.schemas import problems
from tradetalk.marketplace import service as transactions_service
from tradetalk.marketplace.schemas import TransactionIdPath, TransactionOut, TransactionUpsert

router = APIRouter(prefix="/v1", tags=["server: transactions"], dependencies=[ServerKey])


@router.put(
    "/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses={
        201: {"model": TransactionOut, "description": "Created."},
        **problems(401, 409, 422),
    },
)
async def upsert_transaction(
    transaction_id: TransactionIdPath, payload: TransactionUpsert, uow: UoW, response: Response
) -> TransactionOut:
    """Create or update a transaction (200 updated, 201 created)."""
    transaction, created = await transactions_service.do_upsert(uow, transaction_id, payload)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return TransactionOut.model_validate(transaction, from_attributes=True)
