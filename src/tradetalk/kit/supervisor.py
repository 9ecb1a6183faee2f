"""`tradetalk serve --workers N`: several server processes behind one port.

One Python process uses one core at most, so a node with several cores serves more with several
processes. Each is a complete `tradetalk serve` (its own app, pool, outbox worker and Redis
subscription) listening on the same address with SO_REUSEPORT: the kernel spreads new
connections over the processes evenly (by their address and port), with no process in front.
This one only starts them, restarts one that dies, and stops them all on SIGTERM or SIGINT.
Not uvicorn's own `--workers`: its processes share one listening socket and take connections
in whatever order they wake, so with keep-alive clients one busy process can hold most of them;
it also builds the app from an import string in each child, which would bypass `serve`'s
settings checks and migration.

Several processes need PostgreSQL (SQLite takes one writer at a time, and a process orders its
own writers only) and Redis (an event reaches a WebSocket held by another process through it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

from tradetalk.config import Settings

# A child that could not start (uvicorn's exit code 3: the app's startup failed; 2: refused
# settings) would fail again, as would one that keeps dying: then everything stops instead.
_CANNOT_START = frozenset({2, 3})
_RESTARTS_PER_MINUTE = 5
_PR_SET_PDEATHSIG = 1


def refusal(settings: Settings, workers: int) -> str | None:
    """Why these settings cannot run `workers` processes, or None when they can."""
    if workers < 1:
        return "--workers must be at least 1."
    if workers == 1:
        return None
    if settings.is_sqlite:
        return (
            f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time and only "
            "one process can order its writers. Set TRADETALK_DATABASE_URL to a postgresql:// "
            "URL, or serve with one process (docs/scaling.md)."
        )
    if not settings.redis_url:
        return (
            f"--workers {workers} needs TRADETALK_REDIS_URL: an event reaches a WebSocket held "
            "by another process only through Redis (docs/scaling.md)."
        )
    return None


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT, not listening yet: the other server
    processes can bind the same address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket of one of several server processes: the kernel balances new connections
    between the processes listening on the same address this way."""
    sock = bound_socket(host, port)
    sock.listen(2048)
    return sock


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: a child whose supervisor was killed outright (SIGKILL) stops too.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Runs `workers` server processes until told to stop."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.restarts: list[float] = []
        self.stopping = False

    def _command(self) -> Sequence[str]:
        return [
            sys.executable,
            "-m",
            "tradetalk.cli",
            "serve",
            "--host",
            self.settings.host,
            "--port",
            str(self.settings.port),
            "--process-of-many",
        ]

    def _start(self) -> None:
        # A session of its own: Ctrl-C reaches the supervisor alone, which stops each child
        # once (a child that got SIGINT from the terminal and SIGTERM from here would drop its
        # connections instead of finishing the requests in flight).
        child = subprocess.Popen(
            self._command(), start_new_session=True, preexec_fn=_die_with_parent
        )
        self.children[child.pid] = child

    def _stop_all(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        """Start the processes and supervise them; the exit code of the whole server."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop_all)
        # Bound, never listening (it would take a share of the connections), for as long as the
        # server runs: a port that another program uses fails here, at once, not in each child.
        with bound_socket(self.settings.host, self.settings.port):
            for _ in range(self.workers):
                self._start()
            failed = 0  # the exit code of a process that made everything stop
            while self.children:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                if self.children.pop(pid, None) is None or self.stopping:
                    continue
                code = os.waitstatus_to_exitcode(status)
                print(
                    f"tradetalk: server process {pid} exited ({code})", file=sys.stderr, flush=True
                )
                now = time.monotonic()
                self.restarts = [at for at in self.restarts if at > now - 60] + [now]
                if code in _CANNOT_START or len(self.restarts) > _RESTARTS_PER_MINUTE:
                    print("tradetalk: stopping the other processes", file=sys.stderr, flush=True)
                    self._stop_all(signal.SIGTERM)
                    failed = code if code > 0 else 1
                    continue
                self._start()
            return failed
