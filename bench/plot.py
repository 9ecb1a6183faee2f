"""Plots of the benchmark results: reads `<results>/*.json`, writes `<results>/plots/*.png`.

    python bench/plot.py [--results bench/results] [--out DIR]

One PNG per figure people would rather see than read, each drawn only when its JSON is there:

- send.png: sends/s per database and concurrency beside the raw commit rate of the same
  database at the same concurrency (send.json), with the 50% target;
- delivery.png: p50/p95/p99 from send to receive: Redis pub/sub alone (redis_pubsub.json), the
  fan-out (realtime_fanout.json), the whole send path (realtime_send_path.json), same node and
  cross node on two nodes (twonode.json), with the 50 ms target;
- inbox.png: inbox and history page p95 at the smallest and the largest size (inbox.json), with
  the 10 ms target;
- twonode.png: send throughput and latency, one node vs two behind nginx (twonode.json);
- synapse.png: tradetalk beside Synapse (synapse.json, when bench/synapse.py has run).

Needs matplotlib (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

BENCH = Path(__file__).resolve().parent
BLUE, ORANGE, GREEN, GREY, RED = "#3b6ea8", "#e08a2c", "#4c9a52", "#9a9a9a", "#c0392b"
PERCENTILE_COLOURS = {"p50": "#8fb3de", "p95": "#3b6ea8", "p99": "#1d3557"}
DB_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text())
    except ValueError:
        print(f"plot: {path} is not JSON; skipped", file=sys.stderr)
        return None
    return document if isinstance(document, dict) else None


def caption(document: dict[str, Any], quick: bool) -> str:
    """What the figures were measured on: cores, CPU yardstick, load, date."""
    parts = []
    found = document.get("machine") or {}
    if found.get("cpus"):
        parts.append(f"{found['cpus']} cores")
    if found.get("python_loop_us"):
        parts.append(f"python_loop_us {found['python_loop_us']}")
    if found.get("load_average_at_start"):
        parts.append(f"load {found['load_average_at_start'][0]} at start")
    text = ", ".join(parts)
    if quick or document.get("quick"):
        text = "QUICK RUN: these figures mean nothing. " + text
    return text


def finish(fig: Figure, path: Path, note: str) -> None:
    if note:
        colour = RED if note.startswith("QUICK") else "#555555"
        fig.text(0.99, 0.005, note, ha="right", va="bottom", fontsize=8, color=colour)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot: wrote {path}", file=sys.stderr)


def label_bars(ax: Axes, bars: Any, fmt: str = "{:.0f}", size: int = 8) -> None:
    for bar in bars:
        height = bar.get_height()
        if height and math.isfinite(height):
            ax.annotate(
                fmt.format(height), (bar.get_x() + bar.get_width() / 2, height),
                xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                fontsize=size,
            )  # fmt: skip


def plain_log(axis: Any) -> None:
    """Log-scale ticks as plain numbers (1, 10, 100), without the minor-tick clutter."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,g}"))
    axis.set_minor_formatter(NullFormatter())


def percentile(figures: dict[str, Any], name: str) -> float:
    """`p50_ms` (harness) or `p50` (realtime.py), in ms."""
    value = figures.get(f"{name}_ms", figures.get(name))
    return float(value) if isinstance(value, int | float) else math.nan


# -- (a) send throughput vs the raw commit limit -----------------------------------------------


