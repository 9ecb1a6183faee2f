"""Batch and one-off scanning for the `tradetalk scan` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

from tradetalk.protection.detector import Detector

__all__ = ["scan_jsonl", "scan_text"]


def scan_text(text: str, detector: Detector, history: list[str] | None = None) -> dict[str, Any]:
    """Scan one text; the result has the shape of a `scan --jsonl` output line (without id)."""
    findings = detector.scan(text, history or ())
    return {
        "contact": bool(findings),
        "findings": [
            {"kind": f.kind, "start": f.start, "end": f.end, "text": f.text} for f in findings
        ],
    }


def _parse_line(line: str) -> tuple[Any, str, list[str]]:
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    ident = obj.get("id")
    text = obj.get("text")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    history = obj.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise ValueError("'history' must be a list of strings")
    return ident, text, history


def scan_jsonl(
    infile: TextIO,
    outfile: TextIO,
    detector: Detector,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Scan one `{"id", "text", "history"?}` object per line into one result line each.

    A malformed line yields `{"id"?, "error"}` and the run goes on; blank lines are skipped.
    Returns the number of lines answered.
    """
    count = 0
    for line in infile:
        if not line.strip():
            continue
        try:
            ident, text, history = _parse_line(line)
        except (ValueError, json.JSONDecodeError) as exc:
            out: dict[str, Any] = {"error": str(exc)}
            try:
                maybe = json.loads(line)
                if isinstance(maybe, dict) and "id" in maybe:
                    out = {"id": maybe["id"], **out}
            except json.JSONDecodeError:
                pass
        else:
            out = {"id": ident, **scan_text(text, detector, history)}
        outfile.write(json.dumps(out, ensure_ascii=False) + "\n")
        count += 1
        if progress is not None:
            progress(count)
    return count
