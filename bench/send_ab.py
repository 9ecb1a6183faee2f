"""Two versions of tradetalk side by side, in alternating windows of the same load (A/B/A/B...).

On a machine shared with other jobs, the send rate of one version varies two- or threefold
from one run to the next, which hides a change of 10 or 20%. This runs both versions at once,
each a real `tradetalk serve` on a fresh database of its own, and drives them in turns of a few
seconds each, so that both see the same moments of the machine; each window gives sends/s, the
server's CPU per send and, on PostgreSQL, the database's (every PostgreSQL process of the
machine: only one version is under load at a time), and the summary compares the medians of
the paired windows.

    PYTHONPATH=src python bench/send_ab.py --old /path/to/old/src [--databases postgresql]
        [--concurrency 16,64] [--rounds 5] [--window 8] [--conversations 300]
        [--server-workers 1,2] [--load wrk|httpx] [--out FILE]

`--old` is the `src` folder of the other version (e.g. `git archive <commit> src | tar -x`);
the new version is the tradetalk this script imports. With `--server-workers 1,2` the new
version also runs as `serve --workers 2` (PostgreSQL and Redis), in the same rotation.
"""

from __future__ import annotations

import argparse
import statistics
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from harness import (
    Server,
    emit,
    ensure_debian_package,
    fresh_database,
    machine,
    parse_databases,
    postgresql_cpu_seconds,
    progress,
    run,
    workdir,
)
from send import REDIS_URL, Thread, drive_sends, seed
from wrk_load import find_wrk


def old_server(url: str, folder: Path, old_src: Path) -> Server:
    """A one-process server running the other version's code."""
    server = Server(url, folder)
    server.env["PYTHONPATH"] = str(old_src)
    return server


