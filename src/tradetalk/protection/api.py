"""The shield's endpoints: live checks, reports, blocks, and the moderation console's API."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.schemas import UserIdPath
from tradetalk.conversations import repository as conversations_repo
from tradetalk.db import UnitOfWork
from tradetalk.deps import CurrentUser, Moderator, UoW
from tradetalk.errors import NotFound
from tradetalk.kit.pagination import DEFAULT_LIMIT, Limit, decode_cursor, encode_cursor, split_page
from tradetalk.kit.ratelimit import per_minute
from tradetalk.kit.schemas import MAX_ID, problems
from tradetalk.protection import repository as protection_repo
from tradetalk.protection import service as protection_service
from tradetalk.protection.detector import Finding
from tradetalk.protection.models import ItemStatus, ModerationItem, Restriction
from tradetalk.protection.policy import explain
from tradetalk.protection.schemas import (
    BlockCreate,
    BlockOut,
    FindingOut,
    ModerationActionOut,
    ModerationItemOut,
    ModerationPage,
    ReportCreate,
    ReportOut,
    ResolutionNote,
    RestrictCreate,
    RestrictionOut,
    ShieldCheck,
    ShieldCheckOut,
    StrikeOut,
    UserRecordOut,
)

router = APIRouter(prefix="/v1", tags=["client: safety"])
moderation = APIRouter(prefix="/v1/moderation", tags=["moderation"])

ItemIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The moderation item's id.")]


def findings_out(findings: Sequence[Finding]) -> list[FindingOut]:
    """Findings in their public form."""
    return [FindingOut(**asdict(f)) for f in findings]


def item_out(item: ModerationItem) -> ModerationItemOut:
    """A queue item with its findings decoded."""
    return ModerationItemOut(
        id=item.id,
        kind=item.kind,
        status=item.status,
        subject_id=item.subject_id,
        conversation_id=item.conversation_id,
        message_id=item.message_id,
        original_text=item.original_text,
        findings=[FindingOut(**f) for f in json.loads(item.findings or "[]")],
        reporter_id=item.reporter_id,
        reason=item.reason,
        created_at=item.created_at,
        resolved_at=item.resolved_at,
        resolved_by=item.resolved_by,
    )


def restriction_out(restriction: Restriction, *, active: bool) -> RestrictionOut:
    """A restriction and whether it is in force now."""
    return RestrictionOut(
        id=restriction.id,
        kind=restriction.kind,
        reason=restriction.reason,
        created_by=restriction.created_by,
        created_at=restriction.created_at,
        ends_at=restriction.ends_at,
        lifted_at=restriction.lifted_at,
        lifted_by=restriction.lifted_by,
        active=active,
    )


@router.post("/shield/check", response_model=ShieldCheckOut, responses=problems(401, 404, 422))
async def check_draft(payload: ShieldCheck, actor: CurrentUser, uow: UoW) -> ShieldCheckOut:
    """What the shield would do with a draft (a composer's live warning). Nothing is stored."""
    await uow.ctx.limiter.hit(per_minute(120), "shield-check", actor.id, what="checks")
    if payload.conversation_id is not None:
        await conversations_repo.get_visible(uow.session, payload.conversation_id, actor.id)
    verdict = await protection_service.screen(
        uow, payload.body, conversation_id=payload.conversation_id, sender_id=actor.id
    )
    return ShieldCheckOut(
        action=verdict.action.value if verdict.action else None,
        findings=findings_out(verdict.findings),
        text_for_recipient=verdict.text_for_recipient,
        explanation=explain(verdict.findings) if verdict.findings else None,
    )


@router.post(
    "/reports",
    response_model=ReportOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 404, 422, 429),
)
async def report(payload: ReportCreate, actor: CurrentUser, uow: UoW) -> ReportOut:
    """Report a message of one of your conversations, or a user, to the moderators."""
    if payload.message_id is not None:
        item = await protection_service.do_report_message(
            uow, actor, payload.message_id, payload.reason
        )
    else:
        assert payload.user_id is not None  # the schema asks for exactly one of the two
        item = await protection_service.do_report_user(uow, actor, payload.user_id, payload.reason)
    return ReportOut(id=item.id, status=item.status, created_at=item.created_at)


