"""Signed addresses and links inside emails: the reply relay and one-click unsubscribe."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

# A relay address names the conversation and which side of it the recipient is on (a
# conversation's buyer and seller never change), plus a MAC over the conversation and the
# user's id. It is not made with itsdangerous: an email local part holds at most 64
# characters, and some mail servers lowercase it, so the MAC is truncated base32.
_RELAY_LOCAL = re.compile(r"^reply\+(\d{1,19})-([bs])-([a-z2-7]{16})$")
_ROLE_CODES = {"buyer": "b", "seller": "s"}
_CODE_ROLES = {code: role for role, code in _ROLE_CODES.items()}


@dataclass(frozen=True, slots=True)
class RelayTarget:
    """What a relay address claims: a conversation and the recipient's role in it."""

    conversation_id: int
    role: str
    mac: str


def _relay_mac(secret: bytes, conversation_id: int, user_id: str) -> str:
    key = hashlib.sha256(b"tradetalk relay address\x00" + secret).digest()
    digest = hmac.new(key, f"{conversation_id}\x00{user_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def relay_address(secret: bytes, domain: str, conversation_id: int, role: str, user_id: str) -> str:
    """The Reply-To address of emails to `user_id` about this conversation."""
    mac = _relay_mac(secret, conversation_id, user_id)
    return f"reply+{conversation_id}-{_ROLE_CODES[role]}-{mac}@{domain}"


def parse_relay_address(address: str, domain: str) -> RelayTarget | None:
    """The claim of a relay address at our domain, or None (not checked against a user yet)."""
    local, _, at_domain = address.strip().lower().rpartition("@")
    if at_domain != domain.lower():
        return None
    match = _RELAY_LOCAL.match(local)
    if match is None:
        return None
    return RelayTarget(int(match[1]), _CODE_ROLES[match[2]], match[3])


def relay_belongs_to(secret: bytes, target: RelayTarget, user_id: str) -> bool:
    """True when the address was made by us for this user."""
    return hmac.compare_digest(_relay_mac(secret, target.conversation_id, user_id), target.mac)


def _unsubscribe_serializer(secret: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="tradetalk.unsubscribe")


def unsubscribe_token(secret: bytes, user_id: str) -> str:
    """A token that turns off this user's notification emails (it does not expire)."""
    return str(_unsubscribe_serializer(secret).dumps(user_id))


def unsubscribe_user(secret: bytes, token: str) -> str | None:
    """The user an unsubscribe token was made for, or None when it is not ours."""
    try:
        user_id = _unsubscribe_serializer(secret).loads(token)
    except BadSignature:
        return None
    return user_id if isinstance(user_id, str) else None
