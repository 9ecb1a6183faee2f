"""The contact shield of this tree against the shield of a git revision: the same findings?

Run: PYTHONPATH=src python bench/shield_compare.py [--against main] [--cases 200000]

Not a test and not a speed benchmark: a check for work that must not change what the shield
finds (speed work, refactoring). Both shields scan the same messages, each in its own process
(the revision's `src/` is unpacked with `git archive` into a temporary folder), and every
finding's kind, span, text and rule is compared. The messages are the corpus (with its
histories), the string literals of the shield's tests, the tracking test numbers, and
`--cases` messages made from those by random edits (separators, look-alikes, digits, number
words, channel and trap words, invisible and non-ASCII characters, deletions, case changes,
splices, histories), under a few detector configurations. Prints one JSON object; exits 1 when
a finding differs. `--expect-changed FILE` names messages (one JSON string a line) whose
findings are meant to differ: they are reported apart and do not fail the run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "protection"

# What random edits insert (the pieces of tests/protection/test_shortcuts.py and more).
PIECES = [
    " ", "  ", "-", ".", ",", "/", ":", "#", "@", "$", "&", "'", "(", ")", "[", "]", "\n", "_",
    "+", "*", "|", "!", "?", "0", "1", "5", "9", "415", "555 0199", "4155550199", "+44", "o",
    "l", "s", "b", "x", "a", "e", "i", "en", " en ", " one ", " five ", " oh ", " and ", " y ",
    " double ", " nine ", "fünf", "veinticinco", "cuatro", " at ", " dot ", " punto ", " arroba ",
    "[at]", "(dot)", " w h a t s ", "wh4tsapp", "whatsapp", "#whatsapp", "WhatsApp", "telegram",
    "pay pal", "venmo", "gmail", "gmail.com", ".com", "hotmail", "insta", "ig", "snap", "line",
    "signal", "ebay", "order #", "cert ", " oz", " usd", "$40", "$coinguy", "@coinguy", "12/25",
    "3:30 pm", "size ", "ms-", "1z", " tracking ", "ups ", "fedex", "text me", "call me",
    "my number is ", "don't ", " not ", " is not allowed", " platform rules", " fees",
    "directly", "off the app", "www.", "http://", "bit.ly/x", "t.me/",
    "\uff11", "\uff15", "\u03bf", "\u0430", "\u200b", "\u00a0",
    "😀", "ß", "é", "ñ", "①", "٣", "ﬁ", "4\ufe0f\u20e3", "\U0001f51f",
]  # fmt: skip
CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 .,-@$#:/()'!?\n\u00e9\u00f1\uff11\u200b"
CONFIGS: list[dict[str, Any]] = [
    {},
    {"default_region": "GB"},
    {"default_region": "DE", "history_window": 2},
    {"allowed_domains": ["coinsbymike.com", "gmail.com"], "allowed_emails": ["john@yahoo.com"]},
    {"history_window": 0},
]


def _base_messages() -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(text, history) of the corpus, and every other string the shield's tests use."""
    rows = [
        json.loads(line)
        for line in (TESTS / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    corpus = [(r["text"], list(r.get("history", []))) for r in rows]
    literals: set[str] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and 2 <= len(text) <= 300 and "\n" not in text.strip():
                literals.add(text)
    tracking = TESTS / "test_tracking.py"
    if tracking.exists():
        for line in tracking.read_text(encoding="utf-8").splitlines():
            for part in line.split('"')[1::2]:
                if len(part) >= 8 and sum(c.isdigit() for c in part) >= 6:
                    literals |= {part, f"tracking {part}", f"usps {part}", f"call {part}"}
    return corpus, sorted(literals)


def _mutate(rng: random.Random, text: str, others: list[str]) -> str:
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        op = rng.random()
        if op < 0.45:
            cut = rng.choice((0, 0, 1, 2))
            text = text[:at] + rng.choice(PIECES) + text[at + cut :]
        elif op < 0.6:
            text = text[:at] + rng.choice(CHARS) + text[at:]
        elif op < 0.72:
            text = text[:at] + text[at + rng.randint(1, 3) :]
        elif op < 0.82:
            end = min(len(text), at + rng.randint(1, 8))
            text = text[:at] + text[at:end].swapcase() + text[end:]
        elif op < 0.9:
            other = rng.choice(others)
            cut = rng.randint(0, len(other))
            text = text[:at] + " " + other[cut:]
        else:
            # spaced out or dotted letters
            end = min(len(text), at + rng.randint(3, 9))
            sep = rng.choice((" ", ".", "-", " . "))
            text = text[:at] + sep.join(text[at:end]) + text[end:]
    return text


def make_cases(count: int, seed: int) -> list[tuple[int, str, list[str]]]:
    """(configuration index, text, history): the base messages in every configuration, then
    `count` random edits of them."""
    corpus, literals = _base_messages()
    bases = corpus + [(t, []) for t in literals]
    texts = [t for t, _ in bases]
    cases = [(c, t, h) for c in range(len(CONFIGS)) for t, h in bases]
    rng = random.Random(seed)
    for _ in range(count):
        text, history = rng.choice(bases)
        text = _mutate(rng, text, texts)
        if history and rng.random() < 0.5:
            history = [_mutate(rng, h, texts) if rng.random() < 0.5 else h for h in history]
        elif not history and rng.random() < 0.12:
            # a message split over several: the pieces go to history
            parts = [p for p in text.split(" ") if p]
            k = rng.randint(1, 3)
            if len(parts) > k:
                cut = sorted(rng.sample(range(1, len(parts)), k))
                bounds = zip([0, *cut], [*cut, len(parts)], strict=True)
                pieces = [" ".join(parts[a:b]) for a, b in bounds]
                history, text = pieces[:-1], pieces[-1]
        config = 0 if rng.random() < 0.7 else rng.randrange(len(CONFIGS))
        cases.append((config, text, history))
    return cases


def worker(cases_file: str, out_file: str) -> None:
    """Scan every case with the shield this process imports; one JSON line of findings each."""
    from tradetalk.protection.detector import Detector, DetectorConfig

    detectors = [
        Detector(
            DetectorConfig(**{k: frozenset(v) if isinstance(v, list) else v for k, v in c.items()})
        )
        for c in CONFIGS
    ]
    with open(cases_file, encoding="utf-8") as src, open(out_file, "w", encoding="utf-8") as out:
        for line in src:
            config, text, history = json.loads(line)
            found = detectors[config].scan(text, history)
            out.write(json.dumps([[f.kind, f.start, f.end, f.text, f.rule] for f in found]) + "\n")


def _unpack(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _run_side(src: Path, cases_file: Path, out_file: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(src)}
    probe = (
        "import tradetalk.protection.detector as d; "
        "print('compiled' if d.__file__.endswith('.so') else 'python', d.__file__)"
    )
    where = subprocess.run(
        [sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(
        [sys.executable, __file__, "--worker", str(cases_file), str(out_file)], env=env, check=True
    )
    return where


def main() -> None:
    """Compare the two shields and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", default="main", help="git revision (default: main)")
    parser.add_argument("--ours", default=str(ROOT / "src"), help="source folder of ours")
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--expect-changed", help="file of messages meant to change (JSON lines)")
    parser.add_argument("--show", type=int, default=20, help="differences to print")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    expected: set[str] = set()
    if args.expect_changed:
        with open(args.expect_changed, encoding="utf-8") as fh:
            expected = {json.loads(line) for line in fh if line.strip()}
    cases = make_cases(args.cases, args.seed)
    with tempfile.TemporaryDirectory(prefix="shield-compare-") as tmp:
        folder = Path(tmp)
        cases_file = folder / "cases.jsonl"
        with cases_file.open("w", encoding="utf-8") as fh:
            for case in cases:
                fh.write(json.dumps(case) + "\n")
        theirs_src = _unpack(args.against, folder / "theirs")
        sides = {}
        for name, src in (("theirs", theirs_src), ("ours", Path(args.ours))):
            sides[name] = _run_side(src, cases_file, folder / f"{name}.jsonl")
        theirs = (folder / "theirs.jsonl").read_text(encoding="utf-8").splitlines()
        ours = (folder / "ours.jsonl").read_text(encoding="utf-8").splitlines()
    differ: list[dict[str, Any]] = []
    meant: list[dict[str, Any]] = []
    flagged = {"theirs": 0, "ours": 0}
    findings = {"theirs": 0, "ours": 0}
    for (config, text, history), a, b in zip(cases, theirs, ours, strict=True):
        fa, fb = json.loads(a), json.loads(b)
        flagged["theirs"] += bool(fa)
        flagged["ours"] += bool(fb)
        findings["theirs"] += len(fa)
        findings["ours"] += len(fb)
        if fa != fb:
            entry = {"config": config, "text": text, "history": history, "theirs": fa, "ours": fb}
            (meant if text in expected else differ).append(entry)
    report = {
        "against": args.against,
        "shields": sides,
        "cases": len(cases),
        "random_cases": args.cases,
        "messages_with_findings": flagged,
        "findings": findings,
        "differing_cases": len(differ),
        "meant_to_differ": len(meant),
        "differences": differ[: args.show],
        "meant": meant[: args.show],
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
