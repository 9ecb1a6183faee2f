"""Where a send's CPU goes in the server: py-spy on `tradetalk serve` under wrk's send load.

Not a speed benchmark (py-spy's sampling slows the server): a profile to read before optimising.
A server on a fresh database is seeded with conversations (as bench/send.py does), warmed up,
and then driven by wrk at `--concurrency` while `py-spy record --native` samples it for
`--seconds`. Prints one JSON document:

- `waiting_share`: samples whose innermost frame is the C library's `write` or `epoll_wait`.
  On a loopback socket `write` wakes PostgreSQL or the client, which then often takes the core,
  and the server's thread is sampled as busy inside `write` while it waits for it. The server's
  own CPU time (from /proc) shows how little of it is system time; these samples are left out
  of every share below.
- `by_package`: the share of the rest by the package (or tradetalk's subpackage) of the
  innermost frame: SQLAlchemy, FastAPI, asyncpg, pydantic, the interpreter itself...
- `entered_from`: for SQLAlchemy and greenlet, the tradetalk function that called into them
  and where they were entered (`_pooled -> AsyncSession.connection`).
- `functions`: inclusive shares of the functions named by `--functions`.

    PYTHONPATH=src python bench/profile_send.py [--database postgresql] [--seconds 15]
        [--concurrency 16] [--functions do_send,_commit] [--raw FILE] [--out FILE]

Needs py-spy (`pip install py-spy`; the bench extras have it) and wrk (installed with apt-get
when missing). py-spy attaches to a process: run as root, or with ptrace allowed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from harness import (
    Server,
    emit,
    ensure_debian_package,
    fresh_database,
    machine,
    parse_databases,
    progress,
    run,
    workdir,
)
from send import drive_sends, seed
from wrk_load import find_wrk

_WAITING_LEAVES = ("write (libc", "epoll_wait (libc", "epoll_pwait (libc")
_LOCATION = re.compile(r"\s*\((.*?)(?::\d+)?\)$")
_SITE_PACKAGES = re.compile(r"^.*/site-packages/")
_ENTERED = ("sqlalchemy/", "greenlet")


def _location(frame: str) -> str:
    """The file (or shared library) of a py-spy frame `name (file:line)`."""
    match = _LOCATION.search(frame)
    return _SITE_PACKAGES.sub("", match.group(1)) if match else frame


def _name(frame: str) -> str:
    return _LOCATION.sub("", frame)


def _package(location: str) -> str:
    if "/tradetalk/" in location or location.startswith("tradetalk/"):
        parts = location[location.index("tradetalk/") :].split("/")
        return "/".join(parts[:2])
    return location.split("/")[0] if "/" in location else location


def summarise(raw: str, functions: list[str]) -> dict[str, Any]:
    """Shares of py-spy's raw (collapsed) samples, as the module doc describes."""
    total = waiting = 0
    packages: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        if frames[-1].startswith(_WAITING_LEAVES):
            waiting += samples
            continue
        packages[_package(_location(frames[-1]))] += samples
        names = {_name(frame) for frame in frames}
        for function in functions:
            if function in names:
                inclusive[function] += samples
        first = next((i for i, f in enumerate(frames) if any(e in f for e in _ENTERED)), None)
        if first is not None:
            callers = [f for f in frames[:first] if "tradetalk/" in _location(f)]
            caller = _name(callers[-1]) if callers else "(a greenlet's own stack)"
            entered[f"{caller} -> {_name(frames[first])}"] += samples
    busy = total - waiting

    def share(n: int) -> float:
        return round(n / busy, 4) if busy else 0.0

    return {
        "samples": total,
        "waiting_share": round(waiting / total, 4) if total else 0.0,
        "by_package": {name: share(n) for name, n in packages.most_common(25)},
        "sqlalchemy_and_greenlet_share": share(
            sum(n for name, n in packages.items() if name.startswith(("sqlalchemy", "greenlet")))
        ),
        "entered_from": {name: share(n) for name, n in entered.most_common(15)},
        "functions": {name: share(inclusive[name]) for name in functions},
    }


async def profile(
    options: argparse.Namespace, folder: Path, py_spy: str, raw_file: Path
) -> dict[str, Any]:
    """Seed, warm up, then drive the server with wrk while py-spy samples it into `raw_file`;
    returns wrk's figures."""
    async with fresh_database(options.database, folder) as url, Server(url, folder) as server:
        progress(f"{options.database}: seeding {options.conversations} conversations")
        threads = await seed(server, options.conversations)
        await drive_sends(
            server, threads, concurrency=options.concurrency, duration=3, client_ids=True,
            seed_value=0, load="wrk",
        )  # fmt: skip
        assert server.process is not None
        progress(f"sampling the server for {options.seconds:g} s under wrk's load")
        spy = await asyncio.create_subprocess_exec(
            py_spy, "record", "--native", "--rate", str(options.rate),
            "--duration", str(round(options.seconds)), "--format", "raw",
            "--output", str(raw_file), "--pid", str(server.process.pid),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        load = await drive_sends(
            server, threads, concurrency=options.concurrency, duration=options.seconds,
            client_ids=True, seed_value=1, load="wrk",
        )  # fmt: skip
        spy_errors = (await spy.communicate())[1].decode()
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed ({spy.returncode}): {spy_errors[-2000:]}")
    return {
        key: load.get(key)
        for key in ("messages", "per_second", "server_cpu_ms_per_message", "errors")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", type=parse_databases, default="postgresql")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument(
        "--functions",
        type=lambda v: [f for f in v.split(",") if f],
        default="DirectRoute.handle,do_send,lock_with_caller,Detector.scan,UnitOfWork._commit",
        help="functions whose inclusive share to report (py-spy's names, comma-separated)",
    )
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw samples in this file")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    options = parser.parse_args()
    if len(options.database) != 1:
        raise SystemExit("profile one database at a time")
    options.database = options.database[0]
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is missing: pip install py-spy")
    ensure_debian_package("wrk", find_wrk, needed_by="profile_send.py")
    with workdir() as folder:
        raw_file = options.raw or folder / "py-spy.txt"
        started = machine()
        load = run(profile(options, folder, py_spy, raw_file))
        if not raw_file.exists():
            raise SystemExit("py-spy wrote no samples")
        samples = summarise(raw_file.read_text(), options.functions)
    emit(
        {
            "benchmark": "profile_send",
            "database": options.database,
            "concurrency": options.concurrency,
            "seconds": options.seconds,
            "machine": started,
            "load": load,
            "profile": samples,
            "raw": str(raw_file) if options.raw else None,
        },
        options.out,
    )


if __name__ == "__main__":
    main()
