"""Server API for users and tokens (the operator's API key)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from tradetalk.accounts import service as accounts_service
from tradetalk.accounts.schemas import TokenOut, TokenRequest, UserIdPath, UserOut, UserUpsert
from tradetalk.deps import ServerKey, UoW
from tradetalk.kit.schemas import problems

router = APIRouter(prefix="/v1", tags=["server: users"], dependencies=[ServerKey])


@router.put(
    "/users/{user_id}",
    response_model=UserOut,
    responses={201: {"model": UserOut, "description": "Created."}, **problems(401, 422)},
)
async def upsert_user(
    user_id: UserIdPath, payload: UserUpsert, uow: UoW, response: Response
) -> UserOut:
    """Create or update a user (200 updated, 201 created)."""
    user, created = await accounts_service.do_upsert_user(uow, user_id, payload)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return UserOut.model_validate(user, from_attributes=True)


@router.post(
    "/users/{user_id}/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 404, 422),
)
async def issue_token(
    user_id: UserIdPath, uow: UoW, payload: TokenRequest | None = None
) -> TokenOut:
    """Issue a short-lived user token (default one hour, at most a day)."""
    token, expires_at = await accounts_service.do_issue_token(
        uow, user_id, payload or TokenRequest()
    )
    return TokenOut(token=token, expires_at=expires_at)


@router.delete(
    "/users/{user_id}/tokens",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 404),
)
async def revoke_tokens(user_id: UserIdPath, uow: UoW) -> Response:
    """Revoke every token issued to this user so far: API tokens, web sessions and sign-in links
    not used yet. Open event streams close within `TRADETALK_REALTIME_AUTH_RECHECK_SECONDS`."""
    await accounts_service.do_revoke_tokens(uow, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
