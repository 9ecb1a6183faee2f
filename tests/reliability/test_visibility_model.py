"""Nobody sees what is not theirs, whatever happens in between: a stateful property test.

A hypothesis state machine drives the real app in process through its public API: the operator
upserts transactions, opens and closes disputes and grants support access; three traders open
transaction and direct conversations, send messages with attachments, edit and withdraw them,
make, counter and answer offers and mark threads read; two support users and an outsider try
the same. A plain model says who may see what (design rules 4, 7 and 8: participants see their
conversations; support only while a dispute on the transaction is open or an operator grant
naming them is in force; 404, never 403, for the invisible) and what each action should answer.

After every step, for every user, it checks:
- `GET /v1/conversations` lists exactly the model's conversations, in order, with the right
  last item, participants and unread count;
- the event stream (a WebSocket held open for the whole run) carried exactly the events the
  step should have sent this user, no more: every `message.created` of their conversations,
  edits, reads, offers and disputes, and nothing of anyone else's;
- each conversation the step touched shows each user exactly the model's items, or 404;
  each offer and attachment the step touched answers 200 or 404 as the model says;
- every third step one user in turn (and at the end every user) gets the whole sweep: every
  conversation, offer and attachment, search, the notification feed, and a replay of their
  stream with `after=0` that must equal what arrived live and hold no withdrawn text.

Bounded for CI and derandomised (the same examples every run). To explore more, locally:

    TRADETALK_VISIBILITY_EXAMPLES=300 TRADETALK_VISIBILITY_STEPS=50 \\
        .venv/bin/pytest -p no:xdist -s tests/reliability/test_visibility_model.py

runs random examples (kept in hypothesis' example database, .hypothesis/); -s prints what the
run covered.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import string
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import SECRET, SERVER_KEY
from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.models import metadata

T = TypeVar("T")

TRADERS = ("ana", "ben", "cy")
SUPPORT = ("sue", "sam")
OUTSIDER = "oz"
USERS = (*TRADERS, *SUPPORT, OUTSIDER)
# Who may start a direct conversation, and with whom (the outsider never takes part in anything).
DIRECT_PEOPLE = (*TRADERS, SUPPORT[0])
TRANSACTION_IDS = ("t1", "t2", "t3", "t4")
STATUSES = ("initiated", "paid", "shipped")
AMOUNTS = st.integers(1, 10**6)
PARTIES = st.permutations(TRADERS).map(lambda p: (p[0], p[1]))
EDIT_WINDOW = timedelta(seconds=900)  # the default TRADETALK_EDIT_WINDOW_SECONDS
MAX_CLOCK_ADVANCE = timedelta(hours=6)  # well inside token (1 day) and offer (48 h) lifetimes
SEARCH_WORD = "parcel"  # in every text the machine writes, so one search finds them all
# Every this many steps one user in turn gets the whole sweep (every user, at the end).
SWEEP_EVERY = 3
WAIT = 20.0  # seconds a read of the event stream may take before the test fails (a guard)

EXAMPLES = int(os.environ.get("TRADETALK_VISIBILITY_EXAMPLES", "0"))
STEPS = int(os.environ.get("TRADETALK_VISIBILITY_STEPS", "0"))
EXPLORING = EXAMPLES > 0


# --- an in-process WebSocket client ---------------------------------------------------------


class SocketClosed(Exception):
    """The app closed the WebSocket."""


class AsgiSocket:
    """A WebSocket to the ASGI app, without a server: the app's receive/send are two queues."""

    def __init__(self, app: FastAPI, path: str, query: dict[str, Any]) -> None:
        self.app = app
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(query).encode(),
            "headers": [(b"host", b"testserver")],
            "subprotocols": [],
            "extensions": {},
        }
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._gone = False
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        if self._gone:
            return {"type": "websocket.disconnect", "code": 1000}
        return await self._to_app.get()

    async def open(self) -> None:
        """Connect; the app must accept."""
        await self._to_app.put({"type": "websocket.connect"})
        self._task = asyncio.create_task(self.app(self.scope, self._receive, self._from_app.put))
        async with asyncio.timeout(WAIT):
            accepted = await self._from_app.get()
        assert accepted["type"] == "websocket.accept", accepted

    async def frame(self) -> dict[str, Any]:
        """The next frame other than a heartbeat."""
        while True:
            async with asyncio.timeout(WAIT):
                message = await self._from_app.get()
            if message["type"] == "websocket.close":
                raise SocketClosed(message)
            frame: dict[str, Any] = json.loads(message["text"])
            if frame["type"] != "heartbeat":
                return frame

    async def send(self, text: str) -> None:
        """Send a text frame to the app."""
        await self._to_app.put({"type": "websocket.receive", "text": text})

    async def close(self) -> None:
        """Disconnect and wait for the app's handler to finish."""
        self._gone = True
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        if self._task is not None:
            async with asyncio.timeout(WAIT):
                await self._task


# --- the model ------------------------------------------------------------------------------


@dataclass
class Item:
    """A thread item as the model expects it."""

    seq: int
    kind: str  # text, offer, system
    sender_id: str | None
    sender_role: str
    created_at: datetime
    id: int | None = None  # learned from the response or, for system notes, the event stream
    body: str = ""  # text items: what the parties see now
    original: str | None = None  # a withdrawn text, which support still reads
    withdrawn: bool = False
    edit_count: int = 0
    attachments: list[str] = field(default_factory=list)
    offer_id: int | None = None
    tag: str | None = None  # the unique word of the text it was sent with


@dataclass
class Conversation:
    id: int
    kind: str  # transaction, direct
    members: dict[str, str]  # user id -> role
    transaction_id: str | None
    items: list[Item] = field(default_factory=list)
    read_seq: dict[str, int] = field(default_factory=dict)
    grants: dict[str, list[datetime]] = field(default_factory=dict)  # support user -> expiries
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (sender, cmid) -> seq


@dataclass
class Transaction:
    id: str
    buyer: str
    seller: str
    status: str
    dispute_open: bool = False
    conversation: int | None = None


