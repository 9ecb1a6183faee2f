"""The JSONL batch scan behind `tradetalk scan --jsonl`."""

from __future__ import annotations

import io
import json

from tradetalk.protection.detector import Detector
from tradetalk.protection.scan_cli import scan_jsonl, scan_text


def test_scan_text_shape() -> None:
    out = scan_text("call 415 555 0199", Detector())
    assert out["contact"] is True
    assert out["findings"][0] == {"kind": "phone", "start": 5, "end": 17, "text": "415 555 0199"}


def test_jsonl_keeps_order_and_survives_bad_lines() -> None:
    lines = [
        json.dumps({"id": 1, "text": "hello"}),
        "not json",
        json.dumps({"id": "x", "text": 5}),
        "",
        json.dumps({"id": 2, "text": "0199", "history": ["four one five", "555"]}),
    ]
    out = io.StringIO()
    seen: list[int] = []
    count = scan_jsonl(io.StringIO("\n".join(lines) + "\n"), out, Detector(), seen.append)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == 4 and seen == [1, 2, 3, 4]
    assert rows[0] == {"id": 1, "contact": False, "findings": []}
    assert "error" in rows[1] and "id" not in rows[1]
    assert rows[2]["id"] == "x" and "error" in rows[2]
    assert rows[3]["id"] == 2 and rows[3]["contact"] is True
