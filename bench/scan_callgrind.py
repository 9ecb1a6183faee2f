"""Instructions per message inside the compiled shield's `Detector.scan`, counted by callgrind.

Wall-clock figures of the shield move by a third from run to run on a shared machine; an
instruction count does not (the same build, inputs and environment give the same count), so
this is the measure for a change of a few percent. The corpus is scanned `--passes` times
inside `Detector.scan` only (valgrind's `--toggle-collect` on the compiled method, so the
loop around it and the warm-up are not counted): "warm" keeps the shield's caches, "cold"
empties them before each pass, as `bench/scan.py` does. glibc's `malloc` is reported apart:
its share moves by a percent or more with nothing but the heap's layout.

    make shield-compiled
    PYTHONPATH=build/shield-compiled python bench/scan_callgrind.py [--modes warm,cold]

Needs valgrind (`apt-get install valgrind`) and the compiled build: the toggle names the
compiled method. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "protection" / "corpus.jsonl"
SCAN_SYMBOL = "CPyPy_detector___Detector___scan"
CHILD = "TRADETALK_SCAN_CALLGRIND_CHILD"


def _workload(mode: str, passes: int) -> None:
    """The counted run: a warm-up outside `scan`, then `passes` passes through it."""
    from tradetalk.protection.detector import Detector, DetectorConfig, clear_caches

    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8") if line.strip()]
    items = [(row["text"], row.get("history", [])) for row in rows]
    detector = Detector(DetectorConfig())
    for text, history in items:  # fills the caches and loads lazy data, uncounted
        _warm_through_inner_scan(detector, text, history)
    for _ in range(passes):
        if mode == "cold":
            clear_caches()
        for text, history in items:
            detector.scan(text, history)


def _warm_through_inner_scan(detector: Any, text: str, history: list[str]) -> None:
    # `scan` itself is what callgrind counts; its inner step takes the text with the same
    # recent history joined in front, as `scan` builds it.
    window = detector._window
    recent = list(history[-window:]) if window > 0 and history else []
    if not recent:
        detector._scan(text, [0])
        return
    combined = "\n".join(recent) + "\n" + text
    starts, position = [], 0
    for part in recent:
        starts.append(position)
        position += len(part) + 1
    starts.append(len(combined) - len(text))
    detector._scan(combined, starts)


def _count(out_file: Path) -> tuple[int, int]:
    """Total instructions collected, and those inside glibc's malloc family."""
    annotated = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--inclusive=no", str(out_file)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = malloc = 0
    for line in annotated.splitlines():
        fields = line.split()
        if not fields or not fields[0].replace(",", "").isdigit():
            continue
        count = int(fields[0].replace(",", ""))
        if "PROGRAM TOTALS" in line:
            total = count
        elif "malloc/malloc.c:" in line:
            malloc += count
    return total, malloc


def measure(mode: str, passes: int, messages: int) -> dict[str, Any]:
    """Run the workload under callgrind and return instructions per message."""
    with tempfile.TemporaryDirectory() as folder:
        out_file = Path(folder) / "callgrind.out"
        env = os.environ | {CHILD: mode, "PYTHONHASHSEED": "0"}
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                f"--toggle-collect={SCAN_SYMBOL}",
                f"--callgrind-out-file={out_file}",
                sys.executable,
                __file__,
                "--passes",
                str(passes),
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        total, malloc = _count(out_file)
    if total == 0:
        raise SystemExit(
            f"nothing counted inside {SCAN_SYMBOL}: is the compiled build on the path?"
        )
    scans = passes * messages
    return {
        "instructions_per_message": round(total / scans),
        "without_malloc": round((total - malloc) / scans),
        "malloc": round(malloc / scans),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="warm,cold")
    parser.add_argument("--passes", type=int, default=4)
    options = parser.parse_args()
    if mode := os.environ.get(CHILD):
        _workload(mode, options.passes)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    import tradetalk.protection.detector as detector_module

    compiled = not detector_module.__file__.endswith(".py")
    if not compiled:
        raise SystemExit("this counts the compiled shield: PYTHONPATH=build/shield-compiled")
    messages = sum(1 for line in CORPUS.open(encoding="utf-8") if line.strip())
    result = {
        "benchmark": "scan_callgrind",
        "shield": detector_module.__file__,
        "messages": messages,
        "passes": options.passes,
        **{mode: measure(mode, options.passes, messages) for mode in options.modes.split(",")},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
