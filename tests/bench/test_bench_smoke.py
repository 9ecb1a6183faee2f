"""The benchmarks still run: each script in --quick mode on each database, JSON shape only.

No figure is asserted (tests never assert a time); only that every measurement is there and
that the sends the benchmark counted were all accepted and stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import tradetalk
from tests.conftest import IN_CI, require_service

BENCH = Path(__file__).resolve().parents[2] / "bench"
DATABASES = ["sqlite", "postgresql"]


def run_quick(script: str, database: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    if database == "postgresql":
        require_service("PostgreSQL", "127.0.0.1", 5432)
    out = tmp_path / "result.json"
    package_root = str(Path(tradetalk.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH / script),
            "--quick",
            "--databases",
            database,
            "--out",
            out,
            *extra,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    document: dict[str, Any] = json.loads(result.stdout)
    assert json.loads(out.read_text()) == document
    assert document["quick"] is True
    assert "machine" in document
    return document


def has_percentiles(figures: dict[str, Any]) -> bool:
    return {"p50_ms", "p95_ms", "p99_ms"} <= figures.keys()


def require_wrk() -> None:
    """Skip (or, under CI, fail) when wrk, the send benchmark's load generator, is missing."""
    if shutil.which("wrk") is None:
        reason = "wrk is not installed (Debian package wrk)"
        if IN_CI:
            pytest.fail(f"{reason}; CI runs every tier")
        pytest.skip(reason)


@pytest.mark.parametrize("load", ["wrk", "httpx"])
@pytest.mark.parametrize("database", DATABASES)
def test_send_benchmark_reports_sends_beside_raw_commits(
    database: str, load: str, tmp_path: Path
) -> None:
    if load == "wrk":
        require_wrk()
    document = run_quick("send.py", database, tmp_path, "--load", load)
    assert document["load_generator"] == load
    result = document[database]
    assert result["concurrency"], "no concurrency level measured"
    for level in result["concurrency"].values():
        send, raw = level["send"], level["raw_commit"]
        assert send["messages"] > 0 and raw["per_second"] > 0
        assert raw["before"]["per_second"] > 0 and raw["after"]["per_second"] > 0
        assert send["errors"] == {}
        assert has_percentiles(send["latency"])
        assert {"per_second", "server_cpu_ms_per_message"} <= send.keys()
        assert "per_second" in raw
        assert level["ratio"] is not None
    # Every acknowledged send is stored (warm-up sends may add more).
    assert result["stored"]["messages"] >= result["stored"]["acknowledged_in_measurements"]


