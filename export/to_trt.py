"""Export an X3D-UGT checkpoint to SavedModel, ONNX and a TensorRT engine.

    python export/to_trt.py --checkpoint work_dirs/run1 --out artifacts/run1
    python export/to_trt.py --variant x3d_ugt --out artifacts/demo        # random-init demo
    python export/to_trt.py --variant x3d_ugt_tiny --frames 4 --size 32 --out /tmp/tiny

Writes the SavedModel, both ONNX exports (jax2onnx and jax2tf -> TFLite ->
tf2onnx), the chosen default ``model.onnx``, the TensorRT plan (or, without
TensorRT/GPU, ``build_engine.sh`` with the exact ``trtexec`` command),
``parity.json/md``, ``profile.json`` + ``latency.png``, ``labels.json``,
``preprocessing.json`` and ``manifest.json``. Exit status: 0 when parity
passed (TensorRT missing is not an error), 1 when it failed, 2 on bad arguments.
Runs from the repository root of a clone; see docs/deploy.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:                  # `python export/to_trt.py` from a fresh clone
    sys.path.insert(0, str(ROOT))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python export/to_trt.py", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:6]))
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="work directory or checkpoint directory of a trained run")
    src.add_argument("--variant", help="random-init demo of a registered variant (e.g. x3d_ugt)")
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--num-classes", type=int, default=60, help="--variant only (default 60)")
    ap.add_argument("--frames", type=int, default=None, help="clip length T (default: the model's)")
    ap.add_argument("--size", type=int, default=None, help="resolution H=W (default: the model's)")
    ap.add_argument("--batch", type=int, default=1, help="static batch of the exports (default 1)")
    ap.add_argument("--dynamic-batch", action="store_true",
                    help="dynamic batch dimension; TensorRT profile min 1 / opt --batch / max --max-batch")
    ap.add_argument("--max-batch", type=int, default=8, help="largest batch (dynamic profile, parity chunks)")
    ap.add_argument("--precision", choices=("fp16", "fp32", "int8"), default="fp16", help="TensorRT precision")
    ap.add_argument("--calib-clips", help="uint8 clips .npy (N,T,H,W,3) for INT8 calibration")
    ap.add_argument("--clips", help="uint8 clips .npy (N,T,H,W,3) for the parity report (default synthetic)")
    ap.add_argument("--num-clips", type=int, default=16, help="synthetic parity clips (default 16)")
    ap.add_argument("--routes", default="jax2onnx,tflite", help="ONNX routes, comma-separated")
    ap.add_argument("--no-profile", action="store_true", help="skip the latency/memory profile")
    ap.add_argument("--profile-runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--no-tensorrt", action="store_true", help="stop after ONNX")
    ap.add_argument("--seed", type=int, default=0, help="--variant only")
    return ap


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    for name in ("batch", "max_batch", "num_clips", "profile_runs", "num_classes"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be positive")
    if args.frames is not None and args.frames < 1 or args.size is not None and args.size < 8:
        ap.error("--frames must be >= 1 and --size >= 8")
    for name in ("clips", "calib_clips"):
        value = getattr(args, name)
        if value and not Path(value).is_file():
            ap.error(f"--{name.replace('_', '-')} file not found: {value}")
    routes = tuple(r.strip() for r in args.routes.split(",") if r.strip())
    from export.pipeline import ROUTES, export_all
    from export.sources import from_checkpoint, from_variant, with_input_size
    if not routes or set(routes) - set(ROUTES):
        ap.error(f"--routes must name some of {', '.join(ROUTES)}")
    try:
        if args.checkpoint:
            source = from_checkpoint(args.checkpoint)
        else:
            source = from_variant(args.variant, num_classes=args.num_classes, seed=args.seed)
        source = with_input_size(source, args.frames, args.size)
        result = export_all(source, args.out, batch=args.batch, dynamic_batch=args.dynamic_batch,
                            max_batch=args.max_batch, precision=args.precision, routes=routes,
                            clips=args.clips, num_clips=args.num_clips, profile=not args.no_profile,
                            profile_runs=args.profile_runs, threads=args.threads,
                            tensorrt=not args.no_tensorrt, calib_clips=args.calib_clips,
                            log=lambda m: print(m, flush=True))
    except (FileNotFoundError, ValueError) as e:
        ap.error(str(e))
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    trt = result.get("tensorrt") or {}
    if trt and not trt.get("built"):
        print("\nTensorRT engine NOT built here (missing: " + "; ".join(trt["missing"]) + ").\n"
              f"On the Jetson, from {args.out}:\n  {trt['trtexec']}\n(also saved as build_engine.sh)")
    print(f"\nparity: {'PASS' if result['parity']['passed'] else 'FAIL'}; default ONNX {result['default_onnx']}")
    print(f"recognise actions with this bundle (numpy + OpenCV + onnxruntime only): "
          f"python3 {Path(args.out) / 'runtime' / 'run.py'} VIDEO --out results.jsonl  (docs/predict.md)")
    return 0 if result["parity"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