@dataclass
class Offer:
    id: int
    conversation: int
    maker: str
    recipient: str
    status: str = "open"


@dataclass
class Upload:
    id: str
    uploader: str
    content: bytes
    conversation: int | None = None


Signature = tuple[Any, ...]


def signature(frame: dict[str, Any]) -> Signature:
    """What identifies an event for comparison with the model."""
    kind, data = frame["type"], frame["data"]
    if kind in ("message.created", "message.updated"):
        return (kind, data["conversation_id"], data["seq"])
    if kind == "conversation.read":
        return (kind, data["conversation_id"], data["user_id"], data["last_read_seq"])
    if kind == "offer.updated":
        return (kind, data["id"], data["status"])
    if kind in ("dispute.opened", "dispute.closed"):
        return (kind, data["transaction_id"])
    return (kind, json.dumps(data, sort_keys=True))


def _tags() -> Iterator[str]:
    # Fixed length, so that search's prefix match on the last word finds exactly one tag.
    for letters in itertools.product(string.ascii_lowercase, repeat=3):
        yield "zq" + "".join(letters)


# --- the machine ----------------------------------------------------------------------------


class VisibilityMachine(RuleBasedStateMachine):
    """The app and a model of who may see what; see the module docstring."""

    # Set by the test: makes an empty, migrated database for one example; returns its URL.
    fresh_database: ClassVar[Callable[[], Awaitable[str]]]
    media_root: ClassVar[Path]
    examples: ClassVar[Iterator[int]]
    stats: ClassVar[Counter[str]]  # what the run covered, printed at the end

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.example = next(self.examples)
        self.stats["examples"] += 1
        self.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        self.started_at = self.clock.now()
        self.clean = True  # False while a rule runs; teardown's final check needs a clean state
        self.txns: dict[str, Transaction] = {}
        self.convs: dict[int, Conversation] = {}
        self.offers: dict[int, Offer] = {}
        self.uploads: dict[str, Upload] = {}
        self.tags = _tags()
        self.step = 0
        # What the current step should send each user, and what the checks should look at.
        self.expected: dict[str, list[Signature]] = {u: [] for u in USERS}
        self.dirty_convs: set[int] = set()
        self.dirty_offers: set[int] = set()
        self.dirty_uploads: set[str] = set()
        self.received: dict[str, list[dict[str, Any]]] = {u: [] for u in USERS}
        self.tokens: dict[str, str] = {}
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.sockets: dict[str, AsgiSocket] = {}
        self.lifespan: LifespanManager | None = None
        self.concurrency = asyncio.Semaphore(4)
        self.run(self._start())

    def run(self, coroutine: Awaitable[T]) -> T:
        """Run a coroutine on this machine's loop (the app and its sockets live there)."""
        return self.loop.run_until_complete(coroutine)  # type: ignore[arg-type]

    async def _start(self) -> None:
        database_url = await self.fresh_database()
        media = self.media_root / f"media-{self.example}"
        shutil.rmtree(media, ignore_errors=True)
        app_settings = Settings(
            database_url=database_url,
            server_api_key=SERVER_KEY,
            secret_key=SECRET,
            public_url="http://testserver",
            log_json=False,
            worker_embedded=False,
            rate_limits=False,
            direct_messages=True,
            media_dir=media,
            ocr=False,
        )
        self.app = create_app(app_settings, clock=self.clock)
        self.lifespan = LifespanManager(self.app)
        await self.lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app)
        self.server = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {SERVER_KEY}"},
        )
        for user in USERS:
            response = await self.server.put(
                f"/v1/users/{user}",
                json={
                    "display_name": user.title(),
                    "email": f"{user}@example.com",
                    "is_support": user in SUPPORT,
                },
            )
            assert response.status_code == 201, response.text
            response = await self.server.post(
                f"/v1/users/{user}/tokens", json={"ttl_seconds": 86400}
            )
            assert response.status_code == 201, response.text
            self.tokens[user] = response.json()["token"]
            self.clients[user] = httpx.AsyncClient(
                transport=transport,
                base_url="http://testserver",
                headers={"Authorization": f"Bearer {self.tokens[user]}"},
            )
            socket = AsgiSocket(self.app, "/v1/events", {"token": self.tokens[user], "after": 0})
            await socket.open()
            ready = await socket.frame()
            assert ready["type"] == "ready", ready
            self.sockets[user] = socket

    def teardown(self) -> None:
        try:
            if self.clean:
                self.run(self._check_everything())
        finally:
            self.run(self._stop())
            self.loop.close()

    async def _stop(self) -> None:
        for socket in self.sockets.values():
            await socket.close()
        for client in [*self.clients.values(), getattr(self, "server", None)]:
            if client is not None:
                await client.aclose()
        if self.lifespan is not None:
            await self.lifespan.__aexit__(None, None, None)

    # --- the model's rules ---------------------------------------------------------------------

    def dispute_open(self, conv: Conversation) -> bool:
        return conv.transaction_id is not None and self.txns[conv.transaction_id].dispute_open

    def granted(self, user: str, conv: Conversation) -> bool:
        now = self.clock.now()
        return any(expiry > now for expiry in conv.grants.get(user, []))

    def can_read(self, user: str, conv: Conversation) -> bool:
        """Rule 4 and 8: members always; support in an open dispute or with a grant."""
        if user in conv.members:
            return True
        return user in SUPPORT and (self.dispute_open(conv) or self.granted(user, conv))

    def as_support(self, user: str, conv: Conversation) -> bool:
        return user not in conv.members and self.can_read(user, conv)

    def can_write(self, user: str, conv: Conversation) -> bool:
        return user in conv.members or (user in SUPPORT and self.dispute_open(conv))

    def can_fetch(self, user: str, upload: Upload) -> bool:
        """Rule 7: the uploader until it is sent, then whoever may read that conversation."""
        if upload.conversation is None:
            return user == upload.uploader
        return self.can_read(user, self.convs[upload.conversation])

    def inbox(self, user: str) -> list[int]:
        """The user's conversations with items, most recent activity first."""
        mine = [c for c in self.convs.values() if user in c.members and c.items]
        mine.sort(key=lambda c: (c.items[-1].created_at, c.id), reverse=True)
        return [c.id for c in mine]

    def unread(self, user: str, conv: Conversation) -> int:
        marker = conv.read_seq.get(user, 0)
        return sum(
            1
            for item in conv.items
            if item.seq > marker and item.kind != "system" and item.sender_id != user
        )

    def emit(self, users: Any, sig: Signature) -> None:
        for user in set(users):
            self.expected[user].append(sig)

    def add_item(
        self,
        conv: Conversation,
        kind: str,
        sender: str | None,
        role: str,
        **details: Any,
    ) -> Item:
        """A new item at the end of the thread, announced to the members (and its sender)."""
        item = Item(
            seq=len(conv.items) + 1,
            kind=kind,
            sender_id=sender,
            sender_role=role,
            created_at=self.clock.now(),
            **details,
        )
        conv.items.append(item)
        if sender is not None and sender in conv.members:
            conv.read_seq[sender] = item.seq  # the sender has read everything up to it
        recipients = set(conv.members)
        if sender is not None:
            recipients.add(sender)
        self.emit(recipients, ("message.created", conv.id, item.seq))
        self.dirty_convs.add(conv.id)
        return item

    def text(self, what: str) -> tuple[str, str]:
        tag = next(self.tags)
        return f"{SEARCH_WORD} {tag} {what}", tag

    # --- helpers for rules ---------------------------------------------------------------------

    def request(self, user: str | None, method: str, url: str, **kwargs: Any) -> httpx.Response:
        client = self.server if user is None else self.clients[user]
        response = self.run(client.request(method, url, **kwargs))
        assert response.status_code < 500, f"{method} {url} as {user}: {response.text}"
        return response

    @staticmethod
    def expect(response: httpx.Response, status: int, code: str | None = None) -> None:
        request = response.request
        where = f"{request.method} {request.url.path}"
        assert response.status_code == status, (
            f"{where}: expected {status} {code or ''}, got {response.status_code} {response.text}"
        )
        if code is not None:
            assert response.json()["code"] == code, f"{where}: {response.text}"

    def known_items(self, conv: Conversation) -> list[Item]:
        return [i for i in conv.items if i.id is not None]

    def draw_item(self, data: st.DataObject, conv: Conversation) -> tuple[Conversation, Item]:
        """An item of this conversation mostly, sometimes of another one (which must not do)."""
        own = [i.seq for i in self.known_items(conv)]
        if own and data.draw(st.integers(0, 4), label="same conversation") > 0:
            return conv, conv.items[data.draw(st.sampled_from(own), label="item seq") - 1]
        elsewhere = [(c.id, i.seq) for c in self.convs.values() for i in self.known_items(c)]
        cid, seq = data.draw(st.sampled_from(elsewhere), label="conversation and item seq")
        return self.convs[cid], self.convs[cid].items[seq - 1]

    def pick(self, data: st.DataObject, likely: Any, anyone: Any, label: str) -> Any:
        """Mostly one of `likely` (who would do this, what it would be done to), sometimes
        anything at all: the refusals must hold too, but a run should get somewhere."""
        if likely and data.draw(st.integers(0, 3), label=f"likely {label}") > 0:
            return data.draw(st.sampled_from(sorted(likely)), label=label)
        return data.draw(st.sampled_from(sorted(anyone)), label=label)

    def readers(self, conv: Conversation) -> list[str]:
        return [u for u in USERS if self.can_read(u, conv)]

    def draw_conv(self, data: st.DataObject) -> Conversation:
        cid = data.draw(st.sampled_from(sorted(self.convs)), label="conversation")
        return self.convs[cid]

    def has_items(self) -> bool:
        return any(self.known_items(c) for c in self.convs.values())

    def begin(self) -> None:
        """An action starts: hold the final check until the step's checks pass."""
        self.clean = False
        self.step += 1

    # --- rules: the operator -------------------------------------------------------------------

    def upsert_transaction(self, data: st.DataObject) -> None:
        transaction_id = data.draw(st.sampled_from(TRANSACTION_IDS), label="transaction")
        parties = data.draw(PARTIES, label="buyer and seller")
        status = data.draw(st.sampled_from(STATUSES), label="status")
        self._upsert_transaction(transaction_id, parties, status)

    def _upsert_transaction(
        self, transaction_id: str, parties: tuple[str, str], status: str
    ) -> None:
        self.begin()
        buyer, seller = parties
        response = self.request(
            None,
            "PUT",
            f"/v1/transactions/{transaction_id}",
            json={"buyer_id": buyer, "seller_id": seller, "title": "Teapot", "status": status},
        )
        txn = self.txns.get(transaction_id)
        if txn is None:
            self.expect(response, 201)
            self.txns[transaction_id] = Transaction(transaction_id, buyer, seller, status)
            return
        if txn.conversation is not None and (buyer, seller) != (txn.buyer, txn.seller):
            self.expect(response, 409, "transaction_parties_fixed")
            return
        self.expect(response, 200)
        changed = status != txn.status
        txn.buyer, txn.seller, txn.status = buyer, seller, status
        if changed and txn.conversation is not None:
            self.add_item(self.convs[txn.conversation], "system", None, "system")

    def open_dispute(self, data: st.DataObject) -> None:
        self.begin()
        undisputed = [t.id for t in self.txns.values() if not t.dispute_open]
        transaction_id = self.pick(data, undisputed, TRANSACTION_IDS, "transaction")
        response = self.request(
            None, "POST", f"/v1/transactions/{transaction_id}/dispute", json={"reason": "damaged"}
        )
        txn = self.txns.get(transaction_id)
        if txn is None:
            self.expect(response, 404)
            return
        if txn.dispute_open:
            self.expect(response, 409, "dispute_already_open")
            return
        self.expect(response, 201)
        txn.dispute_open = True
        self._dispute_changed(txn, "dispute.opened")

    def close_dispute(self, data: st.DataObject) -> None:
        self.begin()
        disputed = [t.id for t in self.txns.values() if t.dispute_open]
        transaction_id = self.pick(data, disputed, TRANSACTION_IDS, "transaction")
        response = self.request(None, "DELETE", f"/v1/transactions/{transaction_id}/dispute")
        txn = self.txns.get(transaction_id)
        if txn is None or not txn.dispute_open:
            self.expect(response, 404)
            return
        self.expect(response, 200)
        txn.dispute_open = False
        self._dispute_changed(txn, "dispute.closed")

    def _dispute_changed(self, txn: Transaction, event: str) -> None:
        if txn.conversation is None:
            return
        conv = self.convs[txn.conversation]
        self.add_item(conv, "system", None, "system")
        self.emit(conv.members, (event, txn.id))

    def grant_support(self, data: st.DataObject) -> None:
        self.begin()
        ttl = data.draw(st.sampled_from([60, 600, 3600]), label="ttl")
        conv = self.draw_conv(data)
        user = self.pick(data, SUPPORT, USERS, "grantee")
        response = self.request(
            None,
            "POST",
            f"/v1/conversations/{conv.id}/support-grants",
            json={"user_id": user, "ttl_seconds": ttl},
        )
        if user not in SUPPORT:
            self.expect(response, 422, "not_a_support_user")
            return
        self.expect(response, 201)
        conv.grants.setdefault(user, []).append(self.clock.now() + timedelta(seconds=ttl))
        self.dirty_convs.add(conv.id)
        self._uploads_of(conv)

    def revoke_support(self, data: st.DataObject) -> None:
        self.begin()
        user = data.draw(st.sampled_from(SUPPORT), label="support user")
        granted = [c.id for c in self.convs.values() if self.granted(user, c)]
        conv = self.convs[self.pick(data, granted, self.convs, "conversation")]
        response = self.request(
            None, "DELETE", f"/v1/conversations/{conv.id}/support-grants/{user}"
        )
        if not self.granted(user, conv):
            self.expect(response, 404)
            return
        self.expect(response, 204)
        conv.grants[user] = []
        self.dirty_convs.add(conv.id)
        self._uploads_of(conv)

    def advance_clock(self, data: st.DataObject) -> None:
        """Time passes: grants run out, edit windows close."""
        self.begin()
        seconds = data.draw(st.sampled_from([30, 61, 600, 1000]), label="seconds")
        self.clock.advance(timedelta(seconds=seconds))
        for conv in self.convs.values():
            if conv.grants:
                self.dirty_convs.add(conv.id)
                self._uploads_of(conv)

    def time_matters(self) -> bool:
        """Moving the clock changes something: a grant in force, an edit window open."""
        if self.clock.now() - self.started_at >= MAX_CLOCK_ADVANCE:
            return False
        now = self.clock.now()
        return any(
            any(expiry > now for expiries in c.grants.values() for expiry in expiries)
            or any(i.kind == "text" and now - i.created_at <= EDIT_WINDOW for i in c.items)
            for c in self.convs.values()
        )

    def _uploads_of(self, conv: Conversation) -> None:
        self.dirty_uploads.update(u.id for u in self.uploads.values() if u.conversation == conv.id)

    # --- rules: people -------------------------------------------------------------------------

    def open_transaction_conversation(self, data: st.DataObject) -> None:
        transaction_id = data.draw(st.sampled_from(TRANSACTION_IDS), label="transaction")
        txn = self.txns.get(transaction_id)
        parties = (txn.buyer, txn.seller) if txn else ()
        self._open_transaction_conversation(self.pick(data, parties, USERS, "user"), transaction_id)

    def _open_transaction_conversation(self, user: str, transaction_id: str) -> None:
        self.begin()
        response = self.request(user, "GET", f"/v1/transactions/{transaction_id}/conversation")
        txn = self.txns.get(transaction_id)
        if txn is None or user not in (txn.buyer, txn.seller):
            self.expect(response, 404)
            return
        self.expect(response, 200)
        got = response.json()
        if txn.conversation is None:
            txn.conversation = got["id"]
            assert got["id"] not in self.convs
            self.convs[got["id"]] = Conversation(
                id=got["id"],
                kind="transaction",
                members={txn.buyer: "buyer", txn.seller: "seller"},
                transaction_id=txn.id,
            )
            self.dirty_convs.add(txn.conversation)
        assert got["id"] == txn.conversation

    def start_direct_conversation(self, data: st.DataObject) -> None:
        self.begin()
        user = data.draw(st.sampled_from(DIRECT_PEOPLE), label="user")
        other = data.draw(st.sampled_from(DIRECT_PEOPLE), label="other")
        response = self.request(user, "POST", "/v1/conversations", json={"user_id": other})
        if user == other:
            self.expect(response, 422, "cannot_message_self")
            return
        pair = {user, other}
        existing = next(
            (c for c in self.convs.values() if c.kind == "direct" and set(c.members) == pair),
            None,
        )
        if existing is not None:
            self.expect(response, 200)
            assert response.json()["id"] == existing.id
            return
        self.expect(response, 201)
        cid = response.json()["id"]
        assert cid not in self.convs
        self.convs[cid] = Conversation(
            id=cid, kind="direct", members={user: "buyer", other: "seller"}, transaction_id=None
        )
        self.dirty_convs.add(cid)

    def upload(self, data: st.DataObject) -> None:
        self.begin()
        user = data.draw(st.sampled_from(USERS), label="uploader")
        content = f"{SEARCH_WORD} receipt {next(self.tags)}\n".encode()
        response = self.request(
            user, "POST", "/v1/attachments", files={"file": ("receipt.txt", content, "text/plain")}
        )
        self.expect(response, 201)
        upload = Upload(response.json()["id"], user, content)
        self.uploads[upload.id] = upload
        self.dirty_uploads.add(upload.id)

    def send_message(self, data: st.DataObject) -> None:
        self.begin()
        conv = self.draw_conv(data)
        user = self.pick(data, self.readers(conv), USERS, "sender")
        retries = [cmid for (sender, cmid) in conv.client_ids if sender == user]
        retry = bool(retries) and data.draw(st.booleans(), label="retry")
        cmid = data.draw(st.sampled_from(retries), label="client id") if retry else f"c{self.step}"
        files: list[str] = []
        if self.uploads and data.draw(st.booleans(), label="with attachments"):
            mine = [
                u.id for u in self.uploads.values() if u.uploader == user and not u.conversation
            ]
            anyone = list(self.uploads)
            pool = mine if mine and data.draw(st.integers(0, 3), label="own") > 0 else anyone
            files = data.draw(
                st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True),
                label="attachments",
            )
        body, tag = self.text("is it still available")
        response = self.request(
            user,
            "POST",
            f"/v1/conversations/{conv.id}/messages",
            json={"body": body, "client_message_id": cmid, "attachment_ids": files},
        )
        if not self.can_read(user, conv):
            self.expect(response, 404, "not_found")
            return
        if not self.can_write(user, conv):
            self.expect(response, 403, "support_access_read_only")
            return
        if retry:
            self.expect(response, 201)
            assert response.json()["id"] == conv.items[conv.client_ids[(user, cmid)] - 1].id
            return
        usable = all(
            self.uploads[f].uploader == user and self.uploads[f].conversation is None for f in files
        )
        if not usable:
            self.expect(response, 422, "attachment_not_available")
            return
        self.expect(response, 201)
        role = conv.members.get(user, "support")
        item = self.add_item(conv, "text", user, role, body=body, tag=tag, attachments=list(files))
        item.id = response.json()["id"]
        assert response.json()["seq"] == item.seq, response.text
        assert [a["id"] for a in response.json()["attachments"]] == files
        conv.client_ids[(user, cmid)] = item.seq
        for f in files:
            self.uploads[f].conversation = conv.id
        self.dirty_uploads.update(files)

    def edit_message(self, data: st.DataObject) -> None:
        self.begin()
        conv = self.draw_conv(data)
        owner, item = self.draw_item(data, conv)
        user = self.pick(data, [item.sender_id] if item.sender_id else [], USERS, "user")
        body, tag = self.text("edited")
        response = self.request(
            user,
            "PATCH",
            f"/v1/conversations/{conv.id}/messages/{item.id}",
            json={"body": body},
        )
        if not self._may_change(response, user, conv, owner, item):
            return
        if item.withdrawn:
            self.expect(response, 409, "message_withdrawn")
            return
        if self.clock.now() - item.created_at > EDIT_WINDOW:
            self.expect(response, 409, "edit_window_closed")
            return
        self.expect(response, 200)
        item.body, item.tag = body, tag
        item.edit_count += 1
        self.dirty_convs.add(conv.id)
        self.emit(conv.members, ("message.updated", conv.id, item.seq))

    def withdraw_message(self, data: st.DataObject) -> None:
        self.begin()
        conv = self.draw_conv(data)
        owner, item = self.draw_item(data, conv)
        user = self.pick(data, [item.sender_id] if item.sender_id else [], USERS, "user")
        response = self.request(user, "DELETE", f"/v1/conversations/{conv.id}/messages/{item.id}")
        if not self._may_change(response, user, conv, owner, item):
            return
        self.expect(response, 200)
        assert response.json()["withdrawn"] is True and response.json()["body"] == ""
        if item.withdrawn:
            return  # the same tombstone again, nothing sent
        item.original, item.body, item.withdrawn = item.body, "", True
        self.dirty_convs.add(conv.id)
        self.emit(conv.members, ("message.updated", conv.id, item.seq))

    def _may_change(
        self,
        response: httpx.Response,
        user: str,
        conv: Conversation,
        owner: Conversation,
        item: Item,
    ) -> bool:
        """The refusals shared by edit and withdraw, in the order the app checks them."""
        if not self.can_read(user, conv):
            self.expect(response, 404, "not_found")
        elif not self.can_write(user, conv):
            self.expect(response, 403, "support_access_read_only")
        elif owner is not conv:
            self.expect(response, 404, "not_found")
        elif item.sender_id != user:
            self.expect(response, 403, "not_your_message")
        elif item.kind != "text":
            self.expect(response, 409, "message_not_editable")
        else:
            return True
        return False

    def mark_read(self, data: st.DataObject) -> None:
        self.begin()
        conv = self.draw_conv(data)
        owner, item = self.draw_item(data, conv)
        user = self.pick(data, conv.members, USERS, "reader")
        response = self.request(
            user, "POST", f"/v1/conversations/{conv.id}/read", json={"message_id": item.id}
        )
        if user not in conv.members:  # support reads but keeps no read marker: 404 as well
            self.expect(response, 404, "not_found")
            return
        if owner is not conv:
            self.expect(response, 422, "unknown_message")
            return
        self.expect(response, 200)
        if item.seq > conv.read_seq.get(user, 0):
            conv.read_seq[user] = item.seq
            self.emit(conv.members, ("conversation.read", conv.id, user, item.seq))

    def request_dispute(self, data: st.DataObject) -> None:
        self.begin()
        conv = self.draw_conv(data)
        user = self.pick(data, conv.members, USERS, "user")
        response = self.request(
            user,
            "POST",
            f"/v1/conversations/{conv.id}/dispute-requests",
            json={"reason": "never arrived"},
        )
        if user not in conv.members:  # support does not ask; the operator opens
            self.expect(response, 404, "not_found")
        elif conv.transaction_id is None:
            self.expect(response, 422, "not_a_transaction_conversation")
        elif self.dispute_open(conv):
            self.expect(response, 409, "dispute_already_open")
        else:
            self.expect(response, 202)

    # --- rules: offers -------------------------------------------------------------------------

    def draw_offer(self, data: st.DataObject) -> Offer:
        """Mostly an open offer (the ones that can still change)."""
        open_ids = [o.id for o in self.offers.values() if o.status == "open"]
        return self.offers[self.pick(data, open_ids, self.offers, "offer")]

    def open_offer(self, conv: Conversation) -> Offer | None:
        return next(
            (o for o in self.offers.values() if o.conversation == conv.id and o.status == "open"),
            None,
        )

    def _add_offer(self, conv: Conversation, maker: str, response: httpx.Response) -> Offer:
        got = response.json()
        recipient = next(u for u in conv.members if u != maker)
        offer = Offer(got["id"], conv.id, maker, recipient)
        assert got["maker_id"] == maker and got["recipient_id"] == recipient, got
        self.offers[offer.id] = offer
        item = self.add_item(conv, "offer", maker, conv.members[maker], offer_id=offer.id)
        item.id = got["message_id"]
        self.dirty_offers.add(offer.id)
        return offer

    def _offer_changed(self, offer: Offer, status: str) -> None:
        offer.status = status
        self.emit((offer.maker, offer.recipient), ("offer.updated", offer.id, status))
        self.dirty_offers.add(offer.id)
        self.dirty_convs.add(offer.conversation)

    def make_offer(self, data: st.DataObject) -> None:
        self.begin()
        amount = data.draw(AMOUNTS, label="amount")
        conv = self.draw_conv(data)
        user = self.pick(data, conv.members, USERS, "maker")
        response = self.request(
            user,
            "POST",
            f"/v1/conversations/{conv.id}/offers",
            json={"amount_minor": amount, "currency": "EUR"},
        )
        if user not in conv.members:  # support reads offers in a dispute, never makes them
            self.expect(response, 404, "not_found")
            return
        current = self.open_offer(conv)
        if current is not None and current.maker != user:
            self.expect(response, 409, "open_offer_exists")
            return
        self.expect(response, 201)
        offer = self._add_offer(conv, user, response)
        if current is not None:
            self._offer_changed(current, "withdrawn")
            assert offer.id != current.id

    def counter_offer(self, data: st.DataObject) -> None:
        self.begin()
        amount = data.draw(AMOUNTS, label="amount")
        offer = self.draw_offer(data)
        user = self.pick(data, [offer.recipient], USERS, "user")
        conv = self.convs[offer.conversation]
        response = self.request(
            user,
            "POST",
            f"/v1/offers/{offer.id}/counter",
            json={"amount_minor": amount, "currency": "EUR"},
        )
        if user not in conv.members:
            self.expect(response, 404, "not_found")
        elif offer.status != "open":
            self.expect(response, 409, "offer_not_open")
        elif offer.maker == user:
            self.expect(response, 409, "cannot_answer_own_offer")
        else:
            self.expect(response, 201)
            self._add_offer(conv, user, response)
            self._offer_changed(offer, "countered")

    def answer_offer(self, data: st.DataObject) -> None:
        self.begin()
        action = data.draw(st.sampled_from(["accept", "decline", "withdraw"]), label="answer")
        offer = self.draw_offer(data)
        party = offer.maker if action == "withdraw" else offer.recipient
        user = self.pick(data, [party], USERS, "user")
        conv = self.convs[offer.conversation]
        response = self.request(user, "POST", f"/v1/offers/{offer.id}/{action}")
        if user not in conv.members:
            self.expect(response, 404, "not_found")
        elif offer.status != "open":
            self.expect(response, 409, "offer_not_open")
        elif action != "withdraw" and offer.maker == user:
            self.expect(response, 409, "cannot_answer_own_offer")
        elif action == "withdraw" and offer.maker != user:
            self.expect(response, 409, "not_your_offer")
        else:
            self.expect(response, 200)
            self._offer_changed(
                offer, {"accept": "accepted", "decline": "declined"}.get(action, "withdrawn")
            )
            assert response.json()["status"] == offer.status

    # --- what happens next ----------------------------------------------------------------------

    def actions(self) -> list[str]:
        """What can happen now, each name repeated by its weight (how often a run does it)."""
        convs, items, offers = bool(self.convs), self.has_items(), bool(self.offers)
        # Hypothesis leans towards the first entry (and shrinks to it): the everyday action.
        table = [
            ("send_message", 6, convs),
            ("upsert_transaction", 2, True),
            ("open_transaction_conversation", 2, True),
            ("start_direct_conversation", 1, True),
            ("upload", 2, True),
            ("open_dispute", 2, True),
            ("close_dispute", 2, True),
            ("make_offer", 2, convs),
            ("request_dispute", 1, convs),
            ("grant_support", 2, convs),
            ("revoke_support", 1, convs),
            ("edit_message", 2, items),
            ("withdraw_message", 2, items),
            ("mark_read", 1, items),
            ("counter_offer", 2, offers),
            ("answer_offer", 2, offers),
            ("advance_clock", 1, self.time_matters()),
        ]
        return [name for name, weight, possible in table if possible for _ in range(weight)]

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """One thing happens, drawn by weight among what can happen now. (One rule rather than
        one per action: hypothesis' swarm testing would leave whole actions out of the few
        examples CI runs.)"""
        name = data.draw(st.sampled_from(self.actions()), label="action")
        self.stats[name] += 1
        getattr(self, name)(data)

    # --- the checks ----------------------------------------------------------------------------

    @initialize(
        parties=PARTIES,
        opener=st.sampled_from(["buyer", "seller"]),
    )
    def first_deal(self, parties: tuple[str, str], opener: str) -> None:
        """A transaction with a conversation to start from, so that every rule has material."""
        self._upsert_transaction(TRANSACTION_IDS[0], parties, "initiated")
        self._open_transaction_conversation(parties[opener == "seller"], TRANSACTION_IDS[0])

    @invariant()
    def each_user_sees_exactly_their_own(self) -> None:
        self.run(self._after_step())
        self.clean = True

    async def _after_step(self) -> None:
        for user in USERS:
            await self._check_stream_step(user)
        checks = [self._check_inbox(user) for user in USERS]
        for user in USERS:
            checks += [self._check_conversation(user, self.convs[c]) for c in self.dirty_convs]
            checks += [self._check_offer(user, self.offers[o]) for o in self.dirty_offers]
            checks += [self._check_upload(user, self.uploads[a]) for a in self.dirty_uploads]
        if self.step % SWEEP_EVERY == 0:
            turn = self.step // SWEEP_EVERY
            checks.append(self._check_user(USERS[turn % len(USERS)], thorough=False))
        await self._all(checks)
        self.dirty_convs.clear()
        self.dirty_offers.clear()
        self.dirty_uploads.clear()

    async def _all(self, checks: list[Awaitable[None]]) -> None:
        """Run checks a few at a time (the app overlaps their database waits, within its pool);
        raise the first failure once all have finished, so that nothing is left running."""

        async def limited(check: Awaitable[None]) -> None:
            async with self.concurrency:
                await check

        results = await asyncio.gather(*map(limited, checks), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _get(self, user: str, url: str, **params: Any) -> httpx.Response:
        response = await self.clients[user].get(url, params=params)
        assert response.status_code < 500, f"GET {url} as {user}: {response.text}"
        self.stats[f"checks answered {response.status_code}"] += 1
        return response

    async def _check_stream_step(self, user: str) -> None:
        """What the step sent this user live is exactly what the model says it should."""
        socket = self.sockets[user]
        await socket.send("sync")  # not a valid frame: answered with an error after the rest
        frames = []
        while (frame := await socket.frame())["type"] != "error":
            frames.append(frame)
        assert frame["data"]["code"] == "invalid_frame", frame
        expected = Counter(self.expected[user])
        got = Counter(signature(f) for f in frames)
        assert got == expected, (
            f"{user}'s stream: unexpected {sorted(map(str, got - expected))}, "
            f"missing {sorted(map(str, expected - got))}"
        )
        seen = len(self.received[user])
        for offset, frame in enumerate(frames, start=seen + 1):
            assert frame["id"] == offset, f"{user}'s stream skips or repeats an id: {frame}"
            self._check_event_data(user, frame)
        self.received[user].extend(frames)
        self.expected[user] = []
        self.stats["events checked"] += len(frames)

    def _check_event_data(self, user: str, frame: dict[str, Any]) -> None:
        kind, data = frame["type"], frame["data"]
        if kind not in ("message.created", "message.updated"):
            return
        conv = self.convs[data["conversation_id"]]
        item = conv.items[data["seq"] - 1]
        if item.id is None:
            item.id = data["id"]  # a system note: its id shows first here
        assert data["id"] == item.id, (user, frame, item)
        assert (data["kind"], data["sender_id"]) == (item.kind, item.sender_id), (frame, item)
        if item.kind == "text":
            assert (data["body"], data["withdrawn"]) == (item.body, item.withdrawn), (frame, item)

    async def _check_inbox(self, user: str) -> None:
        response = await self._get(user, "/v1/conversations", limit=100)
        self.expect(response, 200)
        page = response.json()
        assert page["next_cursor"] is None
        got = [c["id"] for c in page["items"]]
        assert got == self.inbox(user), f"{user}'s inbox: {got}, model {self.inbox(user)}"
        for listed in page["items"]:
            conv = self.convs[listed["id"]]
            members = {p["user_id"]: p["role"] for p in listed["participants"]}
            assert members == conv.members, (user, listed)
            assert listed["last_message"]["id"] == conv.items[-1].id, (user, listed)
            assert listed["unread_count"] == self.unread(user, conv), (user, listed)

    async def _check_conversation(
        self, user: str, conv: Conversation, *, thorough: bool = False
    ) -> None:
        """The user reads exactly the model's thread, or gets 404 for it (and, thoroughly,
        for all its parts)."""
        base = f"/v1/conversations/{conv.id}"
        if not self.can_read(user, conv):
            urls = [f"{base}/messages"]
            if thorough:
                urls += [base, f"{base}/transcript"]
                probed = [i for i in self.known_items(conv) if i.withdrawn or i is conv.items[-1]]
                urls += [f"{base}/messages/{i.id}/versions" for i in probed]
            for url in urls:
                self.expect(await self._get(user, url), 404, "not_found")
            return
        got: list[dict[str, Any]] = []
        before: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100} | ({"before": before} if before else {})
            response = await self._get(user, f"{base}/messages", **params)
            self.expect(response, 200)
            got.extend(response.json()["items"])
            before = response.json()["next_cursor"]
            if before is None:
                break
        got.reverse()
        assert [m["seq"] for m in got] == [i.seq for i in conv.items], (user, conv.id, got)
        support = self.as_support(user, conv)
        for message, item in zip(got, conv.items, strict=True):
            self._check_message(user, message, item, support)
        if thorough:
            await self._check_record(user, conv, support)

    async def _check_record(self, user: str, conv: Conversation, support: bool) -> None:
        """The conversation itself, earlier versions and the transcript: a withdrawn text is
        for support only."""
        base = f"/v1/conversations/{conv.id}"
        response = await self._get(user, base)
        self.expect(response, 200)
        assert response.json()["id"] == conv.id
        response = await self._get(user, f"{base}/transcript")
        self.expect(response, 200)
        transcript = response.text
        for item in conv.items:
            if not item.withdrawn or item.original is None:
                continue
            response = await self._get(user, f"{base}/messages/{item.id}/versions")
            self.expect(response, 200)
            texts = [v["body"] for v in response.json()["items"]]
            if support:
                assert item.original in texts, (user, item, texts)
            else:
                assert texts == [], f"{user} reads withdrawn versions: {texts}"
                assert item.original not in transcript, f"{user}'s transcript has {item.original}"

    def _check_message(self, user: str, message: dict[str, Any], item: Item, support: bool) -> None:
        where = f"{user} reading item {item.seq} of conversation {message['conversation_id']}"
        if item.id is None:
            item.id = message["id"]
        assert message["id"] == item.id, where
        assert message["kind"] == item.kind, where
        assert (message["sender_id"], message["sender_role"]) == (
            item.sender_id,
            item.sender_role,
        ), where
        assert [a["id"] for a in message["attachments"]] == item.attachments, where
        if item.kind == "text":
            assert message["body"] == item.body, f"{where}: {message}"
            assert message["withdrawn"] == item.withdrawn, where
            assert message["edit_count"] == item.edit_count, where
            # Support reading in a dispute (or by grant) sees what was withdrawn; parties never.
            original = item.original if support and item.withdrawn else None
            assert message["original_body"] == original, f"{where}: {message}"
        if item.kind == "offer":
            assert item.offer_id is not None
            assert message["offer"]["id"] == item.offer_id, where
            assert message["offer"]["status"] == self.offers[item.offer_id].status, where

    async def _check_offer(self, user: str, offer: Offer) -> None:
        response = await self._get(user, f"/v1/offers/{offer.id}")
        # Offers are answered by the parties only; support reads them in the thread.
        if user in self.convs[offer.conversation].members:
            self.expect(response, 200)
            assert response.json()["status"] == offer.status
        else:
            self.expect(response, 404, "not_found")

    async def _check_upload(self, user: str, upload: Upload, *, thorough: bool = False) -> None:
        for suffix in ("", "/thumbnail") if thorough else ("",):
            response = await self._get(user, f"/v1/attachments/{upload.id}{suffix}")
            if not self.can_fetch(user, upload):
                self.expect(response, 404, "not_found")
            elif suffix:
                self.expect(response, 404)  # a text file has no thumbnail, for anyone
            else:
                self.expect(response, 200)
                assert response.content == upload.content

    async def _check_user(self, user: str, *, thorough: bool) -> None:
        """One user's whole view: every object there is, search, the notification feed, and
        their stream replayed from the start."""
        checks = [self._check_conversation(user, c, thorough=thorough) for c in self.convs.values()]
        checks += [self._check_offer(user, offer) for offer in self.offers.values()]
        checks += [self._check_upload(user, u, thorough=thorough) for u in self.uploads.values()]
        checks += [
            self._check_search(user),
            self._check_notifications(user),
            self._check_replay(user),
        ]
        await self._all(checks)

    def _member_items(self, user: str) -> list[Item]:
        return [item for conv in self.convs.values() if user in conv.members for item in conv.items]

    async def _check_search(self, user: str) -> None:
        """Search finds the user's own conversations' texts, never a withdrawn one."""
        found: list[int] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"q": SEARCH_WORD, "limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = await self._get(user, "/v1/search", **params)
            self.expect(response, 200)
            found += [m["id"] for m in response.json()["items"]]
            cursor = response.json()["next_cursor"]
            if cursor is None:
                break
        expected = {
            item.id
            for item in self._member_items(user)
            if item.kind == "text" and not item.withdrawn
        }
        assert sorted(found) == sorted(expected), f"{user} searching: {found}, model {expected}"
        for item in self._member_items(user):
            if item.withdrawn and item.original is not None:
                tag = item.original.split()[1]
                response = await self._get(user, "/v1/search", q=tag)
                self.expect(response, 200)
                assert response.json()["items"] == [], f"{user} finds withdrawn text by {tag}"

    async def _check_notifications(self, user: str) -> None:
        response = await self._get(user, "/v1/notifications", limit=100)
        self.expect(response, 200)
        mine = {c.id for c in self.convs.values() if user in c.members}
        withdrawn = {
            item.original.split()[1]
            for conv in self.convs.values()
            for item in conv.items
            if item.withdrawn and item.original is not None
        }
        for note in response.json()["items"]:
            assert note["conversation_id"] in mine, f"{user} is told about {note}"
            leaked = [tag for tag in withdrawn if tag in note["body"] or tag in note["title"]]
            assert not leaked, f"{user}'s feed still shows withdrawn text: {note}"

    async def _check_everything(self) -> None:
        for user in USERS:
            await self._check_user(user, thorough=True)

    async def _check_replay(self, user: str) -> None:
        """`after=0` replays exactly what arrived live, with what may be seen now."""
        socket = AsgiSocket(self.app, "/v1/events", {"token": self.tokens[user], "after": 0})
        await socket.open()
        try:
            replayed = []
            while (frame := await socket.frame())["type"] != "ready":
                replayed.append(frame)
        finally:
            await socket.close()
        live = self.received[user]
        assert [(f["id"], f["type"]) for f in replayed] == [(f["id"], f["type"]) for f in live]
        for frame in replayed:
            if frame["type"] in ("message.created", "message.updated"):
                item = self.convs[frame["data"]["conversation_id"]].items[frame["data"]["seq"] - 1]
                if item.withdrawn and item.original is not None:
                    assert item.original not in json.dumps(frame["data"]), (
                        f"{user}'s stream replays withdrawn text: {frame}"
                    )


