"""The hash chain of a conversation's record: canonical form, entry hashes, verification.

Pure functions, no I/O. One conversation's record is a list of entries; entry `i` is hashed as

    digest_i = sha256(canonical({"payload": payload_i, "salt": salt_i}))
    hash_i   = sha256(bytes(prev_hash_i) + canonical({"at", "digest", "index", "kind"}))

with `prev_hash_0 = anchor_hash(anchor)`, the hash of the conversation's fixed header (its id,
kind, transaction and parties), so entries cannot be moved to another conversation.

Hashing the payload through a salted digest lets a transcript leave out a payload (a message its
sender withdrew, shown to the other party as a tombstone) while the chain still verifies; the
random salt keeps a short withdrawn text ("yes") from being guessed back from its digest.

Canonical form: JSON with sorted keys, no whitespace, UTF-8 (not \\u-escaped), integers, strings,
booleans, null, lists and objects only (no floats: their text form is not stable), and times as
ISO-8601 UTC with microseconds (`2026-11-22T10:15:00.000000Z`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORMAT = "tradetalk-transcript/1"
ZERO_HASH = "0" * 64
_ANCHOR_DOMAIN = b"tradetalk-record/1\x00"
_SEAL_DOMAIN = b"tradetalk transcript seal/1"


class NotCanonical(TypeError):
    """A value has no canonical JSON form (a float, a set, a naive time, ...)."""


def canonical_time(moment: datetime) -> str:
    """A time as the record writes it: UTC, microseconds, `Z` (`2026-12-07T21:04:57.360124Z`)."""
    if moment.tzinfo is None:
        raise NotCanonical("naive datetimes have no canonical form")
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad: the form the record always had
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as that strftime, in half the time (a send formats its time twice).
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _check(value: Any, path: str) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"{path}: object keys must be strings")
            _check(item, f"{path}.{key}")
        return
    raise NotCanonical(f"{path}: {type(value).__name__} has no canonical form")


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON encoding of a value (see the module docstring)."""
    _check(value, "$")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_text(value: Any) -> str:
    """The canonical JSON encoding as text, as the database stores payloads."""
    return canonical_bytes(value).decode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def anchor_hash(anchor: Mapping[str, Any]) -> str:
    """The `prev_hash` of a conversation's first entry: the hash of its fixed header."""
    return _sha256(_ANCHOR_DOMAIN + canonical_bytes(dict(anchor)))


def payload_digest(salt: str, payload: Mapping[str, Any]) -> str:
    """The salted digest of an entry's payload."""
    return _sha256(canonical_bytes({"payload": dict(payload), "salt": salt}))


def entry_hash(prev_hash: str, *, index: int, kind: str, at: str, digest: str) -> str:
    """The hash of an entry, chained to the one before it."""
    item = {"at": at, "digest": digest, "index": index, "kind": kind}
    return _sha256(bytes.fromhex(prev_hash) + canonical_bytes(item))


@dataclass(frozen=True, slots=True)
class Link:
    """One entry of a chain, with everything needed to check it."""

    index: int
    kind: str
    at: str
    salt: str
    payload: dict[str, Any]
    digest: str
    prev_hash: str
    hash: str


def make_link(
    prev_hash: str, *, index: int, kind: str, at: datetime, payload: Mapping[str, Any], salt: str
) -> Link:
    """Build the next entry of a chain."""
    when = canonical_time(at)
    body = dict(payload)
    digest = payload_digest(salt, body)
    return Link(
        index=index,
        kind=kind,
        at=when,
        salt=salt,
        payload=body,
        digest=digest,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, index=index, kind=kind, at=when, digest=digest),
    )


def seal_key(secret: bytes) -> bytes:
    """The key that seals transcripts, derived from the server's secret key."""
    return hmac.new(secret, _SEAL_DOMAIN, hashlib.sha256).digest()


