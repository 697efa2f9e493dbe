"""Short synthetic-set training run per model family, at a CPU-sized width.

Trains each requested variant, narrowed by its entry in :data:`NARROW`,
through the project's training loop (:func:`jaxar.train.loop.train_and_evaluate`)
on the embedded synthetic action set (10 motion classes, 8 frames of 32x32;
the recipe of ``experiments/synthetic_demo.py``: SGD + cosine with one warm-up
epoch, Poly-1, batch 32, ``impl="shifted"``), and reports the held-out top-1
and top-5 of the final step. Chance is 10 % top-1. The motion classes differ
only in how things move, so a network that ignores time cannot beat chance by
much: this shows that a family's blocks learn motion, not its full-size
accuracy.

    python benchmarks/bench_synthetic_baselines.py                    # one variant per family
    python benchmarks/bench_synthetic_baselines.py --variants tsm_resnet18 --epochs 4 --train-clips 1000
    python benchmarks/bench_synthetic_baselines.py --variants arc_tsm_resnet18 --set lr=0.05

Writes ``<workdir>/<variant>/`` (the run: log, checkpoints, plots) and
``<workdir>/bench_synthetic_baselines.json`` (rewritten after every variant,
atomically). Progress lines come from the training loop.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# CPU-sized width of each variant (overrides of its config) at the 8x32^2
# synthetic input. X3D-XS/S/M are one network that differs only in its input,
# so at this input they are the same narrow network (run one of them).
_X3D = dict(stem_width=8, widths=(8, 16, 24, 32), depths=(1, 2, 2, 2), head_width=64, head_hidden=128,
            dropout=0.2)
# ResNet stem (/4) + three stages (/1, /2, /2): a 2x2 map at 32x32.
_RESNET = dict(stem_width=16, widths=(16, 32, 64), depths=(1, 1, 1), dropout=0.2)
_BOTTLENECK = dict(_RESNET, widths=(8, 16, 32))                 # 4x wider outputs
NARROW = {
    "x3d_ugt_tiny": {},                                         # already narrow (the demo network)
    "x3d_xs": _X3D, "x3d_s": _X3D, "x3d_m": _X3D,
    "tsm_resnet18": _RESNET, "tsm_resnet50": _BOTTLENECK,
    "arc_tsm_resnet18": _RESNET, "arc_tsm_resnet50": _BOTTLENECK,
    "tsm_mobilenetv2": dict(stem_width=16, blocks=((1, 8, 1, 1), (6, 16, 2, 2), (6, 24, 2, 2),
                                                   (6, 32, 2, 2)), last_width=128, dropout=0.2),
}
# EAN (docs/ean.md): its small() widths; the LMC variant needs 5-frame segments (40
# frames), which the 8-frame demo input cannot give: benchmarks/ean_synthetic.py runs it.
_EAN = dict(depths=(1, 1, 1, 1), widths=(8, 16, 16, 32), stem_width=16, soitr_heads=4, me_reduction=4,
            dropout=0.2)
NARROW.update({name: _EAN for name in ("ean_r50", "ean_r50_base", "ean_r50_eab", "ean_r50_soitr",
                                       "ean_r50_eab5", "ean_r50_soitr345", "ean_r50_soitr45")})
DEFAULT = ["x3d_ugt_tiny", "x3d_xs", "tsm_resnet18", "tsm_mobilenetv2", "arc_tsm_resnet18"]
# --set KEY=VALUE: run-level fields of the recipe a diagnostic run may change.
SETTABLE = {"lr": ("optim", "lr", float), "warmup_epochs": ("optim", "warmup_epochs", float),
            "weight_decay": ("optim", "weight_decay", float), "batch_size": (None, "batch_size", int)}


def parse_sets(items: list[str]) -> dict:
    """``["lr=0.05", ...]`` -> ``{"lr": 0.05}``; ValueError naming the bad item."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in SETTABLE:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(SETTABLE)}")
        try:
            out[key] = SETTABLE[key][2](value)
        except ValueError:
            raise ValueError(f"--set {item!r}: {value!r} is not a {SETTABLE[key][2].__name__}") from None
    return out


