"""`tradetalk serve` as an operator runs it: its own process on a free loopback port.

The process (and anything it starts) is stopped when the `with` block ends, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

import tradetalk
from tests.fixtures.processes import free_port

SERVER_KEY = "served-server-key-5f0c2a"
SECRET_KEY = "served-secret-key-that-is-long-enough-for-hs256-9d1e"


@dataclass
class Served:
    """A running server: where it listens and where its output goes."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def served(folder: Path, **settings: str) -> Iterator[Served]:
    """Serve a fresh SQLite database with these TRADETALK_* settings (names without prefix)."""
    port = free_port()
    log_path = folder / f"serve-{port}.log"
    package_root = str(Path(tradetalk.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETALK_")}
    env |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
        "TRADETALK_DATABASE_URL": f"sqlite:///{folder / f'serve-{port}.db'}",
        "TRADETALK_SECRET_KEY": SECRET_KEY,
        "TRADETALK_SERVER_API_KEY": SERVER_KEY,
        "TRADETALK_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TRADETALK_MEDIA_DIR": str(folder / "media"),
        "TRADETALK_MAIL_DIR": str(folder / "mail"),
        "TRADETALK_OCR": "false",
        # A CI machine running the suite on both cores can take longer than production's 2 s
        # to open a PostgreSQL connection or free a pooled one; that is load, not an outage.
        "TRADETALK_DB_CONNECT_TIMEOUT_SECONDS": "15",
        "TRADETALK_DB_POOL_TIMEOUT_SECONDS": "30",
    }
    env |= {f"TRADETALK_{name.upper()}": value for name, value in settings.items()}
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tradetalk.cli", "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole below
        )
    running = Served(port, log_path, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"tradetalk serve exited early:\n{running.log()}")
            try:
                if httpx.get(f"{running.base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"tradetalk serve never became ready:\n{running.log()}")
            time.sleep(0.1)
        yield running
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
