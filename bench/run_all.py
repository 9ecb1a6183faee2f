"""Run every benchmark in sequence, keep each one's JSON, then draw the plots.

    python bench/run_all.py [--quick] [--only NAME,...] [--skip NAME,...] [--results DIR]

Each benchmark runs as its own process (`python bench/<script> ...`, the command is printed)
with full-run defaults, or with small sizes under `--quick` (a smoke run of a few minutes in
all, whose figures mean nothing). Its stdout, one JSON document, goes to
`<results>/<name>.json`, its stderr to the terminal (prefixed with its name) and to
`<results>/<name>.log`. A benchmark that fails (non-zero exit, no JSON, over its time limit) is
reported and the run goes on; the exit code is then 1. `<results>/run_all.json` records what ran,
how long it took and how it ended; `bench/plot.py` then draws `<results>/plots/*.png`.

bench/synapse.py (the Matrix Synapse peer) runs when the file is there.
Needs PostgreSQL (TRADETALK_BENCH_PG_URL, default 127.0.0.1:5432) and Redis
(TRADETALK_BENCH_REDIS_URL, default 127.0.0.1:6379); twonode.py installs nginx with apt-get
when it is missing and this runs as root.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_RESULTS = BENCH / "results"
PG_URL = os.environ.get("TRADETALK_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TRADETALK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    full_timeout: float  # seconds
    needs: tuple[str, ...] = ()  # services: "postgresql", "redis"
    optional: bool = False  # run only when the script exists
    shield: bool = False  # imports the shield: the compiled build when asked for (below)

    def command(self, quick: bool) -> list[str]:
        return [sys.executable, str(BENCH / self.script), *(self.quick if quick else self.full)]

    def shown(self, quick: bool) -> str:
        """The command as a person would type it from the checkout."""
        words = ["python", f"bench/{self.script}", *(self.quick if quick else self.full)]
        if self.shield and compiled_shield() is not None:
            words.insert(0, f"PYTHONPATH={COMPILED_SHIELD.relative_to(ROOT)}")
        return " ".join(words)


# Cheap and self-contained first, the long ones (inbox loads a million messages) after.
BENCHMARKS = (
    Benchmark(
        "scan", "scan.py", (), ("--min-scans", "2000", "--paired-rounds", "2"), 1800, shield=True
    ),
    Benchmark("attachments", "attachments_pipeline.py", (), ("--rounds", "1"), 900),
    Benchmark("redis_pubsub", "redis_pubsub.py", (), ("--quick",), 600, ("redis",)),
    Benchmark(
        "realtime_fanout",
        "realtime.py",
        ("--source", "redis", "--idle-seconds", "120"),
        ("--source", "redis", "--sockets", "20", "--rate", "100", "--seconds", "2"),
        1200,
        ("redis",),
    ),
    Benchmark(
        "realtime_send_path",
        "realtime.py",
        ("--rate", "100"),
        ("--rate", "10", "--sockets", "20", "--seconds", "2"),
        1200,
    ),
    Benchmark(
        "realtime_send_path_500",
        "realtime.py",
        ("--rate", "500"),
        ("--rate", "20", "--sockets", "20", "--seconds", "2"),
        1200,
    ),
    Benchmark("send", "send.py", (), ("--quick",), 2400, ("postgresql",)),
    Benchmark("twonode", "twonode.py", (), ("--quick",), 1800, ("postgresql", "redis")),
    Benchmark("inbox", "inbox.py", (), ("--quick",), 5400, ("postgresql",)),
    Benchmark("synapse", "synapse.py", (), ("--quick",), 5400, ("postgresql",), optional=True),
)
QUICK_TIMEOUT = 600.0


def progress(message: str) -> None:
    print(f"[run_all {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def services() -> dict[str, bool]:
    """Which of the services the benchmarks need answer on their port."""
    return {"postgresql": reachable(PG_URL, 5432), "redis": reachable(REDIS_URL, 6379)}


# The shield compiled with mypyc, as a production install with TRADETALK_COMPILE_SHIELD=1 has it
# (`make shield-compiled`). `make bench` builds it and sets TRADETALK_BENCH_COMPILED_SHIELD=1,
# so that the shield's benchmark measures what production runs; without that variable (or the
# build) it measures the Python modules of src/.
COMPILED_SHIELD = ROOT / "build" / "shield-compiled"


def compiled_shield() -> Path | None:
    """The compiled shield's folder when it is asked for and built, else None."""
    wanted = os.environ.get("TRADETALK_BENCH_COMPILED_SHIELD") == "1"
    return COMPILED_SHIELD if wanted and (COMPILED_SHIELD / "tradetalk").is_dir() else None


def child_env(benchmark: Benchmark | None = None) -> dict[str, str]:
    """The benchmarks import tradetalk: from the installed package, or from this checkout (the
    compiled shield's build first, for a benchmark of the shield when it is asked for)."""
    env = dict(os.environ)
    paths = [str(ROOT / "src"), env.get("PYTHONPATH")]
    if benchmark is not None and benchmark.shield and (compiled := compiled_shield()) is not None:
        paths.insert(0, str(compiled))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    return env


