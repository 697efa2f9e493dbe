"""Latency plots (PNG) for deployment profiles and the ONNX benchmark.

``latency_plot(results, path)`` draws one bar per (runtime, batch) at p50
latency with a whisker to p99 and the p90 as a tick; ``results`` are
:mod:`export.deploy_profile` dicts. matplotlib is imported lazily (Agg).
"""
from __future__ import annotations

import os


def latency_plot(results: list[dict], path: str | os.PathLike, title: str = "Latency per call") -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, p50, p90, p99 = [], [], [], []
    for r in results:
        for b in r["batches"]:
            if "p50_ms" not in b:
                continue
            labels.append(f"{r['runtime']}\nbatch {b['batch']}")
            p50.append(b["p50_ms"])
            p90.append(b["p90_ms"])
            p99.append(b["p99_ms"])
    if not labels:
        raise ValueError("no measured batches to plot")
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(labels)), 4.0))
    xs = range(len(labels))
    ax.bar(xs, p50, color="#4c78a8", label="p50")
    ax.errorbar(xs, p50, yerr=[[0] * len(p50), [b - a for a, b in zip(p50, p99)]], fmt="none",
                ecolor="black", capsize=4, label="to p99")
    ax.scatter(xs, p90, marker="_", s=200, color="#e45756", label="p90", zorder=3)
    for x, v in zip(xs, p50):
        ax.annotate(f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
    return str(path)
