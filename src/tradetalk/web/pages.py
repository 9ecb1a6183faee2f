"""The web pages (transport only): sign-in, the inbox, a thread and its actions.

Every page calls the same services and repositories as the API; the session cookie stands in
for the bearer token and a CSRF token guards every form."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts import service as accounts_service
from tradetalk.accounts.models import User
from tradetalk.accounts.schemas import TokenRequest, UserIdPath
from tradetalk.attachments.api import attachment_thumbnail, download_attachment
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.api import conversation_out
from tradetalk.conversations.models import ParticipantRole
from tradetalk.conversations.schemas import (
    ConversationIdPath,
    ConversationOut,
    MessageCreate,
    MessageOut,
)
from tradetalk.db import UnitOfWork
from tradetalk.deps import Ctx, ReadSession, UoW
from tradetalk.disputes import repository as disputes_repo
from tradetalk.errors import DomainError, NotFound
from tradetalk.notifications import repository as notifications_repo
from tradetalk.notifications import service as notifications_service
from tradetalk.offers import repository as offers_repo
from tradetalk.offers import service as offers_service
from tradetalk.offers.machine import OfferAction
from tradetalk.offers.money import format_amount, minor_unit_exponent
from tradetalk.offers.schemas import OfferCreate, OfferIdPath
from tradetalk.protection import repository as protection_repo
from tradetalk.web import dashboard as dashboard_figures
from tradetalk.web import repository as web_repo
from tradetalk.web import service as web_service
from tradetalk.web import session as web_session
from tradetalk.web.service import LinkNotValid
from tradetalk.web.session import WebSession

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = lambda offer: format_amount(offer.amount_minor, offer.currency)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_PAGE_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
_PAGE_PREFIXES = ("/inbox", "/dashboard", "/support", "/settings", "/web/")
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class PageRoute(APIRoute):
    """A page route: what the visitor may not see (or what does not exist) answers the
    "Not found" page, 404, as the API answers problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound:
                return templates.TemplateResponse(
                    request, "not_found.html", {"me": None}, status_code=404
                )

        return page_handler


router = APIRouter(include_in_schema=False, route_class=PageRoute)


class PageSecurityHeaders:
    """Adds the strict Content-Security-Policy (and friends) to every web page response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/" or path.startswith(_PAGE_PREFIXES)):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_PAGE_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in web user and their session."""

    user: User
    session: WebSession


def _not_signed_in() -> StarletteHTTPException:
    return StarletteHTTPException(
        status.HTTP_303_SEE_OTHER, "Sign in first.", headers={"Location": "/"}
    )


async def _visitor(request: Request, ctx: Ctx, session: AsyncSession) -> Visitor:
    found = web_session.read(request, ctx.settings, ctx.clock.now())
    if found is None:
        raise _not_signed_in()
    user = await users_repo.get(session, found.user_id)
    if user is None or user.token_generation != found.generation:
        raise _not_signed_in()
    return Visitor(user, found)


