"""Redis publish-to-subscribe latency on this machine: the floor under cross-node delivery.

When several app nodes serve the event stream, a message sent through one node reaches a socket
on another through Redis pub/sub (see src/tradetalk/realtime/redis_broker.py): the sending node
publishes one frame per recipient on the recipient's channel, and the node holding that user's
socket receives it on its one pub/sub connection. This measures that hop alone, with the same
client library (redis-py asyncio) and the same shapes, between two processes as between two
nodes:

- a subscriber process holds ONE pub/sub connection subscribed to `--channels` user channels
  (`<prefix>:events:<user>`, as the app names them);
- this process publishes frames of `--payload-bytes` (about a `message.created` frame) at a fixed
  `--rate` per second for `--seconds`, spread over the channels, each stamped with
  CLOCK_MONOTONIC (one clock for every process on the machine);
- the subscriber times each frame from its publish call to its arrival.

Prints one JSON document: p50/p95/p99/max in milliseconds, the rate achieved, frames lost.

    python bench/redis_pubsub.py [--quick] [--rate 500] [--seconds 20] [--channels 1000]
                                 [--payload-bytes 600] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from harness import emit, machine, percentiles, progress, run

REDIS_URL = os.environ.get("TRADETALK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_RATE = 500  # messages/s, the delivery target's rate (design.md)
SUBSCRIBE_BATCH = 500  # channels per SUBSCRIBE, as the app's broker does


async def redis_cpu_seconds(client: Any) -> float:
    """user + system CPU of the Redis server so far (INFO cpu)."""
    cpu = await client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def channel(prefix: str, index: int) -> str:
    return f"{prefix}:events:user-{index}"


async def subscriber(options: argparse.Namespace) -> None:
    """Subscribe, say "ready" on stdout, time every frame until "done", print the figures."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    pubsub = client.pubsub()
    control = f"{options.prefix}:control"
    await pubsub.subscribe(control)
    for start in range(0, options.channels, SUBSCRIBE_BATCH):
        end = min(start + SUBSCRIBE_BATCH, options.channels)
        await pubsub.subscribe(*(channel(options.prefix, i) for i in range(start, end)))
    confirmed = 0
    while confirmed < options.channels + 1:  # every SUBSCRIBE answered: frames will arrive
        message = await pubsub.get_message(timeout=10)
        if message is None:
            raise SystemExit("Redis did not confirm the subscriptions")
        confirmed += message["type"] == "subscribe"
    print("ready", flush=True)
    latencies: list[float] = []
    seen: set[int] = set()
    try:
        while True:
            message = await pubsub.get_message(timeout=30)
            now = time.monotonic_ns()
            if message is None:
                break  # the publisher went away
            if message["type"] != "message":
                continue
            if message["channel"].decode() == control:
                break
            stamp, sequence, _ = message["data"].split(b" ", 2)
            latencies.append((now - int(stamp)) / 1e9)
            seen.add(int(sequence))
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()
    print(json.dumps({"received": len(latencies), "unique": len(seen), **percentiles(latencies)}))


async def publisher(options: argparse.Namespace) -> dict[str, Any]:
    """Start the subscriber, publish at the fixed rate, collect the subscriber's figures."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    info = await client.info("server")
    cpu_before = await redis_cpu_seconds(client)
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--role", "subscriber", "--prefix", options.prefix,
        "--channels", str(options.channels),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"subscriber did not start: {line!r}")
        count = int(options.rate * options.seconds)
        padding = "x" * max(0, options.payload_bytes - 40)
        progress(f"redis: publishing {count} frames at {options.rate:g}/s over {options.channels}")
        started = time.perf_counter()
        lag: list[float] = []  # how late each publish call started against its schedule
        for sequence in range(count):
            due = started + sequence / options.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag.append(-delay)
            data = f"{time.monotonic_ns()} {sequence} {padding}"
            await client.publish(channel(options.prefix, sequence % options.channels), data)
        elapsed = time.perf_counter() - started
        redis_cpu = await redis_cpu_seconds(client) - cpu_before
        await asyncio.sleep(0.5)  # let the last frames land before the end marker
        await client.publish(f"{options.prefix}:control", "done")
        out, _ = await asyncio.wait_for(child.communicate(), 60)
        figures = json.loads(out.decode().strip().splitlines()[-1])
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await client.aclose()
    received = figures.pop("received")
    unique = figures.pop("unique")
    return {
        "redis_version": info.get("redis_version"),
        "channels_subscribed": options.channels,
        "payload_bytes": options.payload_bytes,
        "target_rate_per_s": options.rate,
        "achieved_rate_per_s": round(count / elapsed, 1),
        "published": count,
        "received": received,
        "lost": count - unique,
        "publish_behind_schedule": len(lag),
        "publish_to_receive": figures,
        # The whole redis-server's CPU over the publishing (anyone else using it counts too).
        "redis_server_cpu_ms_per_1000_frames": round(redis_cpu / count * 1e6, 2),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=float(TARGET_RATE), help="frames per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--channels", type=int, default=1000, help="user channels subscribed")
    parser.add_argument("--payload-bytes", type=int, default=600)
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke run only")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--role", choices=["publisher", "subscriber"], default="publisher")
    parser.add_argument("--prefix", default=f"tt-bench-{uuid.uuid4().hex[:8]}")
    options = parser.parse_args()
    if options.quick:
        options.seconds, options.channels = 2.0, 50
    return options


async def main(options: argparse.Namespace) -> dict[str, Any]:
    return {
        "benchmark": "redis_pubsub",
        "quick": options.quick,
        "what": "Redis publish -> subscriber receive, between two processes, redis-py asyncio",
        "machine": machine(),
        "redis_url": REDIS_URL,
        **(await publisher(options)),
    }


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.role == "subscriber":
        run(subscriber(arguments))
    else:
        emit(run(main(arguments)), arguments.out)
