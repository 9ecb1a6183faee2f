"""Reply by email: a reply to a notification is posted in its conversation, or refused."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any, Protocol

import structlog
from mailparser_reply import EmailReplyParser

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.context import AppContext
from tradetalk.conversations import service as conversations_service
from tradetalk.conversations.models import Conversation
from tradetalk.conversations.schemas import MessageCreate
from tradetalk.db import UnitOfWork, unit_of_work
from tradetalk.errors import DomainError, RateLimited
from tradetalk.marketplace import repository as transactions_repo
from tradetalk.notifications import repository as notifications_repo
from tradetalk.notifications import service as notifications_service
from tradetalk.notifications import tokens
from tradetalk.notifications.mail import OutgoingEmail, address_of, message_id_for
from tradetalk.notifications.templates import render_email

log = structlog.get_logger("tradetalk.inbound")


class Finding(Protocol):
    """What the contact-information shield reports (only `kind` is used here)."""

    @property
    def kind(self) -> str: ...


Shield = Callable[[str], Sequence[Finding]]


def _nothing_found(text: str) -> Sequence[Finding]:
    return []


def default_shield(ctx: AppContext) -> Shield:
    """The app's contact-information detector (`ctx.detector`, from tradetalk.protection)
    when there is one; until then nothing is found."""
    detector = getattr(ctx, "detector", None)
    if detector is None:
        return _nothing_found

    def scan(text: str) -> Sequence[Finding]:
        return list(detector.scan(text, ()))

    return scan


# The kinds of tradetalk.protection.detector, in words for the refusal email.
_KIND_WORDS = {
    "phone": "a phone number",
    "email": "an email address",
    "url": "a link to another site",
    "social_handle": "a social media handle",
    "messaging_app": "a messaging-app contact",
    "payment_handle": "a payment handle",
    "solicitation": "an invitation to deal outside the platform",
}
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def queue_inbound(uow: UnitOfWork, raw: bytes, envelope_recipients: Iterable[str] = ()) -> None:
    """Store a received email for the worker (the same bytes twice are queued once)."""
    digest = hashlib.sha256(raw).hexdigest()
    uow.outbox(
        "inbound_email",
        {"raw": base64.b64encode(raw).decode(), "rcpt": list(envelope_recipients)},
        key=f"inbound:{digest}",
    )


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "blockquote"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def body_text(message: EmailMessage) -> str:
    """The text of an email: its plain part, or its HTML part flattened."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode(errors="replace")
    if part.get_content_subtype() == "html":
        parser = _TextOfHtml()
        parser.feed(text)
        text = "".join(parser.parts)
    return text


