"""Draws bench/burst/drain.png from bench/burst/results.json (run by bench/burst.py with
PLOT_PYTHON, the venv that has matplotlib).

usage: burst_plot.py results.json drain.png
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    r = json.load(open(src))
    s = r["samples"]
    t = [p["t"] for p in s]
    fig, ax = plt.subplots(figsize=(9, 5.2), dpi=110)
    ax.axvspan(0, r["publish_s"] or r["publish_window_s"], color="tab:orange", alpha=0.15,
               label=f"publishing ({r['published']} events, {r['publish_s']} s)")
    ax.plot(t, [p["depth"] for p in s], color="tab:blue", lw=1.8, label="queue depth (visible + in flight)")
    ax.plot(t, [p["in_flight"] for p in s], color="tab:blue", lw=0.8, ls="--", label="in flight")
    if any(p["dlq"] for p in s):
        ax.plot(t, [p["dlq"] for p in s], color="tab:red", lw=1.2, label="DLQ")
    ax.set_xlabel("seconds since the first publish")
    ax.set_ylabel("messages")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax2 = ax.twinx()
    rates = [(p["t"], p["rate"]) for p in r["consumed"] if p["rate"] is not None]
    if rates:
        ax2.plot([x for x, _ in rates], [y for _, y in rates], color="tab:green", lw=1, alpha=0.8,
                 label="consumed per second (5 s window)")
    ax2.set_ylabel("messages / s consumed", color="tab:green")
    ax2.set_ylim(bottom=0)
    inv = r["invocations"]
    drain = f"drained in {r['drain_s']} s" if r["drained"] else f"not drained: {r['left_in_queue']} left"
    ax.set_title(f"{r['consumer']}: {r['published']} events in {r['publish_window_s']:g} s; peak {r['peak_depth']}, "
                 f"{drain}, {r['messages_per_s']['mean']} msg/s, concurrency ≤ {inv['max_overlapping']}, lost {r['lost']}",
                 fontsize=9)
    lines, labels = ax.get_legend_handles_labels()
    l2, lab2 = ax2.get_legend_handles_labels()
    ax.legend(lines + l2, labels + lab2, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
