"""Held-out top-1 (and train loss terms) of CD-KD runs against each other.

    python benchmarks/plot_cdkd_runs.py --out docs/cdkd_proxy_curves.png \
        KD=runs/cdkd_kd no-KD=runs/cdkd_ce

Reads each work directory's ``log.jsonl`` (``jaxar.distill.train``) and draws
eval top-1 per step (left) and the train CE / spatial / temporal terms (right);
prints the final and best eval top-1 of each run as a markdown table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def read(workdir: Path) -> list[dict]:
    path = workdir / "log.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (not a jaxar.distill.train work directory?)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("runs", nargs="+", help="LABEL=WORKDIR")
    ap.add_argument("--out", required=True, help="PNG to write")
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    print("| run | final eval top-1 | best eval top-1 |\n|---|---|---|")
    for item in args.runs:
        label, sep, wd = item.partition("=")
        if not sep:
            ap.error(f"run {item!r}: expected LABEL=WORKDIR")
        log = read(Path(wd))
        ev = [r for r in log if r["kind"] == "eval"]
        tr = [r for r in log if r["kind"] == "train"]
        left.plot([r["step"] for r in ev], [100 * r["top1"] for r in ev], marker="o", label=label)
        for key, style in (("ce", "-"), ("spatial", "--"), ("temporal", ":")):
            if any(r.get(key, 0) for r in tr):
                right.plot([r["step"] for r in tr], [r[key] for r in tr], style, label=f"{label} {key}")
        print(f"| {label} | {100 * ev[-1]['top1']:.1f} % | {100 * max(r['top1'] for r in ev):.1f} % |")
    left.set(xlabel="step", ylabel="held-out top-1 (%)", title="eval top-1")
    right.set(xlabel="step", ylabel="loss", title="train loss terms", yscale="log")
    left.legend()
    right.legend(fontsize=7)
    fig.tight_layout()
    from jaxar.runtime.files import atomic_open
    with atomic_open(args.out, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
