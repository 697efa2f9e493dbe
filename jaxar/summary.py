"""Model summary: parameters and multiply-adds per stage.

    python -m jaxar.summary x3d_ugt [--num-classes 60] [--frames T] [--size S] [--json]

Counts come from shape tracing (no compute), so full size is instant.  MACs
are multiply-adds of convs and dense layers (the convention of X3D's and the
paper's "FLOPs").  ``--json`` prints one object with ``params`` and ``macs``
totals plus the per-stage rows.
"""
from __future__ import annotations

import argparse
import json
import sys

from jaxar.complexity import profile
from jaxar.registry import create_config, list_variants


def format_table(variant: str, prof) -> str:
    lines = [f"{variant}  input {'x'.join(map(str, prof.input_shape))} (N,T,H,W,C)",
             f"{'part':<10}{'params':>12}{'MACs (G)':>12}"]
    for r in prof.rows:
        lines.append(f"{r['name']:<10}{r['params']:>12,}{r['macs'] / 1e9:>12.3f}")
    lines.append(f"{'total':<10}{prof.params:>12,}{prof.macs / 1e9:>12.3f}")
    lines.append(f"({prof.params / 1e3:.1f} K parameters, {prof.macs / 1e9:.2f} GMACs; "
                 f"{prof.batch_stats:,} BN statistics not counted as parameters)")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jaxar.summary", description=__doc__.split("\n")[0])
    ap.add_argument("variant", nargs="?", default="x3d_ugt", help=f"one of: {', '.join(list_variants())}")
    ap.add_argument("--num-classes", type=int, default=60)
    ap.add_argument("--frames", type=int, default=None, help="default: the variant's (16 for the paper's)")
    ap.add_argument("--size", type=int, default=None, help="default: the variant's (224 for the paper's)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    try:
        overrides = {"num_classes": args.num_classes, "frames": args.frames, "size": args.size}
        cfg = create_config(args.variant, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as e:
        ap.error(str(e))
    prof = profile(cfg)
    if args.json:
        print(json.dumps({"variant": args.variant, **prof.as_dict()}))
    else:
        print(format_table(args.variant, prof))
    return 0


if __name__ == "__main__":
    sys.exit(main())