async def _check_csrf(request: Request, expected: str) -> None:
    presented = request.headers.get(web_session.CSRF_HEADER)
    if presented is None:
        form = await request.form()
        value = form.get(web_session.CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not web_session.csrf_matches(expected, presented):
        raise StarletteHTTPException(
            status.HTTP_403_FORBIDDEN, "The form has expired; reload the page and try again."
        )


async def reading_visitor(request: Request, ctx: Ctx, session: ReadSession) -> Visitor:
    """The signed-in user, for pages that only read."""
    return await _visitor(request, ctx, session)


async def writing_visitor(request: Request, ctx: Ctx, uow: UoW) -> Visitor:
    """The signed-in user, in the request's write transaction; unsafe methods need the CSRF
    token of their session."""
    visitor = await _visitor(request, ctx, uow.session)
    if request.method in _UNSAFE:
        await _check_csrf(request, visitor.session.csrf)
    return visitor


Reader = Annotated[Visitor, Depends(reading_visitor, scope="function")]
Writer = Annotated[Visitor, Depends(writing_visitor, scope="function")]


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


# --- sign-in ----------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, ctx: Ctx, session: ReadSession) -> HTMLResponse:
    """The demo's sign-in page (demo mode), or a short word about tradetalk."""
    if not ctx.settings.demo:
        return render(request, "home.html", {"demo": False, "users": []})
    csrf, cookie = web_session.anonymous_csrf(request, ctx.settings)
    users = await web_repo.demo_users(session)
    response = render(request, "home.html", {"demo": True, "users": users, "csrf": csrf})
    if cookie is not None:
        web_session.set_anonymous_csrf(response, ctx.settings, cookie)
    return response


@router.post("/web/demo-login/{user_id}")
async def demo_login(user_id: UserIdPath, request: Request, ctx: Ctx, uow: UoW) -> Response:
    """Demo mode: sign in as any user (the page's "Sign in as" buttons)."""
    if not ctx.settings.demo:
        raise NotFound("Not found.")
    expected, fresh = web_session.anonymous_csrf(request, ctx.settings)
    if fresh is not None:
        raise StarletteHTTPException(403, "The form has expired; reload the page and try again.")
    await _check_csrf(request, expected)
    user = await users_repo.get(uow.session, user_id)
    if user is None:
        raise NotFound(f"No user {user_id!r}.")
    response = RedirectResponse("/inbox", status_code=status.HTTP_303_SEE_OTHER)
    web_session.start(response, ctx.settings, user.id, user.token_generation, uow.now)
    return response


@router.get("/web/login/{secret}", response_class=HTMLResponse)
async def login(secret: str, request: Request, ctx: Ctx, uow: UoW) -> Response:
    """Follow a one-time sign-in link: start a session and go to the inbox."""
    try:
        user = await web_service.do_redeem_login_link(uow, secret[:200])
    except LinkNotValid as exc:
        return render(request, "link_invalid.html", {"detail": exc.detail}, status_code=404)
    response = RedirectResponse("/inbox", status_code=status.HTTP_303_SEE_OTHER)
    web_session.start(response, ctx.settings, user.id, user.token_generation, uow.now)
    return response


@router.post("/web/logout")
async def logout(visitor: Writer) -> Response:
    """Sign out of this browser."""
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    web_session.end(response)
    return response


@router.get("/web/token")
async def stream_token(visitor: Writer, uow: UoW) -> JSONResponse:
    """A short-lived user token for the page's scripts (event stream, shield check)."""
    token, expires_at = await accounts_service.do_issue_token(
        uow, visitor.user.id, TokenRequest(ttl_seconds=900)
    )
    return JSONResponse(
        {"token": token, "expires_at": expires_at.isoformat(), "user_id": visitor.user.id},
        headers={"Cache-Control": "no-store"},
    )


# --- the inbox ---------------------------------------------------------------------------


async def _inbox_list(session: AsyncSession, user_id: str, now: datetime) -> list[ConversationOut]:
    views = await conversations_repo.inbox(session, user_id, after=None, limit=100)
    lasts = await conversations_service.messages_out(
        session, [v.last_message for v in views if v.last_message], now
    )
    by_conversation = {m.conversation_id: m for m in lasts}
    return [conversation_out(v, by_conversation.get(v.conversation.id)) for v in views]


SEARCH_PAGE_SIZE = 50


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(
    request: Request,
    visitor: Reader,
    session: ReadSession,
    ctx: Ctx,
    q: str = "",
    before: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> HTMLResponse:
    """The visitor's conversations, most recent first; with `q`, the messages that match,
    newest first (`before`: the page of older matches)."""
    conversations = await _inbox_list(session, visitor.user.id, ctx.clock.now())
    hits: list[MessageOut] = []
    more_before: int | None = None
    query = q.strip()[:200]
    if query:
        terms = conversations_repo.search_terms(query)
        rows = (
            await conversations_repo.search(
                session, visitor.user.id, terms, before_id=before, limit=SEARCH_PAGE_SIZE
            )
            if terms
            else []
        )
        if len(rows) > SEARCH_PAGE_SIZE:
            rows = rows[:SEARCH_PAGE_SIZE]
            more_before = rows[-1].id
        hits = await conversations_service.messages_out(session, rows, ctx.clock.now())
    return render(
        request,
        "inbox.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "conversations": conversations,
            "query": query,
            "hits": hits,
            "more_before": more_before,
            "current": None,
        },
    )


@router.get("/web/inbox-list", response_class=HTMLResponse)
async def inbox_list(
    request: Request, visitor: Reader, session: ReadSession, ctx: Ctx, current: int | None = None
) -> HTMLResponse:
    """The conversation list alone (the page refreshes it when a new conversation starts)."""
    conversations = await _inbox_list(session, visitor.user.id, ctx.clock.now())
    return render(
        request,
        "_conversations.html",
        {"me": visitor.user, "conversations": conversations, "current": current},
    )


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request, visitor: Reader, session: ReadSession, ctx: Ctx
) -> HTMLResponse:
    """The seller dashboard: unread, the feed, first-reply figures, who waits longest."""
    now = ctx.clock.now()
    conversations = await _inbox_list(session, visitor.user.id, now)
    exchanges = await notifications_repo.first_exchanges(
        session, visitor.user.id, now - timedelta(days=dashboard_figures.DAYS)
    )
    return render(
        request,
        "dashboard.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "unread_messages": sum(c.unread_count for c in conversations),
            "feed": await notifications_repo.feed_page(
                session, visitor.user.id, after=None, limit=20
            ),
            "unseen": await notifications_repo.unseen_count(session, visitor.user.id),
            "stats": await notifications_service.response_stats(session, visitor.user.id, now),
            "days": dashboard_figures.daily_first_replies(exchanges, now),
            "chart_height": dashboard_figures.CHART_HEIGHT,
            "waiting": dashboard_figures.waiting_longest(conversations, visitor.user.id)[:20],
            "now": now,
            "replies": await web_repo.saved_replies(session, visitor.user.id),
            "section": "dashboard",
        },
    )


