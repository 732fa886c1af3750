"""Plots bench/coupling/results.json (written by bench/coupling.py) to a PNG.

Run with the matplotlib venv of bench/install-plot.sh (boto3 lives in another venv, so
bench/coupling.py measures and this draws):

    coupling_plot.py <results.json> <out.png>

Left: login latency per fraud mode, p50 as the bar and p99 as the marker above it. Right:
the share of logins answered 2xx.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

VARIANTS = (("loose", "event-driven (shop)", "#2b7bba"), ("tight", "tightly coupled", "#d95f02"))


def main() -> None:
    results_path, out_path = sys.argv[1], sys.argv[2]
    with open(results_path) as f:
        results = json.load(f)
    modes = results["modes"]
    labels = []
    for mode in modes:
        call = mode["fraud_call"]["duration_ms"].get("median")
        labels.append(f"{mode['mode']}\n(fraud call {call / 1000:.2f} s)" if call else mode["mode"])
    x = range(len(modes))
    width = 0.38
    fig, (lat, ok) = plt.subplots(1, 2, figsize=(11, 4.6))
    for i, (name, label, colour) in enumerate(VARIANTS):
        offset = [p + (i - 0.5) * width for p in x]
        p50 = [m["variants"][name]["latency_ms"].get("p50") or 0 for m in modes]
        p99 = [m["variants"][name]["latency_ms"].get("p99") or 0 for m in modes]
        lat.bar(offset, p50, width, label=f"{label} p50", color=colour)
        lat.scatter(offset, p99, marker="_", s=400, linewidths=2.5, color="black",
                    label="p99" if i == 1 else None, zorder=3)
        for xo, v in zip(offset, p50):
            lat.annotate(f"{v:,.0f}", (xo, v), ha="center", va="bottom", fontsize=8)
        rate = [(m["variants"][name]["success_rate"] or 0) * 100 for m in modes]
        ok.bar(offset, rate, width, label=label, color=colour)
        for xo, v in zip(offset, rate):
            ok.annotate(f"{v:.0f} %", (xo, v), ha="center", va="bottom", fontsize=8)
    lat.set_ylim(0, max(max((m["variants"][n]["latency_ms"].get("p99") or 0) for m in modes)
                        for n, _, _ in VARIANTS) * 1.15)
    lat.set_ylabel("login latency, ms")
    lat.set_title("Login latency: p50 (bar), p99 (marker)")
    ok.set_ylim(0, 110)
    ok.set_ylabel("logins answered 2xx, %")
    ok.set_title("Success rate")
    for ax in (lat, ok):
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels)
        ax.set_xlabel("fraud service")
        ax.grid(axis="y", alpha=0.3)
    lat.legend(fontsize=8, loc="upper left")
    ok.legend(fontsize=8, loc="lower left")
    c = results["conditions"]
    fig.suptitle(f"Coupling experiment: {c['requests']} logins per login and mode, "
                 f"{c['concurrency']} concurrent clients, LocalStack {c['localstack']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main()
