"""The shield against the labelled corpus: recall and false alarms, with every miss listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tradetalk.protection.detector import KINDS, Detector, DetectorConfig

CORPUS = Path(__file__).with_name("corpus.jsonl")
MIN_RECALL = 0.97
MAX_FALSE_ALARMS = 0.01


def load_corpus() -> list[dict[str, Any]]:
    """The labelled messages, one JSON object per line."""
    with CORPUS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def evaluate(detector: Detector, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall over positives, false-alarm rate over negatives, and the rows judged wrong."""
    misses: list[str] = []
    false_alarms: list[str] = []
    for row in rows:
        findings = detector.scan(row["text"], row.get("history", []))
        if row["contact"] and not findings:
            misses.append(f"{row['id']} [{row['note']}] {row['text']!r}")
        if not row["contact"] and findings:
            found = ", ".join(f"{f.kind}:{f.text!r}({f.rule})" for f in findings)
            false_alarms.append(f"{row['id']} [{row['note']}] {row['text']!r} -> {found}")
    positives = sum(1 for r in rows if r["contact"])
    negatives = len(rows) - positives
    return {
        "messages": len(rows),
        "positives": positives,
        "negatives": negatives,
        "recall": (positives - len(misses)) / positives,
        "false_alarm_rate": len(false_alarms) / negatives,
        "misses": misses,
        "false_alarms": false_alarms,
    }


def test_corpus_is_well_formed() -> None:
    rows = load_corpus()
    assert len(rows) >= 450
    assert len({r["id"] for r in rows}) == len(rows)
    negatives = sum(1 for r in rows if not r["contact"])
    assert negatives / len(rows) >= 0.40
    for row in rows:
        assert isinstance(row["text"], str) and row["note"]
        assert row["contact"] == bool(row["kinds"])
        assert set(row["kinds"]) <= set(KINDS)


def test_recall_and_false_alarms() -> None:
    report = evaluate(Detector(DetectorConfig()), load_corpus())
    print(
        f"\ncorpus: {report['messages']} messages ({report['positives']} with contact, "
        f"{report['negatives']} without)"
    )
    print(f"recall: {report['recall']:.4f}  false alarms: {report['false_alarm_rate']:.4f}")
    for line in report["misses"]:
        print("MISS", line)
    for line in report["false_alarms"]:
        print("FALSE ALARM", line)
    assert report["recall"] >= MIN_RECALL
    assert report["false_alarm_rate"] <= MAX_FALSE_ALARMS