@router.get("/web/dashboard-feed", response_class=HTMLResponse)
async def dashboard_feed(request: Request, visitor: Reader, session: ReadSession) -> HTMLResponse:
    """The dashboard's notification feed alone (the page refreshes it as news arrives)."""
    return render(
        request,
        "_feed.html",
        {
            "csrf": visitor.session.csrf,
            "feed": await notifications_repo.feed_page(
                session, visitor.user.id, after=None, limit=20
            ),
            "unseen": await notifications_repo.unseen_count(session, visitor.user.id),
        },
    )


@router.post("/dashboard/replies", response_model=None)
async def save_reply(
    visitor: Writer,
    uow: UoW,
    title: Annotated[str, Form(min_length=1, max_length=100)],
    body: Annotated[str, Form(min_length=1, max_length=5000)],
) -> Response:
    """Keep a saved reply."""
    await web_service.do_save_reply(uow, visitor.user, title.strip(), body.strip())
    return RedirectResponse("/dashboard#replies-title", status_code=303)


@router.post("/dashboard/replies/{reply_id}/delete", response_model=None)
async def delete_reply(reply_id: int, visitor: Writer, uow: UoW) -> Response:
    """Forget a saved reply."""
    await web_service.do_delete_reply(uow, visitor.user, reply_id)
    return RedirectResponse("/dashboard#replies-title", status_code=303)


@dataclass(frozen=True, slots=True)
class Day:
    """The items of one day of a thread."""

    day: date
    items: list[MessageOut]


def _days(items: list[MessageOut]) -> list[Day]:
    days: list[Day] = []
    for item in items:
        day = item.created_at.date()
        if not days or days[-1].day != day:
            days.append(Day(day, []))
        days[-1].items.append(item)
    return days


def _day_label(day: date, today: date) -> str:
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return f"{day:%A}, {day.day} {day:%B %Y}"


templates.env.globals["day_label"] = _day_label


THREAD_PAGE_SIZE = 100


def _editable_after(window_seconds: int, now: datetime) -> datetime | None:
    """Messages sent after this moment may still be edited (None: edits are off)."""
    return now - timedelta(seconds=window_seconds) if window_seconds else None


