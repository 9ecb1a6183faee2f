"""The send benchmark's load from wrk (C, with a Lua script) instead of httpx.

Why: one httpx process spent 3 ms of CPU per send at concurrency 16 and 8 to 13 ms at 64
(its connection pool's bookkeeping grows with the connections), on the same two cores as the
server: at 64 the load generator used more CPU than the server it measured. wrk spends a few
tens of microseconds per request. The Lua script sends exactly what `send.drive_sends` sends:
a random conversation of the seeded ones, its buyer or seller at random, the same body, a
fresh `client_message_id` per request; it counts the answers by status. bench/synapse.py sends
the same load to Synapse as Matrix sends (`write_matrix_script`), so that both servers are
measured under one load generator.

Debian: `apt-get install wrk`.
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote


def find_wrk() -> str | None:
    """The wrk binary, if installed."""
    return shutil.which("wrk")


_MARK = "WRK_RESULT "

_COMMON = r"""
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  sent = 0
  math.randomseed(SEED + id * 7919)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses")) do
      parts[#parts + 1] = string.format('"%d": %d', code, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    '%s{"duration_us": %d, "requests": %d, "statuses": [{%s}], '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
    .. '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %f}}\n',
    MARK, summary.duration, summary.requests, table.concat(parts, "}, {"),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
"""
# tradetalk's send: a random conversation, its buyer or seller at random.
_TRADETALK_REQUEST = r"""
function request()
  sent = sent + 1
  local thread = THREADS[math.random(#THREADS)]
  local body
  if CLIENT_IDS then
    body = string.format('{"body": "%s%d-%d", "client_message_id": "%s-%d-%d"}',
                         BODY, id, sent, RUN, id, sent)
  else
    body = string.format('{"body": "%s%d-%d"}', BODY, id, sent)
  end
  local headers = {}
  headers["Authorization"] = "Bearer " .. thread[math.random(2) + 1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/v1/conversations/" .. thread[1] .. "/messages", headers, body)
end

"""
# Matrix's send, as bench/synapse.py sends it: a random room, one of its two members at random;
# the transaction id (Synapse dedupes on it) plays client_message_id's part.
_MATRIX_REQUEST = r"""
function request()
  sent = sent + 1
  local room = THREADS[math.random(#THREADS)]
  local body = string.format('{"msgtype": "m.text", "body": "%s%d-%d"}', BODY, id, sent)
  local headers = {}
  headers["Authorization"] = "Bearer " .. room[math.random(2) + 1]
  headers["Content-Type"] = "application/json"
  return wrk.format("PUT", "/_matrix/client/v3/rooms/" .. room[1]
                    .. "/send/m.room.message/" .. RUN .. "-" .. id .. "-" .. sent, headers, body)
end
"""


class _Party(Protocol):
    token: str


class _Thread(Protocol):
    conversation_id: int
    buyer: _Party
    seller: _Party


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII is a valid Lua string literal


def write_script(
    folder: Path, threads: Sequence[_Thread], *, body_prefix: str, client_ids: bool, seed: int
) -> Path:
    """The Lua script for these conversations (their ids and tokens are written into it)."""
    rows = [(str(t.conversation_id), t.buyer.token, t.seller.token) for t in threads]
    return _write(folder, rows, _TRADETALK_REQUEST, body_prefix, client_ids, seed)


def write_matrix_script(
    folder: Path, rooms: Sequence[tuple[str, str, str]], *, body_prefix: str, seed: int
) -> Path:
    """The Lua script of the same load as Matrix sends: `rooms` are (room id, one member's
    token, the other's); the room id goes into the path URL-encoded."""
    rows = [(_lua_string(quote(room, safe="")), a, b) for room, a, b in rooms]
    return _write(folder, rows, _MATRIX_REQUEST, body_prefix, True, seed)


def _write(
    folder: Path,
    rows: Sequence[tuple[str, str, str]],
    request: str,
    body_prefix: str,
    client_ids: bool,
    seed: int,
) -> Path:
    table = ",\n".join(
        f"{{{target}, {_lua_string(first)}, {_lua_string(second)}}}"
        for target, first, second in rows
    )
    head = (
        f"THREADS = {{\n{table}\n}}\n"
        f"BODY = {_lua_string(body_prefix)}\n"
        f"CLIENT_IDS = {'true' if client_ids else 'false'}\n"
        f"RUN = {_lua_string(uuid.uuid4().hex[:12])}\n"
        f"SEED = {seed}\n"
        f"MARK = {_lua_string(_MARK)}\n"
    )
    path = Path(tempfile.mkstemp(suffix=".lua", dir=folder)[1])
    path.write_text(head + _COMMON + request)
    return path


async def closed_loop_wrk(
    base_url: str,
    script: Path,
    *,
    concurrency: int,
    duration: float,
    ok: int,
    server_cpu: Callable[[], float],
) -> dict[str, Any]:
    """`concurrency` wrk connections sending back to back for `duration` seconds (one wrk
    thread: it has CPU to spare); the same result as `harness.closed_loop`."""
    wrk = find_wrk()
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    seconds = max(1, round(duration))
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = server_cpu()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "60s",
        "-s", str(script), base_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    wall = time.perf_counter() - started
    server_seconds = server_cpu() - cpu_before
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_seconds = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    lines = [line for line in stdout.decode().splitlines() if line.startswith(_MARK)]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {stderr.decode()[-2000:]}")
    result = json.loads(lines[-1][len(_MARK) :])
    statuses: dict[str, int] = {}
    for group in result["statuses"]:
        for code, n in group.items():
            statuses[code] = statuses.get(code, 0) + n
    done = statuses.get(str(ok), 0)
    measured = result["duration_us"] / 1e6
    errors = {code: n for code, n in statuses.items() if code != str(ok)}
    transport = sum(result["errors"].values())
    if transport:
        errors["0"] = transport  # no answer (connect, read, write, timeout), as closed_loop
    latency = result["latency_us"]
    return {
        "messages": done,
        "seconds": round(measured, 3),
        "per_second": round(done / measured, 1) if measured else 0.0,
        "latency": {
            "p50_ms": round(latency["p50"] / 1000, 3),
            "p95_ms": round(latency["p95"] / 1000, 3),
            "p99_ms": round(latency["p99"] / 1000, 3),
            "max_ms": round(latency["max"] / 1000, 3),
            "mean_ms": round(latency["mean"] / 1000, 3),
        },
        "errors": errors,
        "server_cpu_seconds": round(server_seconds, 3),
        "server_cpu_ms_per_message": round(server_seconds / done * 1000, 3) if done else None,
        "client_cpu_ms_per_message": round(client_seconds / done * 1000, 3) if done else None,
        "load_generator": "wrk",
        "wall_seconds": round(wall, 3),
    }