def _forward(stream: IO[bytes], name: str, log: IO[bytes]) -> None:
    """Copy a benchmark's stderr to ours (prefixed with its name) and to its log file."""
    for line in iter(stream.readline, b""):
        log.write(line)
        log.flush()
        sys.stderr.write(f"  {name}: {line.decode(errors='replace')}")
        sys.stderr.flush()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the benchmark (it stops its servers and drops its databases), then, after
    30 s, SIGKILL to whatever is left of its process group."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_one(
    benchmark: Benchmark, quick: bool, results: Path, timeout: float | None = None
) -> dict[str, Any]:
    """Run one benchmark; its JSON to `<name>.json`, its stderr to `<name>.log`."""
    command = benchmark.command(quick)
    timeout = timeout or (QUICK_TIMEOUT if quick else benchmark.full_timeout)
    shown = benchmark.shown(quick)
    progress(f"{benchmark.name}: {shown}")
    out_path = results / f"{benchmark.name}.json"
    out_path.unlink(missing_ok=True)
    began = time.perf_counter()
    record: dict[str, Any] = {"command": shown, "timeout_seconds": timeout}
    with (results / f"{benchmark.name}.log").open("wb") as log:
        # Its own process group, so that a timeout stops the servers it started as well.
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env(benchmark), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        forwarder = threading.Thread(
            target=_forward, args=(process.stderr, benchmark.name, log), daemon=True
        )
        forwarder.start()
        stdout_chunks: list[bytes] = []
        reader = threading.Thread(
            target=lambda: stdout_chunks.append(process.stdout.read()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            record["error"] = f"no result after {timeout:.0f} s: stopped"
            stop(process)
        except BaseException:
            stop(process)
            raise
        reader.join(10)
        forwarder.join(10)
    record["seconds"] = round(time.perf_counter() - began, 1)
    record["returncode"] = process.returncode
    stdout = b"".join(stdout_chunks)
    try:
        document = json.loads(stdout)
    except ValueError:
        document = None
    if process.returncode == 0 and isinstance(document, dict):
        out_path.write_text(json.dumps(document, indent=2) + "\n")
        record["status"] = "ok"
        record["result"] = str(out_path.relative_to(results))
        progress(f"{benchmark.name}: done in {record['seconds']:.0f} s -> {out_path}")
    else:
        record["status"] = "failed"
        record.setdefault(
            "error",
            f"exit code {process.returncode}" if process.returncode else "no JSON on stdout",
        )
        if stdout:
            (results / f"{benchmark.name}.stdout").write_bytes(stdout)
        progress(
            f"{benchmark.name}: FAILED ({record['error']}) after {record['seconds']:.0f} s; "
            f"see {results / (benchmark.name + '.log')}"
        )
    return record


def load_summary(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def parse_names(value: str) -> set[str]:
    names = {part.strip() for part in value.split(",") if part.strip()}
    unknown = names - {b.name for b in BENCHMARKS}
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {', '.join(sorted(unknown))}; "
            f"known: {', '.join(b.name for b in BENCHMARKS)}"
        )
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", type=parse_names, help="comma-separated benchmark names")
    parser.add_argument("--skip", type=parse_names, default=set(), help="names to leave out")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument(
        "--timeout", type=float, help="seconds each benchmark may take (default: its own limit)"
    )
    parser.add_argument("--no-plots", action="store_true", help="do not run bench/plot.py")
    parser.add_argument("--list", action="store_true", help="print the commands and exit")
    options = parser.parse_args()

    chosen = [
        b
        for b in BENCHMARKS
        if (options.only is None or b.name in options.only) and b.name not in options.skip
    ]
    if options.list:
        for benchmark in chosen:
            print(f"{benchmark.name:20} {benchmark.shown(options.quick)}")
        return 0
    options.results.mkdir(parents=True, exist_ok=True)
    up = services()
    for service, ok in up.items():
        if not ok:
            progress(f"WARNING: {service} does not answer; the benchmarks that need it will fail")
    summary: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": options.quick,
        "services": up,
        "benchmarks": {},
    }
    summary_path = options.results / "run_all.json"
    if options.only or options.skip:
        # A partial rerun keeps the records of the benchmarks it leaves alone.
        earlier = load_summary(summary_path)
        if earlier.get("quick") == options.quick:
            summary["benchmarks"] = earlier.get("benchmarks", {})
    began = time.perf_counter()
    try:
        for benchmark in chosen:
            if benchmark.optional and not (BENCH / benchmark.script).exists():
                progress(f"{benchmark.name}: bench/{benchmark.script} is not here; skipped")
                summary["benchmarks"][benchmark.name] = {"status": "skipped (no script)"}
                continue
            summary["benchmarks"][benchmark.name] = run_one(
                benchmark, options.quick, options.results, options.timeout
            )
            summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    except KeyboardInterrupt:
        progress("interrupted")
        summary["interrupted"] = True
    summary["seconds"] = round(time.perf_counter() - began, 1)
    summary["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    ran = {b.name for b in chosen}
    failed = [
        name
        for name, record in summary["benchmarks"].items()
        if name in ran and record["status"] == "failed"
    ]
    if not options.no_plots and not summary.get("interrupted"):
        progress(f"plotting into {options.results / 'plots'}")
        plot = subprocess.run(
            [sys.executable, str(BENCH / "plot.py"), "--results", str(options.results)],
            env=child_env(),
        )
        summary["plots"] = "ok" if plot.returncode == 0 else f"failed ({plot.returncode})"
        if plot.returncode != 0:
            failed.append("plot")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    minutes = summary["seconds"] / 60
    for name, record in summary["benchmarks"].items():
        took = f"{record['seconds']:.0f} s" if "seconds" in record else ""
        progress(f"  {name:24} {record['status']:8} {took}")
    if failed or summary.get("interrupted"):
        progress(f"finished in {minutes:.1f} min; FAILED: {', '.join(failed) or 'interrupted'}")
        return 1
    done = sum(1 for n, r in summary["benchmarks"].items() if n in ran and r["status"] == "ok")
    progress(f"finished in {minutes:.1f} min; {done} ran, none failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