async def thread_page(
    request: Request,
    uow: UnitOfWork,
    visitor: Visitor,
    conversation_id: int,
    *,
    before_seq: int | None = None,
    draft: str = "",
    refusal: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The thread page: its latest items (or those before `before_seq`), the composer and the
    actions the visitor may take; viewing the latest items marks them read."""
    conversation = await conversations_repo.get_visible(
        uow.session, conversation_id, visitor.user.id
    )
    rows = await conversations_repo.page_messages(
        uow.session, conversation.id, before_seq=before_seq, limit=THREAD_PAGE_SIZE + 1
    )
    earlier = len(rows) > THREAD_PAGE_SIZE
    rows = rows[:THREAD_PAGE_SIZE]
    rows.reverse()
    if rows and before_seq is None:
        await conversations_service.do_mark_read(uow, conversation, visitor.user, rows[-1].id)
    view = await conversations_repo.view(uow.session, conversation, visitor.user.id)
    items = await conversations_service.messages_out(uow.session, rows, uow.now)
    others = [m for m in view.members if m.user_id != visitor.user.id]
    my_role = next((m.role for m in view.members if m.user_id == visitor.user.id), None)
    seen_seq = max((m.last_read_seq for m in others), default=0)
    last_mine = next((m for m in reversed(items) if m.sender_id == visitor.user.id), None)
    dispute = (
        await disputes_repo.open_dispute(uow.session, conversation.transaction_id)
        if conversation.transaction_id
        else None
    )
    return render(
        request,
        "thread.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "conversation": conversation_out(view),
            "conversations": await _inbox_list(uow.session, visitor.user.id, uow.now),
            "other": others[0] if others else None,
            "names": {m.user_id: m.display_name for m in view.members},
            "days": _days(items),
            "today": uow.now.date(),
            "seen_id": last_mine.id if last_mine and last_mine.seq <= seen_seq else None,
            "earlier_seq": rows[0].seq if earlier and rows else None,
            "latest": before_seq is None,
            "is_seller": my_role == ParticipantRole.SELLER.value,
            "dispute": dispute,
            "direct": conversation.transaction_id is None,
            "blocked": conversation.transaction_id is None
            and bool(others)
            and await protection_repo.has_blocked(uow.session, visitor.user.id, others[0].user_id),
            "editable_after": _editable_after(uow.ctx.settings.edit_window_seconds, uow.now),
            "own_actions": True,
            "draft": draft,
            "refusal": refusal,
            "notice": notice,
            "replies": await web_repo.saved_replies(uow.session, visitor.user.id),
            "current": conversation.id,
        },
        status_code=status_code,
    )


@router.get("/inbox/{conversation_id}", response_class=HTMLResponse)
async def thread(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    before: Annotated[int | None, Query(ge=1, le=2**53)] = None,
) -> HTMLResponse:
    """One conversation, oldest first; viewing it marks it read. `before` (a position in the
    thread) shows the items before it instead."""
    try:
        return await thread_page(request, uow, visitor, conversation_id, before_seq=before)
    except NotFound:
        return render(request, "not_found.html", {"me": visitor.user}, status_code=404)


@router.get("/inbox/{conversation_id}/items/{message_id}", response_class=HTMLResponse)
async def item_fragment(
    conversation_id: ConversationIdPath,
    message_id: int,
    request: Request,
    visitor: Reader,
    session: ReadSession,
    ctx: Ctx,
) -> HTMLResponse:
    """One item of a thread, rendered as the page renders it (for items that arrive live)."""
    conversation = await conversations_repo.get_visible(session, conversation_id, visitor.user.id)
    message = await conversations_repo.message_in(session, conversation.id, message_id)
    if message is None:
        raise NotFound("No such message.")
    item = (await conversations_service.messages_out(session, [message], ctx.clock.now()))[0]
    members = await conversations_repo.participants(session, conversation.id)
    users = await users_repo.get_many(session, [p.user_id for p in members])
    return render(
        request,
        "_item.html",
        {
            "me": visitor.user,
            "csrf": visitor.session.csrf,
            "item": item,
            "names": {uid: u.display_name for uid, u in users.items()},
            "seen_id": None,
            "own_actions": True,
            "editable_after": _editable_after(ctx.settings.edit_window_seconds, ctx.clock.now()),
        },
    )


def _problem_text(exc: DomainError) -> str:
    return exc.detail or exc.title


@router.post("/inbox/{conversation_id}/messages", response_model=None)
async def send(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    body: Annotated[str, Form(max_length=10_000)] = "",
    client_message_id: Annotated[str | None, Form(max_length=100)] = None,
    attachment_ids: Annotated[list[str] | None, Form(max_length=10)] = None,
) -> Response:
    """Send from the composer. A refusal (contact details, pause, ...) is explained in place,
    with the draft kept; scripts get JSON (`Accept: application/json`), forms get the page."""
    conversation = await conversations_repo.get_visible(
        uow.session, conversation_id, visitor.user.id
    )
    try:
        payload = MessageCreate(
            body=body,
            client_message_id=client_message_id or None,
            attachment_ids=attachment_ids or [],
        )
        message = await conversations_service.do_send(uow, conversation, visitor.user, payload)
    except ValidationError:
        refusal = "Write a message (up to 5,000 characters) or attach a file first."
        return await _refused(request, uow, visitor, conversation_id, body, refusal, None)
    except DomainError as exc:
        # A contact-detail refusal still commits its strike: returning normally commits. The
        # other refusals of a text send (paused, restricted, rate limited) come before any write.
        return await _refused(
            request, uow, visitor, conversation_id, body, _problem_text(exc), exc.code
        )
    if _wants_json(request):
        out = (await conversations_service.messages_out(uow.session, [message], uow.now))[0]
        return JSONResponse(out.model_dump(mode="json"), status_code=201)
    return RedirectResponse(f"/inbox/{conversation_id}#composer", status_code=303)


async def _refused(
    request: Request,
    uow: UnitOfWork,
    visitor: Visitor,
    conversation_id: int,
    draft: str,
    refusal: str,
    code: str | None,
) -> Response:
    if _wants_json(request):
        return JSONResponse({"code": code or "validation_error", "detail": refusal}, 422)
    return await thread_page(
        request, uow, visitor, conversation_id, draft=draft, refusal=refusal, status_code=422
    )


@router.post("/inbox/{conversation_id}/offers", response_model=None)
async def make_offer(
    conversation_id: ConversationIdPath,
    request: Request,
    visitor: Writer,
    uow: UoW,
    amount: Annotated[str, Form(max_length=30)] = "",
    currency: Annotated[str, Form(max_length=3)] = "USD",
    quantity: Annotated[int, Form(ge=1, le=10_000)] = 1,
    note: Annotated[str, Form(max_length=1000)] = "",
    expires_in_hours: Annotated[int | None, Form(ge=1, le=24 * 30)] = None,
) -> Response:
    """Offer a price (in major units) for the conversation's item, with an optional quantity,
    note and lifetime (the operator's default lifetime when none is chosen)."""
    conversation = await conversations_repo.get_visible(
        uow.session, conversation_id, visitor.user.id
    )
    try:
        payload = OfferCreate(
            amount_minor=_minor(amount, currency),
            currency=currency,
            quantity=quantity,
            note=note.strip() or None,
            expires_at=uow.now + timedelta(hours=expires_in_hours) if expires_in_hours else None,
        )
        await offers_service.do_make(uow, conversation, visitor.user, payload)
    except (DomainError, ValidationError, ValueError) as exc:
        text = _problem_text(exc) if isinstance(exc, DomainError) else "Enter a valid amount."
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=text, status_code=422
        )
    return RedirectResponse(f"/inbox/{conversation_id}", status_code=303)


@router.post("/web/offers/{offer_id}/{action}", response_model=None)
async def answer_offer(
    offer_id: OfferIdPath,
    action: str,
    request: Request,
    visitor: Writer,
    uow: UoW,
    amount: Annotated[str | None, Form(max_length=30)] = None,
) -> Response:
    """Accept, decline, withdraw or counter (with `amount`, in major units) an offer."""
    offer = await offers_repo.get_visible(uow.session, offer_id, visitor.user.id)
    conversation_id = offer.conversation_id
    try:
        if action == "counter":
            payload = OfferCreate(
                amount_minor=_minor(amount, offer.currency),
                currency=offer.currency,
                quantity=offer.quantity,
            )
            await offers_service.do_counter(uow, offer, visitor.user, payload)
        elif action in {"accept", "decline", "withdraw"}:
            await offers_service.do_answer(uow, offer, visitor.user, OfferAction(action))
        else:
            raise NotFound("Not found.")
    except (DomainError, ValidationError, ValueError) as exc:
        text = _problem_text(exc) if isinstance(exc, DomainError) else "Enter a valid amount."
        if _wants_json(request):
            return JSONResponse({"detail": text}, status_code=409)
        return await thread_page(
            request, uow, visitor, conversation_id, refusal=text, status_code=409
        )
    if _wants_json(request):
        return JSONResponse({"ok": True})
    return RedirectResponse(f"/inbox/{conversation_id}", status_code=303)


def _minor(amount: str | None, currency: str) -> int:
    exponent = minor_unit_exponent(currency) or 0
    try:
        value = Decimal((amount or "").replace(",", "").strip())
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value() or minor <= 0:
        raise ValueError("not an amount")
    return int(minor)


# --- attachments (the API's own handlers, with the session instead of a bearer token) -----


@router.get("/web/attachments/{attachment_id}", response_model=None)
async def attachment(
    attachment_id: str, visitor: Reader, session: ReadSession, ctx: Ctx
) -> Response:
    """An attachment of one of the visitor's conversations."""
    return await download_attachment(attachment_id, visitor.user, session, ctx)


@router.get("/web/attachments/{attachment_id}/thumbnail", response_model=None)
async def thumbnail(
    attachment_id: str, visitor: Reader, session: ReadSession, ctx: Ctx
) -> Response:
    """The thumbnail of an image attachment."""
    return await attachment_thumbnail(attachment_id, visitor.user, session, ctx)