def seal(key: bytes, *, conversation_id: int, entry_count: int, final_hash: str) -> str:
    """An HMAC over a transcript's head: only the server (or its operator) can make one."""
    head = {
        "conversation_id": conversation_id,
        "entry_count": entry_count,
        "final_hash": final_hash,
    }
    return hmac.new(key, canonical_bytes(head), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What checking a transcript found; `bad_index` names the first broken entry."""

    ok: bool
    problem: str | None
    bad_index: int | None
    entry_count: int
    final_hash: str | None
    redacted: int = 0
    seal_checked: bool = False


def _fail(problem: str, index: int | None = None, count: int = 0) -> VerifyResult:
    return VerifyResult(
        ok=False, problem=problem, bad_index=index, entry_count=count, final_hash=None
    )


def _is_hex64(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def verify(transcript: Any, *, key: bytes | None = None) -> VerifyResult:
    """Check a JSON transcript: every entry in place, unchanged and linked; the final hash and
    entry count match; and, given the seal key, that this server issued it."""
    if not isinstance(transcript, dict) or transcript.get("format") != FORMAT:
        return _fail(f"not a tradetalk transcript (expected format {FORMAT!r})")
    anchor, entries = transcript.get("anchor"), transcript.get("entries")
    conversation = transcript.get("conversation")
    if not isinstance(anchor, dict) or not isinstance(entries, list):
        return _fail("the transcript has no anchor or no entries list")
    if not isinstance(conversation, dict) or conversation.get("id") != anchor.get(
        "conversation_id"
    ):
        return _fail("the conversation header does not match the anchor")
    try:
        prev = anchor_hash(anchor)
    except NotCanonical as exc:
        return _fail(f"the anchor is malformed: {exc}")
    redacted = 0
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return _fail(f"entry {position}: not an object", position)
        kind, at, digest = entry.get("kind"), entry.get("at"), entry.get("digest")
        label = f"entry {position} ({kind})" if isinstance(kind, str) else f"entry {position}"
        if entry.get("index") != position:
            return _fail(
                f"{label}: says it is entry {entry.get('index')!r} "
                "(an entry was deleted, inserted or moved)",
                position,
            )
        if entry.get("prev_hash") != prev:
            return _fail(
                f"{label}: does not link to the entry before it "
                "(an entry was deleted, inserted or moved)",
                position,
            )
        if not (isinstance(kind, str) and isinstance(at, str) and isinstance(digest, str)):
            return _fail(f"{label}: kind, time or digest missing or malformed", position)
        if not _is_hex64(digest):
            return _fail(f"{label}: kind, time or digest missing or malformed", position)
        payload, salt = entry.get("payload"), entry.get("salt")
        if payload is None:
            redacted += 1
        else:
            if not isinstance(payload, dict) or not isinstance(salt, str):
                return _fail(f"{label}: payload or salt malformed", position)
            try:
                if payload_digest(salt, payload) != digest:
                    return _fail(f"{label}: its content was changed", position)
            except NotCanonical as exc:
                return _fail(f"{label}: its content was changed ({exc})", position)
        expected = entry_hash(prev, index=position, kind=kind, at=at, digest=digest)
        if entry.get("hash") != expected:
            return _fail(f"{label}: its kind, time or hash was changed", position)
        prev = expected
    count = len(entries)
    if transcript.get("entry_count") != count:
        return _fail(
            f"the transcript says it has {transcript.get('entry_count')!r} entries "
            f"but holds {count} (entries were removed or added)",
            None,
            count,
        )
    if transcript.get("final_hash") != prev:
        return _fail(
            "the final hash does not match the last entry (entries were removed from the end, "
            "or the final hash was changed)",
            None,
            count,
        )
    seal_checked = False
    if key is not None:
        conversation_id = anchor.get("conversation_id")
        if not isinstance(conversation_id, int):
            return _fail("the anchor names no conversation", None, count)
        expected_seal = seal(
            key, conversation_id=conversation_id, entry_count=count, final_hash=prev
        )
        presented = transcript.get("seal")
        if not isinstance(presented, str) or not hmac.compare_digest(presented, expected_seal):
            return _fail(
                "the seal does not match: this server did not issue this transcript as it is",
                None,
                count,
            )
        seal_checked = True
    return VerifyResult(
        ok=True,
        problem=None,
        bad_index=None,
        entry_count=count,
        final_hash=prev,
        redacted=redacted,
        seal_checked=seal_checked,
    )
