"""Outgoing email: building RFC 5322 messages and handing them to SMTP or a local folder."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from tradetalk.config import Settings


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered email, as it waits in the outbox (plain data, JSON-serialisable)."""

    to_address: str
    to_name: str
    subject: str
    text: str
    html: str
    message_id: str
    reply_to: str | None = None
    unsubscribe_url: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """The outbox payload of this email."""
        return {
            "to_address": self.to_address,
            "to_name": self.to_name,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "message_id": self.message_id,
            "reply_to": self.reply_to,
            "unsubscribe_url": self.unsubscribe_url,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OutgoingEmail:
        """Read an email back from its outbox payload."""
        return cls(**payload)


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID that is the same every time the same email is (re)sent."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<tt.{digest}@{domain}>"


def build_message(email: OutgoingEmail, *, sender: str, sent_at: datetime) -> EmailMessage:
    """The MIME message (text and HTML alternatives) with our headers."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = Address(display_name=email.to_name, addr_spec=email.to_address)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = email.message_id
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    if email.unsubscribe_url:
        # RFC 8058 one-click: mail providers POST "List-Unsubscribe=One-Click" to the URL.
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Keeps out-of-office robots from answering notifications (RFC 3834, Microsoft's variant).
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class Mailer(Protocol):
    """Something that delivers a built message."""

    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    """Sends through an SMTP server: smtp://user:pass@host:587 (STARTTLS when offered),
    smtps://... (implicit TLS), or smtp://host:25?starttls=false."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("TRADETALK_SMTP_URL must start with smtp:// or smtps://")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.hostname = parts.hostname or "localhost"
        self.use_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.use_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        starttls = options.get("starttls", "auto").lower()
        # None lets aiosmtplib upgrade when the server offers STARTTLS.
        self.start_tls: bool | None = (
            None if starttls == "auto" else starttls in ("1", "true", "yes")
        )
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        """Deliver one message; raises on any SMTP error (the outbox retries)."""
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=False if self.use_tls else self.start_tls,
            timeout=self.timeout,
        )


class DirectoryMailer:
    """Writes each message as an .eml file (demo mode and development without SMTP)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        """Store the message; a resend of the same Message-ID replaces the same file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = str(message["Message-ID"] or "")
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        name = f"{hashlib.sha256(message_id.encode()).hexdigest()[:16]}.eml"
        existing = list(self.folder.glob(f"*-{name}"))
        target = existing[0] if existing else self.folder / f"{stamp}-{name}"
        partial = target.with_suffix(".part")
        partial.write_bytes(message.as_bytes())
        os.replace(partial, target)


def mailer_for(settings: Settings) -> Mailer:
    """SMTP when TRADETALK_SMTP_URL is set, else the local mail folder."""
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url)
    return DirectoryMailer(settings.mail_dir)


def address_of(header_value: str) -> str:
    """The bare, lowercased address of a From/To header value."""
    return parseaddr(header_value)[1].strip().lower()


def display_address(name: str, address: str) -> str:
    """A header value "Name <address>"."""
    return formataddr((name, address))
