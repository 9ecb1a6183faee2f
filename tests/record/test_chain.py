"""The hash chain on its own: canonical form, building, verifying, and every kind of tampering."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from tradetalk.record import chain

KEY = chain.seal_key(b"server-secret")
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def transcript(bodies: list[str], *, key: bytes = KEY) -> dict[str, Any]:
    anchor = {"v": 1, "conversation_id": 7, "kind": "transaction", "participants": []}
    prev = chain.anchor_hash(anchor)
    entries = []
    for i, body in enumerate(bodies):
        link = chain.make_link(
            prev,
            index=i,
            kind="message.posted",
            at=T0 + timedelta(seconds=i),
            payload={"message_id": i + 1, "sender_id": "buyer-1", "body": body},
            salt=f"{i:032x}",
        )
        entries.append(
            {
                "index": link.index,
                "kind": link.kind,
                "at": link.at,
                "payload": link.payload,
                "salt": link.salt,
                "digest": link.digest,
                "prev_hash": link.prev_hash,
                "hash": link.hash,
            }
        )
        prev = link.hash
    return {
        "format": chain.FORMAT,
        "conversation": {"id": 7},
        "anchor": anchor,
        "entries": entries,
        "entry_count": len(entries),
        "final_hash": prev,
        "seal": chain.seal(key, conversation_id=7, entry_count=len(entries), final_hash=prev),
    }


def test_canonical_form_is_sorted_compact_utf8_with_microsecond_utc_times() -> None:
    value = {"b": "café ✓", "a": [1, None, True], "at": chain.canonical_time(T0)}
    assert chain.canonical_bytes(value) == (
        '{"a":[1,null,true],"at":"2026-11-22T10:00:00.000000Z","b":"café ✓"}'.encode()
    )


@pytest.mark.parametrize("bad", [1.5, {1: "x"}, {"s": {1, 2}}, datetime(2026, 1, 1)])
def test_values_without_a_stable_text_form_are_refused(bad: Any) -> None:
    with pytest.raises(chain.NotCanonical):
        chain.canonical_bytes({"v": bad})


def test_an_intact_chain_verifies_with_its_seal() -> None:
    result = chain.verify(transcript(["hello", "is it mint?", "yes"]), key=KEY)
    assert result.ok and result.seal_checked
    assert result.entry_count == 3


def test_an_empty_conversation_verifies() -> None:
    assert chain.verify(transcript([]), key=KEY).ok


def test_a_changed_body_is_found_at_its_entry() -> None:
    doc = transcript(["hello", "the coin is mint", "ok"])
    doc["entries"][1]["payload"]["body"] = "the coin is damaged"
    result = chain.verify(doc)
    assert not result.ok and result.bad_index == 1
    assert "content was changed" in (result.problem or "")


def test_a_changed_body_with_recomputed_digest_breaks_the_hash() -> None:
    doc = transcript(["hello", "the coin is mint", "ok"])
    entry = doc["entries"][1]
    entry["payload"]["body"] = "the coin is damaged"
    entry["digest"] = chain.payload_digest(entry["salt"], entry["payload"])
    result = chain.verify(doc)
    assert not result.ok and result.bad_index == 1


def test_a_changed_time_is_found() -> None:
    doc = transcript(["a", "b"])
    doc["entries"][0]["at"] = "2026-11-22T09:00:00.000000Z"
    assert chain.verify(doc).bad_index == 0


def test_a_deleted_entry_is_found_where_it_was() -> None:
    doc = transcript(["a", "b", "c", "d"])
    del doc["entries"][2]
    result = chain.verify(doc)
    assert not result.ok and result.bad_index == 2


def test_reordered_entries_are_found() -> None:
    doc = transcript(["a", "b", "c"])
    doc["entries"][0], doc["entries"][1] = doc["entries"][1], doc["entries"][0]
    result = chain.verify(doc)
    assert not result.ok and result.bad_index == 0
    # Renumbering after the swap does not help: the links no longer join.
    for i, entry in enumerate(doc["entries"]):
        entry["index"] = i
    assert chain.verify(doc).bad_index == 0


def test_an_inserted_entry_is_found() -> None:
    doc = transcript(["a", "b"])
    forged = copy.deepcopy(doc["entries"][1])
    forged["payload"]["body"] = "I promise a full refund"
    doc["entries"].insert(1, forged)
    result = chain.verify(doc)
    assert not result.ok and result.bad_index == 1


def test_a_cut_tail_is_found_by_the_final_hash_and_the_seal() -> None:
    doc = transcript(["a", "b", "c"])
    doc["entries"].pop()
    doc["entry_count"] = 2
    assert "final hash" in (chain.verify(doc).problem or "")
    # Fixing the final hash too still leaves the server's seal unmatched.
    doc["final_hash"] = doc["entries"][-1]["hash"]
    assert chain.verify(doc).ok  # the chain alone cannot tell a cut tail...
    assert not chain.verify(doc, key=KEY).ok  # ...the seal can


def test_a_chain_rebuilt_from_scratch_fails_the_seal() -> None:
    genuine = transcript(["I shipped it", "thanks"])
    forged = transcript(["I never shipped it", "thanks"], key=chain.seal_key(b"guess"))
    assert chain.verify(genuine, key=KEY).ok
    assert chain.verify(forged).ok  # internally consistent
    assert "seal" in (chain.verify(forged, key=KEY).problem or "")


def test_a_withheld_payload_still_verifies_by_its_digest() -> None:
    doc = transcript(["a", "withdrawn text", "c"])
    doc["entries"][1]["payload"] = None
    doc["entries"][1]["salt"] = None
    result = chain.verify(doc, key=KEY)
    assert result.ok and result.redacted == 1


def test_entries_cannot_move_to_another_conversation() -> None:
    doc = transcript(["a"])
    doc["anchor"]["conversation_id"] = 8
    doc["conversation"]["id"] = 8
    assert chain.verify(doc).bad_index == 0


@pytest.mark.parametrize("garbage", [None, [], {"format": "x"}, {"format": chain.FORMAT}])
def test_garbage_is_not_a_transcript(garbage: Any) -> None:
    assert not chain.verify(garbage).ok


@pytest.mark.parametrize(
    "moment",
    [
        T0,
        datetime(2026, 12, 7, 21, 4, 57, 360124, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-8))),
        datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(1999, 3, 4, 5, 6, 7, 80, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_times_keep_the_form_earlier_ledgers_were_written_in(moment: datetime) -> None:
    # Entries already stored were hashed with this form: a change to it would break them.
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert chain.canonical_time(moment) == expected
