"""Short synthetic-set training run per model family, at a CPU-sized width.

Trains each requested variant, narrowed by its family's entry in
:data:`NARROW`, through the project's training loop
(:func:`jaxar.train.loop.train_and_evaluate`) on the embedded synthetic
action set (10 motion classes, 8 frames of 32x32; the recipe of
``experiments/synthetic_demo.py``: SGD + cosine, Poly-1, batch 32), and
reports the held-out top-1 of the final step. Chance is 10 %. It shows that
the family's blocks learn motion, not the full-size accuracy.

    python benchmarks/bench_synthetic_baselines.py                       # x3d_xs + x3d_ugt_tiny
    python benchmarks/bench_synthetic_baselines.py --variants x3d_xs --epochs 5

Writes ``<workdir>/<variant>/`` (the run: log, checkpoints, plots) and
``<workdir>/bench_synthetic_baselines.json``. Progress comes from the
training loop.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# CPU-sized width of each family (overrides of its config). X3D: the XS/S/M
# network at demo widths; every X3D variant becomes this one network at the
# synthetic input, so the family needs one run.
NARROW = {
    "x3d": dict(stem_width=8, widths=(8, 16, 24, 32), depths=(1, 2, 2, 2), head_width=64,
                head_hidden=128, dropout=0.2),
    "x3d_ugt": {},                      # x3d_ugt_tiny is already narrow
}


def train_config(variant: str, epochs: float, seed: int):
    """The synthetic demo recipe (``experiments/synthetic_demo.py``) with its
    model swapped for ``variant`` narrowed by :data:`NARROW`, at the demo's
    classes, frames and size. Returns ``(run config, family)``."""
    from jaxar.registry import create_config
    from jaxar.train.config import load_config, model_section
    family = getattr(create_config(variant), "family", "x3d_ugt")
    if family not in NARROW:
        raise ValueError(f"no CPU-sized width for family {family!r} (variant {variant}); "
                         f"add it to NARROW (have {sorted(NARROW)})")
    cfg = load_config(ROOT / "experiments" / "synthetic_demo.py")
    demo = cfg.model
    cfg.model = model_section(variant, num_classes=demo.num_classes, frames=demo.frames, size=demo.size,
                              **NARROW[family])
    cfg.epochs, cfg.seed, cfg.progress = float(epochs), seed, False
    return cfg, family


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_synthetic_baselines.py",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=["x3d_xs", "x3d_ugt_tiny"])
    ap.add_argument("--epochs", type=float, default=15.0, help="training epochs (default 15, the demo's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="artifacts/synthetic_baselines")
    args = ap.parse_args(argv)
    from jaxar.registry import list_variants
    unknown = [v for v in args.variants if v not in list_variants()]
    if unknown:
        ap.error(f"--variants: unknown {unknown}; registered: {', '.join(list_variants())}")
    if args.epochs <= 0:
        ap.error("--epochs must be positive")
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
        try:
            cfg, family = train_config(variant, args.epochs, args.seed)
        except ValueError as e:
            ap.error(str(e))
        prof = profile(model_config(cfg))
        print(f"== {variant} ({family}): {prof.params / 1e3:.1f} K params, "
              f"{prof.macs / 1e6:.1f} M MACs at {'x'.join(map(str, prof.input_shape[1:4]))}", flush=True)
        t = time.time()
        res = train_and_evaluate(cfg, out / variant)
        rows.append({"variant": variant, "family": family, "params": prof.params, "macs": prof.macs,
                     "epochs": args.epochs, "steps": res["step"], "top1": res["eval"]["top1"],
                     "top5": res["eval"]["top5"], "eval_clips": res["eval"]["count"],
                     "seconds": round(time.time() - t, 1)})
        print(f"== {variant}: held-out top-1 {100 * rows[-1]['top1']:.1f}% on "
              f"{rows[-1]['eval_clips']} clips after {res['step']} steps ({rows[-1]['seconds']:.0f} s)",
              flush=True)
    path = out / "bench_synthetic_baselines.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    os.replace(tmp, path)
    print(f"\n{'variant':<16}{'family':<10}{'params K':>10}{'MMACs':>9}{'steps':>7}{'top-1 %':>9}{'s':>7}")
    for r in rows:
        print(f"{r['variant']:<16}{r['family']:<10}{r['params'] / 1e3:>10.1f}{r['macs'] / 1e6:>9.1f}"
              f"{r['steps']:>7}{100 * r['top1']:>9.1f}{r['seconds']:>7.0f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