# --- the test -------------------------------------------------------------------------------


async def _truncate_postgres(url: str) -> None:
    import asyncpg

    tables = ", ".join(table.name for table in metadata.sorted_tables)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


def _settings() -> settings:
    return settings(
        max_examples=EXAMPLES or 4,
        stateful_step_count=STEPS or 20,
        deadline=None,
        derandomize=not EXPLORING,
        database=settings.default.database if EXPLORING else None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        print_blob=True,
    )


@pytest.mark.timeout(600)
def test_each_user_sees_exactly_what_they_may(
    database_url: str, sqlite_template: Path, tmp_path: Path
) -> None:
    counter = itertools.count(1)
    stats: Counter[str] = Counter()

    async def fresh_database() -> str:
        if database_url.startswith("sqlite"):
            path = tmp_path / "example.db"
            shutil.copyfile(sqlite_template, path)
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240 - tiny, local
            return f"sqlite:///{path}"
        await _truncate_postgres(database_url)
        return database_url

    machine = type(
        "Visibility",
        (VisibilityMachine,),
        {
            "fresh_database": staticmethod(fresh_database),
            "media_root": tmp_path,
            "examples": counter,
            "stats": stats,
        },
    )
    try:
        run_state_machine_as_test(machine, settings=_settings())
    finally:
        print(f"\nvisibility model on {database_url.split(':')[0]}: {json.dumps(stats)}")
