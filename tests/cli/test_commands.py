"""The command line as an operator uses it: real processes on loopback, stopped by the test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.fixtures.processes import free_port

TRADETALK = [sys.executable, "-m", "tradetalk.cli"]


@contextmanager
def running(
    args: list[str], env: dict[str, str], cwd: Path, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*TRADETALK, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise AssertionError(f"exited early:\n{log.read_text()}")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise AssertionError(f"never became ready:\n{log.read_text()}")
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env["TRADETALK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.db'}"
    return env


def test_serve_migrates_a_fresh_database_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = base_env(tmp_path) | {
        "TRADETALK_SECRET_KEY": "s" * 40,
        "TRADETALK_SERVER_API_KEY": "operator-key",
    }
    with running(["serve", "--port", str(port)], env, tmp_path, port, tmp_path / "log"):
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": "Bearer operator-key"}
        response = httpx.put(f"{base}/v1/users/u1", json={"display_name": "U"}, headers=headers)
        assert response.status_code == 201
    assert (tmp_path / "fresh.db").exists()


def test_serve_refuses_to_start_without_keys(tmp_path: Path) -> None:
    result = subprocess.run(
        [*TRADETALK, "serve"], env=base_env(tmp_path), cwd=tmp_path, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert b"TRADETALK_SECRET_KEY" in result.stderr


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    for _ in range(2):
        result = subprocess.run(
            [*TRADETALK, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh.db").stat().st_size > 0


def test_demo_seeds_a_marketplace_and_prints_working_tokens(tmp_path: Path) -> None:
    port = free_port()
    env = base_env(tmp_path)
    log = tmp_path / "log"
    with running(["demo", "--port", str(port)], env, tmp_path, port, log):
        output = log.read_text()
        match = re.search(r"buyer-dan\s+.+?\s(ey[\w.-]+)", output)
        assert match, output
        headers = {"Authorization": f"Bearer {match.group(1)}"}
        inbox = httpx.get(f"http://127.0.0.1:{port}/v1/conversations", headers=headers).json()
        titles = {item["transaction"]["title"] for item in inbox["items"]}
        assert "1921 Morgan silver dollar, MS-63" in titles
        assert all(item["last_message"] for item in inbox["items"])
    assert (tmp_path / "var" / "demo.db").exists()


def test_scan_text_and_jsonl(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    one = subprocess.run(
        [*TRADETALK, "scan", "whatsapp me on plus one four one five 555 0199"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    result = json.loads(one.stdout)
    assert result["contact"] is True
    assert {f["kind"] for f in result["findings"]} >= {"phone"}
    source = tmp_path / "in.jsonl"
    lines = [
        {"id": "a", "text": "Shipped UPS 1Z999AA10123456784, $45.00"},
        {"id": "b", "text": "0199", "history": ["my cell is 415", "555"]},
        {"id": "c", "text": "john at gmail dot com"},
    ]
    source.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    many = subprocess.run(
        [*TRADETALK, "scan", "--jsonl", str(source)],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    out = [json.loads(line) for line in many.stdout.decode().splitlines()]
    assert [(o.get("id"), o.get("contact")) for o in out[:3]] == [
        ("a", False),
        ("b", True),
        ("c", True),
    ]
    assert "error" in out[3]
    assert b"scanned 4" in many.stderr
