"""Short synthetic-set training run for the TSM / ARC families, at a CPU-sized width.

Trains each requested variant, narrowed by :data:`NARROW`, through the
project's training loop (:func:`jaxar.train.loop.train_and_evaluate`) on the
embedded synthetic action set (10 motion classes, 8 frames of 32x32; the
recipe of ``experiments/synthetic_demo.py``: SGD + cosine, Poly-1, batch 32,
``impl="shifted"``, the fast CPU formulation of MobileNetV2's depthwise convs)
and reports the held-out top-1 of the final step. Chance is 10 %; the motion
classes differ only in how things move, so a network that ignores time
cannot beat chance by much. This shows the family learns motion, not its
full-size accuracy.

    python benchmarks/bench_synthetic_tsm.py                                  # one variant per family
    python benchmarks/bench_synthetic_tsm.py --variants tsm_resnet18 --epochs 4 --train-clips 1000

Writes ``<workdir>/<variant>/`` (the run: log, checkpoints, plots) and
``<workdir>/bench_synthetic_tsm.json``. Progress lines come from the training loop.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# CPU-sized widths (config overrides). Three stages keep a 2x2 map at 32x32.
_RESNET = dict(stem_width=16, widths=(16, 32, 64), depths=(1, 1, 1), dropout=0.2)
NARROW = {
    "tsm_resnet18": _RESNET,
    "tsm_resnet50": dict(_RESNET, widths=(8, 16, 32)),            # bottleneck: 4x outputs
    "arc_tsm_resnet18": _RESNET,
    "arc_tsm_resnet50": dict(_RESNET, widths=(8, 16, 32)),
    "tsm_mobilenetv2": dict(stem_width=16, blocks=((1, 8, 1, 1), (6, 16, 2, 2), (6, 24, 2, 2),
                                                   (6, 32, 2, 2)), last_width=128, dropout=0.2),
}
DEFAULT = ["tsm_resnet18", "tsm_mobilenetv2", "arc_tsm_resnet18"]


def train_config(variant: str, epochs: float, train_clips: int, test_clips: int, seed: int):
    """The synthetic demo recipe with ``variant`` narrowed (see :data:`NARROW`)."""
    from jaxar.train.config import load_config, model_section
    c = load_config(ROOT / "experiments" / "synthetic_demo.py")
    c.model = model_section(variant, num_classes=c.model.num_classes, frames=c.model.frames,
                            size=c.model.size, impl=c.model.impl, **NARROW[variant])
    c.data.synthetic_train = train_clips
    c.data.synthetic_test = test_clips
    c.epochs = float(epochs)
    c.seed = seed
    c.progress = False
    return c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_synthetic_tsm.py",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=DEFAULT, help=f"any of {sorted(NARROW)}")
    ap.add_argument("--epochs", type=float, default=15.0, help="training epochs (default 15, the demo's)")
    ap.add_argument("--train-clips", type=int, default=2000)
    ap.add_argument("--test-clips", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="artifacts/synthetic_tsm")
    args = ap.parse_args(argv)
    unknown = [v for v in args.variants if v not in NARROW]
    if unknown:
        ap.error(f"--variants: no CPU-sized width for {unknown}; choose from {sorted(NARROW)}")
    if args.epochs <= 0 or args.train_clips < 32 or args.test_clips < 1:
        ap.error("--epochs must be positive, --train-clips >= 32 (one batch), --test-clips >= 1")
    import jax
    from jaxar.complexity import profile
    from jaxar.train.config import model_config
    from jaxar.train.loop import train_and_evaluate

    out = Path(args.workdir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(out / "xla_cache"))
    rows = []
    for variant in args.variants:
        cfg = train_config(variant, args.epochs, args.train_clips, args.test_clips, args.seed)
        prof = profile(model_config(cfg))
        print(f"== {variant}: {prof.params / 1e3:.1f} K params, {prof.macs / 1e6:.1f} M MACs "
              f"at {'x'.join(map(str, prof.input_shape[1:4]))}", flush=True)
        t = time.time()
        res = train_and_evaluate(cfg, out / variant)
        rows.append({"variant": variant, "params": prof.params, "macs": prof.macs,
                     "epochs": args.epochs, "train_clips": args.train_clips, "steps": res["step"],
                     "top1": res["eval"]["top1"], "top5": res["eval"]["top5"],
                     "eval_clips": res["eval"]["count"], "seconds": round(time.time() - t, 1)})
        print(f"== {variant}: held-out top-1 {100 * rows[-1]['top1']:.1f}% on "
              f"{rows[-1]['eval_clips']} clips after {res['step']} steps ({rows[-1]['seconds']:.0f} s)",
              flush=True)
        path = out / "bench_synthetic_tsm.json"                 # rewritten after every run
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
        os.replace(tmp, path)
    print(f"\n{'variant':<18}{'params K':>10}{'MMACs':>9}{'steps':>7}{'top-1 %':>9}{'s':>7}")
    for r in rows:
        print(f"{r['variant']:<18}{r['params'] / 1e3:>10.1f}{r['macs'] / 1e6:>9.1f}"
              f"{r['steps']:>7}{100 * r['top1']:>9.1f}{r['seconds']:>7.0f}")
    print(f"wrote {out / 'bench_synthetic_tsm.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
