"""EAN learning check on the synthetic motion set (CPU-sized).

    OMP_NUM_THREADS=1 python benchmarks/ean_synthetic.py [--variant ean_r50] [--workdir runs/ean_synth]

Trains ``experiments/ean.py:VARIANT,synthetic`` (the variant's ``small()``
widths, 8 segments of 32x32, 10 motion classes in time-reversed pairs, the
family's step schedule over 20 epochs at lr 0.02, batch 32, one warm-up epoch,
dropout 0.2; see ``experiments/ean.py::synthetic_check``) through the project's
training loop and prints the held-out top-1 / top-5 after every evaluation
(chance: 10 %; a network that ignores time is capped near 50 %). Writes
``<workdir>/ean_synthetic_<variant>.json`` atomically; ``--plot`` draws every
such file of the workdir into ``<workdir>/ean_synthetic.png``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def plot_curves(workdir: Path, out: Path) -> list[str]:
    """Held-out top-1 against step for every ``ean_synthetic_*.json`` of ``workdir``
    into ``out`` (PNG, written atomically); returns the variants drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from jaxar.runtime.files import atomic_path
    files = sorted(workdir.glob("ean_synthetic_*.json"))
    if not files:
        raise FileNotFoundError(f"{workdir}: no ean_synthetic_*.json to plot (run a variant first)")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    drawn = []
    for f in files:
        doc = json.loads(f.read_text())
        steps = [r["step"] for r in doc["curve"]]
        ax.plot(steps, [100 * r["top1"] for r in doc["curve"]], marker="o", label=doc["variant"])
        drawn.append(doc["variant"])
    ax.axhline(10, color="grey", ls=":", label="chance (10 %)")
    ax.axhline(50, color="grey", ls="--", lw=0.8, label="time-blind cap (~50 %)")
    ax.set_xlabel("training step (batch 32)")
    ax.set_ylabel("held-out top-1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title("EAN narrow, synthetic motion set (8 x 32^2)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return drawn


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", default="ean_r50")
    ap.add_argument("--workdir", default="runs/ean_synth")
    ap.add_argument("--epochs", type=float, default=None, help="shorten the run (decays scale along)")
    ap.add_argument("--plot", action="store_true",
                    help="only draw <workdir>/ean_synthetic_*.json into <workdir>/ean_synthetic.png")
    args = ap.parse_args(argv)
    if args.plot:
        try:
            drawn = plot_curves(Path(args.workdir), Path(args.workdir) / "ean_synthetic.png")
        except FileNotFoundError as e:
            ap.error(str(e))
        print(f"wrote {Path(args.workdir) / 'ean_synthetic.png'} ({', '.join(drawn)})")
        return 0
    from jaxar.runtime.files import atomic_write_json
    from jaxar.train.loop import train_and_evaluate
    from jaxar.train.config import load_config
    cfg = load_config(f"{ROOT / 'experiments' / 'ean.py'}:{args.variant},synthetic")
    cfg.progress = False
    if args.epochs:
        scale = args.epochs / cfg.epochs
        cfg.optim.decay_epochs = tuple(e * scale for e in cfg.optim.decay_epochs)
        cfg.epochs = args.epochs
    work = Path(args.workdir) / args.variant
    t0 = time.time()
    res = train_and_evaluate(cfg, work)
    curve = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    curve = [{"step": r["step"], "top1": r.get("top1"), "top5": r.get("top5")}
             for r in curve if r.get("kind") == "eval"]
    for r in curve:
        print(f"step {r['step']:5d}  held-out top-1 {100 * r['top1']:5.1f} %  top-5 {100 * r['top5']:5.1f} %")
    atomic_write_json(Path(args.workdir) / f"ean_synthetic_{args.variant}.json",
                      {"variant": args.variant, "curve": curve, "final": res["eval"],
                       "seconds": time.time() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
