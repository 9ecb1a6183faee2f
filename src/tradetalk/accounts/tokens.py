"""User tokens: short-lived signed JWTs (HS256) naming the user and their token generation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jwt

from tradetalk.errors import Unauthenticated

ALGORITHM = "HS256"
AUDIENCE = "tradetalk:user"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says about its bearer."""

    user_id: str
    generation: int
    expires_at: datetime


def issue(
    user_id: str, generation: int, *, now: datetime, ttl: timedelta, secret: bytes
) -> tuple[str, datetime]:
    """Sign a token for this user; returns it with its expiry."""
    expires_at = now + ttl
    claims = {
        "sub": user_id,
        "gen": generation,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expires_at.replace(microsecond=0)


def verify(token: str, *, now: datetime, secret: bytes) -> TokenClaims:
    """Check signature, audience and expiry against `now`; raise Unauthenticated otherwise."""
    subject, generation, expiry = _signed_claims(token, secret)
    if expiry <= now.timestamp():
        raise Unauthenticated("The token has expired.")
    expires_at = datetime.fromtimestamp(expiry, tz=now.tzinfo)
    return TokenClaims(user_id=subject, generation=generation, expires_at=expires_at)


# Every request of a client presents the same token for up to a day: its signature and claims
# are checked once, not on every request (PyJWT was 3% of a send's CPU). Only tokens that
# verified are kept (an exception is never cached), keyed by the secret too; expiry is still
# checked against the clock on every request, and revocation against the user row.
@lru_cache(maxsize=4096)
def _signed_claims(token: str, secret: bytes) -> tuple[str, int, int]:
    try:
        # Time claims are checked by `verify` against the app's clock, not the wall clock.
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["sub", "gen", "exp", "aud"],
            },
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated("The token is not valid.") from exc
    subject, generation, expiry = claims.get("sub"), claims.get("gen"), claims.get("exp")
    if not isinstance(subject, str) or not isinstance(generation, int):
        raise Unauthenticated("The token is not valid.")
    if not isinstance(expiry, int):
        raise Unauthenticated("The token has expired.")
    return subject, generation, expiry