def train_config(variant: str, epochs: float, train_clips: int, test_clips: int, seed: int,
                 sets: dict | None = None, size: int | None = None):
    """The synthetic demo recipe with its model swapped for ``variant`` narrowed
    by :data:`NARROW`, at the demo's classes, frames and formulation and at the
    demo's frame size (32) or ``size`` (clips rendered and read at ``size``);
    ``sets`` from :func:`parse_sets`. Returns the run config."""
    from jaxar.train.config import load_config, model_section
    if variant not in NARROW:
        raise ValueError(f"no CPU-sized width for {variant!r}; add it to NARROW (have {sorted(NARROW)})")
    c = load_config(ROOT / "experiments" / "synthetic_demo.py")
    size = size or c.model.size
    c.model = model_section(variant, num_classes=c.model.num_classes, frames=c.model.frames,
                            size=size, impl=c.model.impl, **NARROW[variant])
    c.data.synthetic_size = size
    c.data.synthetic_train = train_clips
    c.data.synthetic_test = test_clips
    c.epochs, c.seed, c.progress = float(epochs), seed, False
    for key, value in (sets or {}).items():
        section, field, _ = SETTABLE[key]
        (c[section] if section else c)[field] = value
    return c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python benchmarks/bench_synthetic_baselines.py",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=DEFAULT, help=f"any of {sorted(NARROW)}")
    ap.add_argument("--epochs", type=float, default=15.0, help="training epochs (default 15, the demo's)")
    ap.add_argument("--train-clips", type=int, default=2000, help="synthetic training clips (default 2000)")
    ap.add_argument("--test-clips", type=int, default=500, help="held-out clips (default 500)")
    ap.add_argument("--size", type=int, default=32, help="frame side in pixels (default 32, the demo's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help=f"change a recipe field for a diagnostic run, KEY one of {sorted(SETTABLE)}")
    ap.add_argument("--workdir", default="artifacts/synthetic_baselines")
    args = ap.parse_args(argv)
    unknown = [v for v in args.variants if v not in NARROW]
    if unknown:
        ap.error(f"--variants: no CPU-sized width for {unknown}; choose from {sorted(NARROW)}")
    if args.epochs <= 0 or args.train_clips < 32 or args.test_clips < 1 or args.size < 16:
        ap.error("--epochs must be positive, --train-clips >= 32 (one batch), --test-clips >= 1, "
                 "--size >= 16")
    try:
        sets = parse_sets(args.sets)
    except ValueError as e:
        ap.error(str(e))
    import jax
    from jaxar.runtime.files import atomic_write_json
    from jaxar.registry import model_family
    from jaxar.complexity import profile
    from jaxar.train.config import model_config
    from jaxar.train.loop import train_and_evaluate

    out = Path(args.workdir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    if not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", str(out / "xla_cache"))
    rows = []
    for variant in args.variants:
        cfg = train_config(variant, args.epochs, args.train_clips, args.test_clips, args.seed, sets,
                           args.size)
        model = model_config(cfg)
        prof = profile(model)
        print(f"== {variant} ({model_family(model)}): {prof.params / 1e3:.1f} K params, "
              f"{prof.macs / 1e6:.1f} M MACs at {'x'.join(map(str, prof.input_shape[1:4]))}", flush=True)
        t = time.time()
        res = train_and_evaluate(cfg, out / variant)
        rows.append({"variant": variant, "family": model_family(model), "params": prof.params,
                     "macs": prof.macs, "epochs": args.epochs, "train_clips": args.train_clips,
                     "size": args.size, "sets": sets, "seed": args.seed, "steps": res["step"], "top1": res["eval"]["top1"],
                     "top5": res["eval"]["top5"], "eval_clips": res["eval"]["count"],
                     "seconds": round(time.time() - t, 1)})
        print(f"== {variant}: held-out top-1 {100 * rows[-1]['top1']:.1f}% on "
              f"{rows[-1]['eval_clips']} clips after {res['step']} steps ({rows[-1]['seconds']:.0f} s)",
              flush=True)
        atomic_write_json(out / "bench_synthetic_baselines.json", {"rows": rows})
    print(f"\n{'variant':<18}{'family':<17}{'params K':>9}{'MMACs':>7}{'steps':>7}{'top-1 %':>9}"
          f"{'top-5 %':>9}{'s':>6}")
    for r in rows:
        print(f"{r['variant']:<18}{r['family']:<17}{r['params'] / 1e3:>9.1f}{r['macs'] / 1e6:>7.1f}"
              f"{r['steps']:>7}{100 * r['top1']:>9.1f}{100 * r['top5']:>9.1f}{r['seconds']:>6.0f}")
    print(f"wrote {out / 'bench_synthetic_baselines.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
