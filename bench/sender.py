"""A fixed-rate sender of messages, run as its own process by bench/realtime.py.

Why its own process: the process that holds 1,000 WebSockets cannot also send 500 messages a
second (it reached 77/s), so the sends come from a second client process, as the issue
describes the benchmark. Why its own HTTP/1.1 client: httpx spends about 3 ms of CPU per
request here, which at 500/s alone would take one of the machine's two cores; wrk spends
little but has no clock in its Lua scripts to stamp each request, and send-to-receive times
need the moment each send started, on a clock the receiving process shares
(`time.monotonic`, CLOCK_MONOTONIC: one clock for every process of the machine). The client
below writes prepared request bytes on keep-alive connections and reads back the status and
a Content-Length body (what uvicorn answers a send with); nothing more.

    python bench/sender.py SPEC.json RESULT.json

SPEC: {"host", "port", "pairs": [[conversation_id, token], ...], "count", "rate",
"start_at" (a time.monotonic() value), "connections"}. Message n goes to pair n % len(pairs)
with the body "m<n>" at start_at + n / rate (open loop: a late answer does not delay the
next send; a send waits only when every connection is busy, and that wait is counted).
RESULT: {"sends": [[n, started, http_ms, status], ...], "waited_for_a_connection", "cpu_seconds"}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def post(connection: Connection, request: bytes) -> int:
    """Send one prepared request and read its answer; the status code."""
    reader, writer = connection
    writer.write(request)
    status_line = await reader.readuntil(b"\r\n")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise RuntimeError("chunked answers are not expected from a send")
    await reader.readexactly(length)
    return status


def request_bytes(host: str, port: int, conversation_id: int, token: str, n: int) -> bytes:
    """The HTTP/1.1 request that sends message n."""
    body = json.dumps({"body": f"m{n}"}).encode()
    head = (
        f"POST /v1/conversations/{conversation_id}/messages HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def drive(spec: dict[str, Any]) -> dict[str, Any]:
    """Send spec["count"] messages at spec["rate"]; every send's start, time and status."""
    host, port, pairs = spec["host"], spec["port"], spec["pairs"]
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(spec["connections"]):
        idle.put_nowait(await asyncio.open_connection(host, port))
    requests = [request_bytes(host, port, *pairs[n % len(pairs)], n) for n in range(spec["count"])]
    sends: list[list[Any]] = []
    waited = 0

    async def one(n: int) -> None:
        nonlocal waited
        if idle.empty():
            waited += 1
        connection = await idle.get()
        started = time.monotonic()
        try:
            status = await post(connection, requests[n])
        except (OSError, asyncio.IncompleteReadError, ValueError, RuntimeError):
            status = 0  # the connection is dropped; a fresh one takes its place
            connection[1].close()
            connection = await asyncio.open_connection(host, port)
        sends.append([n, started, (time.monotonic() - started) * 1000, status])
        idle.put_nowait(connection)

    cpu_before = time.process_time()
    tasks = []
    for n in range(spec["count"]):
        delay = spec["start_at"] + n / spec["rate"] - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu_before
    while not idle.empty():
        idle.get_nowait()[1].close()
    return {"sends": sends, "waited_for_a_connection": waited, "cpu_seconds": cpu}


def main() -> None:
    spec_path, result_path = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads(spec_path.read_text())
    result_path.write_text(json.dumps(asyncio.run(drive(spec))))


if __name__ == "__main__":
    main()