def test_send_benchmark_measures_one_and_two_server_processes_side_by_side(
    tmp_path: Path,
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    require_wrk()
    document = run_quick("send.py", "postgresql", tmp_path, "--server-workers", "1,2")
    result = document["postgresql"]
    assert result["setup"]["server_processes"] == [1, 2]
    for level in result["concurrency"].values():
        by_count = level["server_processes"]
        assert by_count.keys() == {"1", "2"}
        assert level["send"] == by_count["1"]["send"]
        for each in by_count.values():
            assert each["send"]["messages"] > 0 and each["send"]["errors"] == {}
            assert each["send"]["server_cpu_ms_per_message"] > 0
            assert each["ratio"] is not None
    assert result["stored"]["messages"] >= result["stored"]["acknowledged_in_measurements"]


@pytest.mark.parametrize("database", DATABASES)
def test_inbox_benchmark_reports_every_page_at_every_size(database: str, tmp_path: Path) -> None:
    document = run_quick("inbox.py", database, tmp_path)
    result = document[database]
    pages = {"inbox_first", "inbox_deep", "history_first", "history_deep"}
    assert len(result["sizes"]) == 2
    for size, figures in result["sizes"].items():
        assert figures["messages"] == int(size)
        assert figures["pages"].keys() == pages
        for page in figures["pages"].values():
            assert has_percentiles(page)
            assert page["items"] > 0
    assert result["p95_growth"].keys() == pages
    assert isinstance(result["meets_target"], bool)
    # The two sizes again, side by side in alternating rounds.
    paired = result["paired"]
    assert paired["sizes"].keys() == result["sizes"].keys()
    for figures in paired["sizes"].values():
        assert figures.keys() == pages
        for page in figures.values():
            assert has_percentiles(page)
            assert page["requests"] == paired["rounds"] * paired["requests_per_page_per_round"]
    assert {name: len(r) for name, r in paired["p95_growth_per_round"].items()} == dict.fromkeys(
        pages, paired["rounds"]
    )
    assert isinstance(paired["meets_target"], bool)


def test_redis_pubsub_benchmark_reports_its_percentiles(tmp_path: Path) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    result = subprocess.run(
        [sys.executable, str(BENCH / "redis_pubsub.py"), "--quick"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    document = json.loads(result.stdout)
    assert document["quick"] is True
    assert document["received"] == document["published"] > 0
    assert document["lost"] == 0
    assert has_percentiles(document["publish_to_receive"])


def test_realtime_benchmark_joins_a_second_processs_sends_with_their_deliveries(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "realtime.py"), "--rate", "10", "--sockets", "20",
         "--seconds", "2"],
        cwd=tmp_path,
        capture_output=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    document = json.loads(result.stdout)
    assert isinstance(document["sender"], dict)  # the sends came from bench/sender.py
    assert document["send_errors"] == 0
    assert document["delivered"] == document["messages"] == 20
    assert {"p50", "p95", "p99", "max"} <= document["send_to_receive_ms"].keys()
    assert 0 < document["send_to_receive_ms"]["p50"] < 10_000
    # Where the cores went: the server, this process (the sockets' reader) and the sender.
    assert document["server_cpu_ms_per_message"] > 0
    assert document["this_process_cpu_ms_per_message"] > 0
    assert document["cores_busy"] > 0


def test_run_all_lists_every_benchmark_with_its_quick_command() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--list", "--quick"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert {
        "send",
        "inbox",
        "realtime_fanout",
        "realtime_send_path",
        "realtime_send_path_500",
        "redis_pubsub",
        "twonode",
        "synapse",
    } <= set(names)


def test_run_all_measures_the_compiled_shield_only_when_asked_and_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run_all", BENCH / "run_all.py")
    assert spec is not None and spec.loader is not None
    run_all = importlib.util.module_from_spec(spec)
    sys.modules["bench_run_all"] = run_all  # (dataclasses look their module up by name)
    try:
        spec.loader.exec_module(run_all)
        scan = next(b for b in run_all.BENCHMARKS if b.name == "scan")
        send = next(b for b in run_all.BENCHMARKS if b.name == "send")
        build = tmp_path / "build" / "shield-compiled"
        monkeypatch.setattr(run_all, "ROOT", tmp_path)
        monkeypatch.setattr(run_all, "COMPILED_SHIELD", build)
        monkeypatch.setenv("TRADETALK_BENCH_COMPILED_SHIELD", "1")

        def first_path(benchmark: Any) -> str:
            return str(run_all.child_env(benchmark)["PYTHONPATH"].split(os.pathsep)[0])

        assert first_path(scan) == str(tmp_path / "src")  # asked for, not built
        (build / "tradetalk").mkdir(parents=True)
        assert first_path(scan) == str(build)
        assert scan.shown(False).startswith("PYTHONPATH=build/shield-compiled python bench/scan.py")
        assert first_path(send) == str(tmp_path / "src")  # only the shield's benchmark
        monkeypatch.delenv("TRADETALK_BENCH_COMPILED_SHIELD")
        assert first_path(scan) == str(tmp_path / "src")  # built, not asked for
        assert scan.shown(False).startswith("python bench/scan.py")
    finally:
        del sys.modules["bench_run_all"]


@pytest.mark.parametrize("database", DATABASES)
def test_send_ab_benchmark_pairs_two_versions_window_by_window(
    database: str, tmp_path: Path
) -> None:
    # Both "versions" are this checkout here: only the shape of the comparison is checked.
    require_wrk()
    package_root = Path(tradetalk.__file__).resolve().parents[1]
    document = run_quick("send_ab.py", database, tmp_path, "--old", str(package_root))
    assert document["load_generator"] == "wrk"
    summary = document[database]["summary"]
    assert summary.keys() == document[database]["windows"].keys()
    for level in summary.values():
        assert level.keys() == {"old", "new"}
        assert len(level["old"]["sends_per_second"]) == len(level["new"]["sends_per_second"]) == 2
        assert level["old"]["errors"] == level["new"]["errors"] == 0
        assert level["new"]["rate_vs_old_paired_median"] > 0
        assert level["new"]["cpu_vs_old_paired_median"] > 0
        # The database's own CPU per send, on PostgreSQL (SQLite's is the server's).
        database_cpu = "postgresql_cpu_vs_old_paired_median" in level["new"]
        assert database_cpu == (database == "postgresql")
        if database_cpu:
            assert level["old"]["postgresql_cpu_ms_per_send_median"] > 0


async def test_wrk_sends_synapse_the_same_load_as_matrix_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench/synapse.py's wrk load, against a stand-in server that records each request: PUTs
    of m.text events to the seeded rooms, as one of their members, each with its own txn id."""
    require_wrk()
    monkeypatch.syspath_prepend(str(BENCH))
    import wrk_load

    rooms = [("!abc:bench.local", "token-a1", "token-a2"), ("!xyz:bench.local", "token-b1", "b2")]
    seen: list[tuple[str, str, str, bytes]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ")
                headers = dict(line.split(": ", 1) for line in head[1:] if line)
                body = await reader.readexactly(int(headers.get("Content-Length", "0")))
                seen.append((method, path, headers.get("Authorization", ""), body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        script = wrk_load.write_matrix_script(tmp_path, rooms, body_prefix="Hi #", seed=1)
        result = await wrk_load.closed_loop_wrk(
            f"http://127.0.0.1:{port}", script, concurrency=2, duration=1, ok=200,
            server_cpu=lambda: 0.0,
        )  # fmt: skip
    finally:
        server.close()
        await server.wait_closed()
    assert result["errors"] == {} and result["messages"] > 0
    tokens = {f"Bearer {token}" for _, *pair in rooms for token in pair}
    prefixes = {
        f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/": room
        for room, *_ in rooms
    }
    txn_ids = set()
    for method, path, authorization, body in seen:
        assert method == "PUT" and authorization in tokens
        prefix = next(p for p in prefixes if path.startswith(p))
        txn_ids.add(path[len(prefix) :])
        event = json.loads(body)
        assert event["msgtype"] == "m.text" and event["body"].startswith("Hi #")
    assert len(txn_ids) == len(seen)  # a fresh transaction id for every send


def test_send_profile_leaves_waiting_samples_out_and_names_where_sqlalchemy_is_entered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bench/profile_send.py's reading of py-spy's raw samples (the profiling run itself needs
    ptrace and wrk, so only the reading is checked here)."""
    monkeypatch.syspath_prepend(str(BENCH))
    import profile_send

    site = "/venv/lib/python3.11/site-packages"
    route = "DirectRoute.handle (/src/tradetalk/kit/direct_route.py:40)"
    raw = "\n".join(
        [
            f"{route};do_send (/src/tradetalk/conversations/service.py:300);write (libc.so.6) 60",
            f"{route};_pooled (/src/tradetalk/kit/rawsql.py:204);"
            f"AsyncSession.connection ({site}/sqlalchemy/ext/asyncio/session.py:930);"
            f"greenlet_spawn ({site}/sqlalchemy/util/_concurrency_py3k.py:190) 10",
            f"{route};do_send (/src/tradetalk/conversations/service.py:300);"
            f"model_validate ({site}/pydantic/main.py:600) 20",
            f"{route};do_send (/src/tradetalk/conversations/service.py:310) 10",
            "",
        ]
    )
    profile = profile_send.summarise(raw, ["do_send", "_pooled", "absent"])
    assert profile["samples"] == 100
    assert profile["waiting_share"] == 0.6
    # The 40 samples not waiting: SQLAlchemy 10, pydantic 20, tradetalk's conversations 10.
    assert profile["by_package"] == {
        "pydantic": 0.5,
        "sqlalchemy": 0.25,
        "tradetalk/conversations": 0.25,
    }
    assert profile["sqlalchemy_and_greenlet_share"] == 0.25
    assert profile["entered_from"] == {"_pooled -> AsyncSession.connection": 0.25}
    assert profile["functions"] == {"do_send": 0.75, "_pooled": 0.25, "absent": 0.0}


def test_send_callgrind_workload_sends_and_stores_every_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """bench/send_callgrind.py's counted workload, run without valgrind on SQLite: it seeds
    through the API, and every send it counts is accepted and stored."""
    import sqlite3

    from tradetalk import migrate

    monkeypatch.syspath_prepend(str(BENCH))
    import send_callgrind

    url = f"sqlite:///{tmp_path / 'callgrind.db'}"
    migrate.upgrade(url)
    send_callgrind._workload(url, 6, 2)
    with sqlite3.connect(tmp_path / "callgrind.db") as db:
        stored = db.execute("SELECT count(*) FROM messages WHERE kind = 'text'").fetchone()[0]
        senders = {row[0] for row in db.execute("SELECT DISTINCT sender_role FROM messages")}
    assert stored == send_callgrind.WARM_UP_SENDS + 6
    assert {"buyer", "seller"} <= senders