@router.post(
    "/blocks",
    response_model=BlockOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": BlockOut, "description": "Already blocked."},
        **problems(401, 404, 409, 422),
    },
)
async def block_user(
    payload: BlockCreate, actor: CurrentUser, uow: UoW, response: Response
) -> BlockOut:
    """Stop a user from sending you direct messages (conversations about orders stay open)."""
    block, created = await protection_service.do_block(uow, actor, payload.user_id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return BlockOut(user_id=block.blocked_id, created_at=block.created_at)


@router.get("/blocks", response_model=list[BlockOut], responses=problems(401))
async def list_blocks(actor: CurrentUser, uow: UoW) -> list[BlockOut]:
    """The users you have blocked."""
    blocks = await protection_repo.blocks_of(uow.session, actor.id)
    return [BlockOut(user_id=b.blocked_id, created_at=b.created_at) for b in blocks]


@router.delete(
    "/blocks/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(401, 404)
)
async def unblock_user(user_id: UserIdPath, actor: CurrentUser, uow: UoW) -> Response:
    """Allow a blocked user's direct messages again."""
    if not await protection_repo.remove_block(uow.session, actor.id, user_id):
        raise NotFound("You have not blocked this user.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@moderation.get("/queue", response_model=ModerationPage, responses=problems(401, 404, 422))
async def moderation_queue(
    who: Moderator,
    uow: UoW,
    status_filter: Annotated[
        ItemStatus | None, Query(alias="status", description="Default: pending.")
    ] = ItemStatus.PENDING,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ModerationPage:
    """The moderation queue, oldest first, with the original text and the findings."""
    after_id = decode_cursor(cursor, int)[0] if cursor else None
    rows = await protection_repo.queue(
        uow.session,
        status=status_filter.value if status_filter else None,
        after_id=after_id,
        limit=limit,
    )
    page, more = split_page(rows, limit)
    return ModerationPage(
        items=[item_out(i) for i in page],
        next_cursor=encode_cursor(page[-1].id) if more else None,
    )


@moderation.get("/items/{item_id}", response_model=ModerationItemOut, responses=problems(401, 404))
async def moderation_item(item_id: ItemIdPath, who: Moderator, uow: UoW) -> ModerationItemOut:
    """One queue item."""
    item = await protection_repo.item(uow.session, item_id)
    if item is None:
        raise NotFound("No such moderation item.")
    return item_out(item)


@moderation.post(
    "/items/{item_id}/dismiss",
    response_model=ModerationItemOut,
    responses=problems(401, 404, 409, 422),
)
async def dismiss_item(
    item_id: ItemIdPath, who: Moderator, uow: UoW, payload: ResolutionNote | None = None
) -> ModerationItemOut:
    """A false alarm: close the item and withdraw the strike it caused."""
    note = payload.note if payload else None
    return item_out(await protection_service.do_dismiss(uow, item_id, who, note))


@moderation.post(
    "/items/{item_id}/confirm",
    response_model=ModerationItemOut,
    responses=problems(401, 404, 409, 422),
)
async def confirm_item(
    item_id: ItemIdPath, who: Moderator, uow: UoW, payload: ResolutionNote | None = None
) -> ModerationItemOut:
    """A real attempt: close the item as confirmed; it counts as a strike."""
    note = payload.note if payload else None
    return item_out(await protection_service.do_confirm(uow, item_id, who, note))


@moderation.post(
    "/users/{user_id}/restrict",
    response_model=RestrictionOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 404, 422),
)
async def restrict_user(
    user_id: UserIdPath, payload: RestrictCreate, who: Moderator, uow: UoW
) -> RestrictionOut:
    """Restrict a user's messaging (the operator is told by the `user.restricted` webhook)."""
    restriction = await protection_service.do_restrict(
        uow, user_id, who, payload.reason, payload.hours
    )
    return restriction_out(restriction, active=True)


@moderation.post(
    "/users/{user_id}/lift", response_model=UserRecordOut, responses=problems(401, 404, 422)
)
async def lift_restrictions(
    user_id: UserIdPath, who: Moderator, uow: UoW, payload: ResolutionNote | None = None
) -> UserRecordOut:
    """Lift every active pause and restriction of a user."""
    await protection_service.do_lift(uow, user_id, who, payload.note if payload else None)
    return await _record(uow, user_id)


@moderation.get("/users/{user_id}", response_model=UserRecordOut, responses=problems(401, 404))
async def user_record(user_id: UserIdPath, who: Moderator, uow: UoW) -> UserRecordOut:
    """A user's strikes, restrictions and the moderation audit trail about them."""
    if await users_repo.get(uow.session, user_id) is None:
        raise NotFound("No such user.")
    return await _record(uow, user_id)


async def _record(uow: UnitOfWork, user_id: str) -> UserRecordOut:
    strikes = await protection_repo.strikes_of(uow.session, user_id)
    restrictions = await protection_repo.restrictions_of(uow.session, user_id)
    actions = await protection_repo.actions_about(uow.session, user_id)
    since = uow.now - timedelta(days=uow.ctx.settings.strike_window_days)
    return UserRecordOut(
        user_id=user_id,
        active_strikes=sum(1 for s in strikes if s.dismissed_at is None and s.created_at >= since),
        strikes=[StrikeOut.model_validate(s, from_attributes=True) for s in strikes],
        restrictions=[
            restriction_out(
                r,
                active=r.lifted_at is None and (r.ends_at is None or r.ends_at > uow.now),
            )
            for r in restrictions
        ],
        actions=[ModerationActionOut.model_validate(a, from_attributes=True) for a in actions],
    )
