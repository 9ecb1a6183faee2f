"""Instructions per send in the app, counted by callgrind: the steady witness for a change of a
few percent to the send path.

Wall-clock A/B windows (`send_ab.py`) swing by a quarter from one window to the next on a busy
shared machine; an instruction count does not. The app runs in process (httpx over ASGI, as the
tests call it), on a fresh, migrated database, seeded through the API with `--conversations`
conversations. After a warm-up, `--sends` sends (a `client_message_id` each, buyer and seller in
turn, one at a time) are counted and nothing else: valgrind's `--toggle-collect` on
`functools.reduce`, which runs the loop of sends (tradetalk itself calls no `reduce`). The
count includes httpx's side of each request (the same for any two versions) and not the
database's own work, which is another process (PostgreSQL) or inside the count (SQLite).

    PYTHONPATH=src python bench/send_callgrind.py [--old /path/to/old/src]
        [--databases postgresql,sqlite] [--sends 200] [--conversations 20] [--out FILE]

`--old` counts another version too (`git archive <commit> src | tar -x`), old and new in turn
on databases of their own. Needs valgrind. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from harness import SECRET_KEY, SERVER_KEY, emit, fresh_database, machine, parse_databases, run

CHILD = "TRADETALK_SEND_CALLGRIND_CHILD"
BODY = "Hi! Is the 1921 Morgan dollar still available, and can you ship it tomorrow? #{n}"
WARM_UP_SENDS = 40


def _workload(url: str, sends: int, conversations: int) -> None:
    """The counted run (in the child, under valgrind): seed, warm up, then the sends inside
    `functools.reduce`, the only code collected."""
    import httpx

    from tradetalk.app import create_app
    from tradetalk.config import Settings
    from tradetalk.kit.server import tune_garbage_collector

    settings = Settings(
        database_url=url,
        server_api_key=SERVER_KEY,
        secret_key=SECRET_KEY,
        worker_embedded=False,
        rate_limits=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    stack = AsyncExitStack()
    loop = asyncio.new_event_loop()

    async def setup() -> tuple[httpx.AsyncClient, list[tuple[int, str, str]]]:
        await stack.enter_async_context(app.router.lifespan_context(app))
        api = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {SERVER_KEY}"},
            )
        )
        threads = []
        for index in range(conversations):
            tokens = []
            for user in (f"buyer-{index}", f"seller-{index}"):
                body = {"display_name": user.title(), "email": f"{user}@example.com"}
                (await api.put(f"/v1/users/{user}", json=body)).raise_for_status()
                issued = await api.post(f"/v1/users/{user}/tokens", json={"ttl_seconds": 86400})
                tokens.append(issued.raise_for_status().json()["token"])
            deal = {
                "buyer_id": f"buyer-{index}",
                "seller_id": f"seller-{index}",
                "title": f"Item {index}",
                "status": "paid",
                "amount_minor": 12500,
                "currency": "USD",
            }
            (await api.put(f"/v1/transactions/txn-{index}", json=deal)).raise_for_status()
            opened = await api.get(
                f"/v1/transactions/txn-{index}/conversation",
                headers={"Authorization": f"Bearer {tokens[0]}"},
            )
            threads.append((opened.raise_for_status().json()["id"], tokens[0], tokens[1]))
        return api, threads

    async def send_all(api: httpx.AsyncClient, threads: list[tuple[int, str, str]], n: int) -> None:
        for i in range(n):
            conversation_id, buyer, seller = threads[i % len(threads)]
            token = buyer if (i // len(threads)) % 2 == 0 else seller
            response = await api.post(
                f"/v1/conversations/{conversation_id}/messages",
                json={"body": BODY.format(n=i), "client_message_id": uuid.uuid4().hex},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code != 201:
                raise SystemExit(f"send failed: {response.status_code} {response.text}")

    api, threads = loop.run_until_complete(setup())
    # The collector as `tradetalk serve` sets it up (kit/server.py): without it a full
    # collection of the whole heap lands in the counted loop or not by chance, and moves the
    # count by several percent.
    tune_garbage_collector()
    loop.run_until_complete(send_all(api, threads, WARM_UP_SENDS))
    functools.reduce(lambda _, __: loop.run_until_complete(send_all(api, threads, sends)), [0], 0)
    loop.run_until_complete(stack.aclose())
    loop.close()


def _total(out_file: Path) -> int:
    annotated = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(out_file)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in annotated.splitlines():
        if "PROGRAM TOTALS" in line:
            return int(line.split()[0].replace(",", ""))
    return 0


async def measure(kind: str, src: Path, sends: int, conversations: int) -> dict[str, Any]:
    """Instructions per send of the tradetalk in `src`, on a fresh database of this kind."""
    from tradetalk import migrate

    with tempfile.TemporaryDirectory() as folder:
        async with fresh_database(kind, Path(folder), prefix="tradetalk_callgrind") as url:
            await migrate.upgrade_async(url)
            out_file = Path(folder) / "callgrind.out"
            env = os.environ | {
                CHILD: url,
                "PYTHONPATH": os.pathsep.join([str(src), str(Path(__file__).parent)]),
                "PYTHONHASHSEED": "0",
            }
            process = await asyncio.create_subprocess_exec(
                "valgrind", "--tool=callgrind", "--collect-atstart=no",
                "--toggle-collect=functools_reduce", f"--callgrind-out-file={out_file}",
                sys.executable, __file__, "--sends", str(sends),
                "--conversations", str(conversations),
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            _, stderr = await process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"the counted run failed:\n{stderr.decode()[-3000:]}")
            total = _total(out_file)
    if total == 0:
        raise SystemExit("nothing was counted inside functools.reduce")
    return {"instructions_per_send": round(total / sends), "sends": sends}


async def main(options: argparse.Namespace, versions: dict[str, Path]) -> dict[str, Any]:
    """Count each version (name -> src folder) on each database, old and new in turn."""
    results: dict[str, Any] = {}
    for kind in options.databases:
        counts = {
            name: await measure(kind, src, options.sends, options.conversations)
            for name, src in sorted(versions.items(), reverse=True)  # old first, if given
        }
        if "old" in counts:
            counts["new_vs_old"] = round(
                counts["new"]["instructions_per_send"] / counts["old"]["instructions_per_send"], 3
            )
        results[kind] = counts
    return {
        "benchmark": "send_callgrind",
        "machine": machine(),
        "versions": {name: str(src) for name, src in versions.items()},
        "conversations": options.conversations,
        "results": results,
    }


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="src folder of another version to count too")
    parser.add_argument("--databases", type=parse_databases, default="postgresql")
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--out", type=Path)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if url := os.environ.get(CHILD):
        _workload(url, arguments.sends, arguments.conversations)
    else:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is not installed (apt-get install valgrind)")
        import tradetalk

        versions = {"new": Path(tradetalk.__file__).resolve().parents[1]}
        if arguments.old:
            versions["old"] = arguments.old.resolve()
        emit(run(main(arguments, versions)), arguments.out)