async def bench_database(kind: str, options: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Every window of every version at every concurrency, on two fresh databases."""
    versions: dict[str, Server] = {}
    threads: dict[str, list[Thread]] = {}
    async with AsyncExitStack() as stack:
        old_url = await stack.enter_async_context(fresh_database(kind, folder, prefix="ab_old"))
        new_url = await stack.enter_async_context(fresh_database(kind, folder, prefix="ab_new"))
        versions["old"] = await stack.enter_async_context(old_server(old_url, folder, options.old))
        versions["new"] = await stack.enter_async_context(Server(new_url, folder))
        if kind == "postgresql":
            for n in options.server_workers:
                if n > 1:
                    versions[f"new_{n}_processes"] = await stack.enter_async_context(
                        Server(
                            new_url, folder, workers=n, redis_url=REDIS_URL,
                            redis_prefix=f"bench-{uuid.uuid4().hex[:8]}",
                        )
                    )  # fmt: skip
        for name, server in versions.items():
            if name in ("old", "new"):
                progress(f"{kind}: seeding {options.conversations} conversations for {name}")
                threads[name] = await seed(server, options.conversations)
        threads.update({name: threads["new"] for name in versions if name.startswith("new_")})
        windows: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for concurrency in options.concurrency:
            level = windows.setdefault(str(concurrency), {name: [] for name in versions})
            for name, server in versions.items():  # warm-up, not counted
                await drive_sends(
                    server, threads[name], concurrency=concurrency, duration=options.warmup,
                    client_ids=True, seed_value=0, load=options.load,
                )  # fmt: skip
            for round_ in range(options.rounds):
                # Alternate which version goes first, so neither always follows the other.
                order = list(versions) if round_ % 2 == 0 else list(reversed(versions))
                for name in order:
                    progress(f"{kind}: c{concurrency} round {round_ + 1} {name}")
                    database_before = postgresql_cpu_seconds()
                    window = await drive_sends(
                        versions[name], threads[name], concurrency=concurrency,
                        duration=options.window, client_ids=True,
                        seed_value=round_ * 1000 + concurrency, load=options.load,
                    )  # fmt: skip
                    if kind == "postgresql" and window["messages"]:
                        window["postgresql_cpu_ms_per_message"] = round(
                            (postgresql_cpu_seconds() - database_before)
                            / window["messages"] * 1000,
                            3,
                        )  # fmt: skip
                    level[name].append(window)
    return {"windows": windows, "summary": summarise(windows)}


def summarise(windows: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Medians per version, and the median of the paired ratios new/old per window."""
    summary: dict[str, Any] = {}
    for concurrency, level in windows.items():
        old = level["old"]
        figures: dict[str, Any] = {}
        for name, runs in level.items():
            rates = [w["per_second"] for w in runs]
            cpu = [w["server_cpu_ms_per_message"] for w in runs if w["server_cpu_ms_per_message"]]
            figures[name] = {
                "sends_per_second_median": round(statistics.median(rates), 1),
                "sends_per_second": rates,
                "server_cpu_ms_per_send_median": round(statistics.median(cpu), 2),
                "p50_ms_median": round(statistics.median(w["latency"]["p50_ms"] for w in runs), 1),
                "p99_ms_median": round(statistics.median(w["latency"]["p99_ms"] for w in runs), 1),
                "errors": sum(sum(w["errors"].values()) for w in runs),
            }
            database = [w["postgresql_cpu_ms_per_message"] for w in runs if _database_cpu(w)]
            if database:
                figures[name]["postgresql_cpu_ms_per_send_median"] = round(
                    statistics.median(database), 2
                )
            if name != "old":
                figures[name]["rate_vs_old_paired_median"] = round(
                    statistics.median(
                        w["per_second"] / o["per_second"] for w, o in zip(runs, old, strict=True)
                    ),
                    3,
                )
                figures[name]["cpu_vs_old_paired_median"] = round(
                    statistics.median(
                        w["server_cpu_ms_per_message"] / o["server_cpu_ms_per_message"]
                        for w, o in zip(runs, old, strict=True)
                    ),
                    3,
                )
                pairs = [(w, o) for w, o in zip(runs, old, strict=True) if _database_cpu(w, o)]
                if pairs:
                    figures[name]["postgresql_cpu_vs_old_paired_median"] = round(
                        statistics.median(
                            w["postgresql_cpu_ms_per_message"] / o["postgresql_cpu_ms_per_message"]
                            for w, o in pairs
                        ),
                        3,
                    )
        summary[concurrency] = figures
    return summary


def _database_cpu(*windows: dict[str, Any]) -> bool:
    return all(w.get("postgresql_cpu_ms_per_message") for w in windows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--old", type=Path, required=True, help="src folder of the old version")
    parser.add_argument("--databases", type=parse_databases, default="postgresql")
    parser.add_argument(
        "--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[16, 64]
    )
    parser.add_argument(
        "--server-workers", type=lambda v: [int(x) for x in v.split(",")], default=[1]
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=8.0, help="seconds per window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument(
        "--load",
        choices=["wrk", "httpx"],
        default="wrk",
        help="load generator, as for send.py (wrk is installed with apt-get when missing)",
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds: smoke run only")
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()
    if options.quick:
        options.rounds, options.window, options.warmup, options.conversations = 2, 0.5, 0.2, 6
        options.concurrency = [4]
    return options


async def main(options: argparse.Namespace) -> dict[str, Any]:
    document: dict[str, Any] = {
        "benchmark": "send_ab",
        "quick": options.quick,
        "old": str(options.old),
        "machine": machine(),
        "window_seconds": options.window,
        "rounds": options.rounds,
        "load_generator": options.load,
    }
    if options.load == "wrk":
        ensure_debian_package("wrk", find_wrk, needed_by="send_ab.py --load wrk")
    with workdir() as folder:
        for kind in options.databases:
            document[kind] = await bench_database(kind, options, folder)
    return document


if __name__ == "__main__":
    arguments = parse_args()
    emit(run(main(arguments)), arguments.out)