def plot_send(document: dict[str, Any], out: Path, quick: bool) -> None:
    groups: list[tuple[str, float, float, float]] = []  # label, sends/s, raw/s, ratio
    for kind in ("sqlite", "postgresql"):
        for concurrency, level in (document.get(kind) or {}).get("concurrency", {}).items():
            groups.append(
                (
                    f"{DB_NAMES[kind]}\nconcurrency {concurrency}",
                    level["send"]["per_second"],
                    level["raw_commit"]["per_second"],
                    level.get("ratio") or 0.0,
                )
            )
    if not groups:
        return
    fig, ax = plt.subplots(figsize=(9, 5))
    x = range(len(groups))
    width = 0.38
    sends = ax.bar([i - width / 2 for i in x], [g[1] for g in groups], width, color=BLUE,
                   label="sends/s (POST …/messages, 201)")  # fmt: skip
    raws = ax.bar([i + width / 2 for i in x], [g[2] for g in groups], width, color=GREY,
                  label="raw commits/s (INSERT one row; COMMIT)")  # fmt: skip
    for i, group in enumerate(groups):
        ax.hlines(group[2] * 0.5, i - width, i, colors=RED, linestyles="--", linewidth=1.5,
                  label="target: half the raw commit rate" if i == 0 else None)  # fmt: skip
        ax.annotate(
            f"ratio {group[3]:.2f}", (i, max(group[1], group[2])), xytext=(0, 14),
            textcoords="offset points", ha="center", fontsize=9, fontweight="bold",
        )  # fmt: skip
    label_bars(ax, sends)
    label_bars(ax, raws)
    ax.set_yscale("log")
    plain_log(ax.yaxis)
    ax.set_ylabel("per second (log scale)")
    ax.set_xticks(list(x), [g[0] for g in groups])
    ax.set_title("Send throughput against the database's raw commit rate (same concurrency)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8)
    ax.margins(y=0.25)
    finish(fig, out / "send.png", caption(document, quick))


# -- (b) delivery latency percentiles ------------------------------------------------------


def delivery_rows(results: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, percentiles, its document) for every delivery figure there is."""
    if redis := load(results, "redis_pubsub"):
        yield (
            f"Redis pub/sub alone\n{redis['achieved_rate_per_s']:.0f}/s, "
            f"{redis['channels_subscribed']:,} channels",
            redis["publish_to_receive"],
            redis,
        )
    if fanout := load(results, "realtime_fanout"):
        yield (
            f"fan-out through a node (Redis → socket)\n{fanout['achieved_rate_per_s']:.0f}/s, "
            f"{fanout['open_sockets']:,} sockets",
            fanout["send_to_receive_ms"],
            fanout,
        )
    for name in ("realtime_send_path", "realtime_send_path_500"):
        if whole := load(results, name):
            database = DB_NAMES.get(whole["database"], whole["database"])
            yield (
                f"whole send path, one node ({database})\n"
                f"{whole['achieved_rate_per_s']:.0f}/s of {whole['target_rate_per_s']:.0f}/s, "
                f"{whole['open_sockets']:,} sockets",
                whole["send_to_receive_ms"],
                whole,
            )
    if twonode := load(results, "twonode"):
        delivery = twonode.get("delivery") or {}
        for phase, text in (("same_node", "same node"), ("cross_node", "cross node (via Redis)")):
            if phase in delivery:
                yield (
                    f"two nodes, {text}, PostgreSQL\n{delivery[phase]['achieved_rate_per_s']:.0f}"
                    f"/s, {delivery['sockets_on_node_a']} sockets",
                    delivery[phase]["send_to_receive"],
                    twonode,
                )


def plot_delivery(results: Path, out: Path, quick: bool) -> None:
    rows = list(delivery_rows(results))
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(10, 1.1 * len(rows) + 1.6))
    height = 0.26
    for i, (_, figures, _) in enumerate(rows):
        for j, name in enumerate(("p50", "p95", "p99")):
            value = percentile(figures, name)
            y = i + (j - 1) * height
            ax.barh(
                y, value, height, color=PERCENTILE_COLOURS[name], label=name if i == 0 else None
            )
            if math.isfinite(value):
                ax.annotate(f"{value:,.1f}", (value, y), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=7)  # fmt: skip
    ax.axvline(50, color=RED, linestyle="--", linewidth=1.2, label="target p99 50 ms")
    ax.set_xscale("log")
    plain_log(ax.xaxis)
    ax.set_xlabel("milliseconds from send to receive (log scale)")
    ax.set_yticks(range(len(rows)), [row[0] for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_title("Delivery latency to a connected recipient")
    ax.legend(loc="upper right", fontsize=8)
    ax.margins(x=0.15)
    first = next((row[2] for row in rows if row[2].get("machine")), rows[0][2])
    finish(fig, out / "delivery.png", caption(first, quick))


# -- (c) inbox and history p95 at 10k vs 1M --------------------------------------------------


def plot_inbox(document: dict[str, Any], out: Path, quick: bool) -> None:
    kinds = [kind for kind in ("sqlite", "postgresql") if kind in document]
    if not kinds:
        return
    fig, axes = plt.subplots(1, len(kinds), figsize=(6 * len(kinds), 4.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        sizes = document[kind]["sizes"]
        ordered = sorted(sizes, key=int)
        small, large = ordered[0], ordered[-1]
        pages = list(sizes[small]["pages"])
        x = range(len(pages))
        width = 0.38
        for offset, size, colour in ((-width / 2, small, "#8fb3de"), (width / 2, large, BLUE)):
            bars = ax.bar(
                [i + offset for i in x],
                [sizes[size]["pages"][page]["p95_ms"] for page in pages],
                width,
                color=colour,
                label=f"{int(size):,} messages",
            )
            label_bars(ax, bars, "{:.1f}", 7)
        ax.axhline(10, color=RED, linestyle="--", linewidth=1.2, label="target p95 10 ms")
        ax.set_xticks(list(x), [page.replace("_", "\n") for page in pages], fontsize=8)
        ax.set_ylabel("p95, ms")
        ax.set_title(f"{DB_NAMES[kind]}: page p95 as history grows")
        ax.legend(fontsize=8)
        ax.margins(y=0.15)
    finish(fig, out / "inbox.png", caption(document, quick))


# -- two nodes -----------------------------------------------------------------------------

LAYOUT_LABELS = {
    "one_node_direct": ("1 node, direct", GREY),
    "one_node_nginx": ("1 node via nginx", "#8fb3de"),
    "two_nodes_nginx": ("2 nodes via nginx", BLUE),
}


CPU_PARTS = {
    "node_a": ("node A", BLUE),
    "node_b": ("node B", "#8fb3de"),
    "postgresql_backends": ("PostgreSQL backends", GREEN),
    "nginx": ("nginx", ORANGE),
    "worker": ("outbox worker", "#b07cc6"),
    "load_generator": ("load generator", GREY),
}


def plot_twonode(document: dict[str, Any], out: Path, quick: bool) -> None:
    send = document.get("send") or {}
    if not send:
        return
    levels = list(send)
    has_cores = all("cores_busy_mean" in send[lv][name] for lv in levels for name in LAYOUT_LABELS)
    fig, axes = plt.subplots(1, 3 if has_cores else 2, figsize=(16 if has_cores else 11, 5))
    left, right = axes[0], axes[1]
    width = 0.26
    for j, (layout, (label, colour)) in enumerate(LAYOUT_LABELS.items()):
        xs = [i + (j - 1) * width for i in range(len(levels))]
        rates = [send[level][layout]["per_second"] for level in levels]
        label_bars(left, left.bar(xs, rates, width, color=colour, label=label), "{:.0f}")
        p50s, p99s = [], []
        for level in levels:
            rounds = send[level][layout]["rounds"]
            p50s.append(sum(r["latency"]["p50_ms"] for r in rounds) / len(rounds))
            p99s.append(sum(r["latency"]["p99_ms"] for r in rounds) / len(rounds))
        label_bars(right, right.bar(xs, p99s, width, color=colour, alpha=0.45), "{:.0f}", 7)
        label_bars(right, right.bar(xs, p50s, width, color=colour, label=label), "{:.0f}", 7)
    for ax in (left, right):
        ax.set_xticks(range(len(levels)), [f"concurrency {level}" for level in levels])
    for i, level in enumerate(levels):
        ratio = send[level].get("two_vs_one_node")
        if ratio:
            left.annotate(f"2 nodes / 1 node: {ratio:.2f}x", (i, 0), xytext=(0, -28),
                          textcoords="offset points", ha="center", fontsize=8,
                          fontweight="bold")  # fmt: skip
    left.set_ylabel("sends/s (201)")
    left.set_title("Send throughput, PostgreSQL + Redis")
    left.legend(fontsize=8, loc="upper left")
    left.margins(y=0.2)
    right.set_ylabel("ms (solid: p50, pale: p99)")
    right.set_title("Send latency (mean of rounds)")
    if has_cores:
        cores = axes[2]
        bars = [(level, layout) for level in levels for layout in LAYOUT_LABELS]
        bottoms = [0.0] * len(bars)
        for part, (label, colour) in CPU_PARTS.items():
            values = [send[lv][layout]["cores_busy_mean"].get(part, 0.0) for lv, layout in bars]
            cores.bar(range(len(bars)), values, 0.7, bottom=bottoms, color=colour, label=label)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        for i, total in enumerate(bottoms):
            cores.annotate(f"{total:.2f}", (i, total), xytext=(0, 2), textcoords="offset points",
                           ha="center", fontsize=7)  # fmt: skip
        names = {"one_node_direct": "1 direct", "one_node_nginx": "1 nginx",
                 "two_nodes_nginx": "2 nginx"}  # fmt: skip
        cores.set_xticks(range(len(bars)), [f"{names[layout]}\nc{lv}" for lv, layout in bars],
                         fontsize=7)  # fmt: skip
        cores.axhline(2, color=RED, linestyle="--", linewidth=1, label="the machine: 2 cores")
        cores.set_ylabel("cores kept busy (CPU s per s)")
        cores.set_title("CPU the benchmark got, by process")
        cores.legend(fontsize=7, loc="upper right")
        cores.set_ylim(0, max(2.2, max(bottoms) * 1.15))
    note = caption(document, quick)
    cpus = document.get("machine", {}).get("cpus", "?")
    note += f"; nodes, worker, PostgreSQL, Redis, nginx and the load generator share {cpus} cores"
    finish(fig, out / "twonode.png", note)


# -- (d) tradetalk vs Synapse -----------------------------------------------------------------

RATE_KEYS = ("per_second", "messages_per_second", "sends_per_second")
CPU_KEYS = ("server_cpu_ms_per_message", "cpu_ms_per_message")


def measurements(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Every dict in the document that carries a rate (`per_second` as bench/send.py has it)."""
    if isinstance(node, dict):
        if any(isinstance(node.get(key), int | float) for key in RATE_KEYS):
            yield path, node
            return
        for key, value in node.items():
            if key not in {"machine", "raw_commit"}:
                yield from measurements(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from measurements(value, (*path, str(index)))


def plot_synapse(document: dict[str, Any], out: Path, quick: bool) -> None:
    """Read synapse.json loosely: every measurement with a rate, labelled by where it sits."""
    found = list(measurements(document))
    if not found:
        print("plot: synapse.json has no measurement with a rate; no synapse.png", file=sys.stderr)
        return
    labels = [" / ".join(part for part in path if part not in {"send", "concurrency"})
              for path, _ in found]  # fmt: skip
    rates = [next(float(m[k]) for k in RATE_KEYS if isinstance(m.get(k), int | float))
             for _, m in found]  # fmt: skip
    cpus = [next((float(m[k]) for k in CPU_KEYS if isinstance(m.get(k), int | float)), math.nan)
            for _, m in found]  # fmt: skip
    colours = [ORANGE if "synapse" in label.lower() else BLUE for label in labels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.45 * len(found) + 2.4))
    left.barh(range(len(found)), rates, color=colours)
    left.set_xscale("log")
    plain_log(left.xaxis)
    left.set_xlabel("messages/s (log scale)")
    left.set_title("Throughput, same load, same machine")
    right.barh(range(len(found)), cpus, color=colours)
    right.set_xscale("log")
    plain_log(right.xaxis)
    right.set_xlabel("server CPU ms per message (log scale)")
    right.set_title("Server CPU time per message")
    for ax, values, fmt in ((left, rates, "{:,.0f}"), (right, cpus, "{:,.2f}")):
        ax.set_yticks(range(len(found)), labels if ax is left else [""] * len(found), fontsize=8)
        ax.invert_yaxis()
        for i, value in enumerate(values):
            if math.isfinite(value):
                ax.annotate(fmt.format(value), (value, i), xytext=(3, 0),
                            textcoords="offset points", va="center", fontsize=7)  # fmt: skip
        ax.margins(x=0.2)
    finish(fig, out / "synapse.png", caption(document, quick))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--out", type=Path, help="where the PNGs go (default <results>/plots)")
    options = parser.parse_args()
    out: Path = options.out or options.results / "plots"
    out.mkdir(parents=True, exist_ok=True)
    summary = load(options.results, "run_all") or {}
    quick = bool(summary.get("quick"))
    drawn = 0
    failures = 0
    jobs = [
        ("send", lambda d: plot_send(d, out, quick)),
        ("inbox", lambda d: plot_inbox(d, out, quick)),
        ("twonode", lambda d: plot_twonode(d, out, quick)),
        ("synapse", lambda d: plot_synapse(d, out, quick)),
    ]
    for name, draw in jobs:
        document = load(options.results, name)
        if document is None:
            continue
        try:
            draw(document)
            drawn += 1
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            failures += 1
            print(f"plot: {name}.json: cannot plot ({type(exc).__name__}: {exc})", file=sys.stderr)
    try:
        plot_delivery(options.results, out, quick)
        drawn += 1
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        failures += 1
        print(f"plot: delivery: cannot plot ({type(exc).__name__}: {exc})", file=sys.stderr)
    if not drawn:
        print(f"plot: no results in {options.results}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