def reply_text(text: str) -> str:
    """Only what the person wrote: quoted text, reply headers and signatures removed."""
    # mail-parser-reply knows the "On ... wrote:" lines of many clients and languages.
    parsed = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"]).read(text)
    reply = parsed.replies[0].body if parsed.replies else text
    kept = [line for line in reply.splitlines() if not line.lstrip().startswith(">")]
    cleaned = _CONTROLS.sub("", "\n".join(kept))
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reply was not posted."""

    code: str
    reason: str
    quote: bool = True  # show the received text back to the account owner


def _relay_target(
    message: EmailMessage, envelope: Sequence[str], domain: str
) -> tokens.RelayTarget | None:
    headers = ("Delivered-To", "X-Original-To", "To", "Cc")
    candidates = list(envelope)
    for header in headers:
        candidates += [addr for _, addr in getaddresses(message.get_all(header, []))]
    for candidate in candidates:
        target = tokens.parse_relay_address(candidate, domain)
        if target is not None:
            return target
    return None


def _is_automatic(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return auto != "no" or precedence in ("bulk", "junk", "list", "auto_reply")


async def handle_inbound(ctx: AppContext, payload: Mapping[str, Any], shield: Shield) -> None:
    """Post a reply from the mailbox in its conversation, or refuse it and say why."""
    raw = base64.b64decode(payload["raw"])
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    if _is_automatic(parsed):
        log.info("inbound email dropped", why="automatic reply")
        return
    settings = ctx.settings
    target = _relay_target(parsed, payload.get("rcpt") or [], settings.effective_relay_domain)
    if target is None:
        log.info("inbound email dropped", why="no relay address")
        return
    digest = hashlib.sha256(str(parsed.get("Message-ID") or raw).encode()).hexdigest()[:40]
    async with unit_of_work(ctx) as uow:
        member = await notifications_repo.member_with_role(
            uow.session, target.conversation_id, target.role
        )
        user = await users_repo.get(uow.session, member.user_id) if member else None
        if user is None or not tokens.relay_belongs_to(settings.secret_bytes(), target, user.id):
            # A forged or garbled address: no one to tell, and no backscatter to strangers.
            log.info("inbound email dropped", why="relay address not ours")
            return
        conversation = await uow.session.get(Conversation, target.conversation_id)
        assert conversation is not None
        text = reply_text(body_text(parsed))
        refusal = _check_reply(parsed, user, text, shield, settings.max_body_chars)
        if refusal is None:
            try:
                async with uow.savepoint():
                    await conversations_service.do_send(
                        uow,
                        conversation,
                        user,
                        MessageCreate(body=text, client_message_id=f"email-{digest}"),
                    )
            except RateLimited:
                raise  # not a refusal: the outbox tries again later
            except DomainError as exc:
                refusal = Refusal(exc.code, exc.detail)
        if refusal is not None:
            await _refuse(uow, conversation, user, refusal, text, digest)


def _check_reply(
    message: EmailMessage, user: User, text: str, shield: Shield, max_chars: int
) -> Refusal | None:
    sender = address_of(str(message.get("From", "")))
    if not user.email or sender != user.email.strip().lower():
        return Refusal(
            "sender_mismatch",
            "it was sent from an address that is not the one on your account. Reply from "
            "the address our emails go to, or answer in the conversation.",
            quote=False,
        )
    if not text:
        return Refusal(
            "empty",
            "we found no text above the quoted message. Write your answer at the top.",
        )
    if len(text) > max_chars:
        return Refusal("too_long", f"it is longer than {max_chars} characters.")
    findings = shield(text)
    if findings:
        kinds = sorted({_KIND_WORDS.get(f.kind, f"contact details ({f.kind})") for f in findings})
        return Refusal(
            "contact_details",
            f"it contains {', '.join(kinds)}. Personal contact details cannot be shared; "
            "keep the conversation on the platform.",
        )
    return None


async def _refuse(
    uow: UnitOfWork,
    conversation: Conversation,
    user: User,
    refusal: Refusal,
    text: str,
    digest: str,
) -> None:
    settings = uow.ctx.settings
    log.info("inbound email refused", why=refusal.code, conversation_id=conversation.id)
    transaction = (
        await transactions_repo.get(uow.session, conversation.transaction_id)
        if conversation.transaction_id
        else None
    )
    title = transaction.title if transaction else "your conversation"
    await notifications_service.do_notify(
        uow,
        user.id,
        notifications_service.FeedType.REPLY_REFUSED,
        title="Your email reply was not posted",
        body=f"Not posted: {refusal.reason}",
        conversation_id=conversation.id,
    )
    notifications_service.queue_webhook(
        uow,
        "email_reply.refused",
        {"conversation_id": conversation.id, "user_id": user.id, "reason": refusal.code},
        key=f"webhook:email_reply.refused:{digest}",
    )
    if not user.email:
        return
    # Always to the address on the account, never to the From of the reply: a forged From
    # must not turn us into a mail cannon against whoever it names.
    body, html = render_email(
        "reply_refused",
        recipient_name=user.display_name,
        title=title,
        reason=refusal.reason,
        quoted=text if refusal.quote else "",
        url=notifications_service.conversation_url(settings, conversation.id),
    )
    key = f"email:refused:{digest}"
    uow.outbox(
        "email",
        OutgoingEmail(
            to_address=user.email,
            to_name=user.display_name,
            subject=f"Your reply about {title} was not posted"[:250],
            text=body,
            html=html,
            message_id=message_id_for(key, settings.effective_mail_domain),
        ).to_payload(),
        key=key,
    )
