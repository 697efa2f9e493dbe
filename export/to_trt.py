"""Export a checkpoint of any registered model family to SavedModel, ONNX and a TensorRT engine.

    python export/to_trt.py --checkpoint work_dirs/run1 --out artifacts/run1
    python export/to_trt.py --variant x3d_ugt --out artifacts/demo        # random-init demo
    python export/to_trt.py --variant x3d_ugt_tiny --frames 4 --size 32 --out /tmp/tiny
    python export/to_trt.py --checkpoint runs/cdkd_kd --out artifacts/cdkd   # CD-KD: three inputs

Writes the SavedModel, both ONNX exports (jax2onnx and jax2tf -> TFLite ->
tf2onnx), the default ``model.onnx``, the TensorRT plan (or, without
TensorRT/GPU, ``build_engine.sh``), ``parity.json/md``, ``profile.json`` +
``latency.png``, the model record (``config.json``, ``jax_variables.npz``,
``labels.json``, ``preprocessing.json``, ``record.json``) and
``manifest.json``. ``--out`` must be new or empty (or pass ``--overwrite``).
Exit status: 0 when parity passed (TensorRT missing is not an error), 1 when
it failed, 2 on bad arguments, a bad checkpoint or an unusable ``--out``.
Needs the package installed (``pip install -e .``); see docs/deploy.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export.options import DEFAULT_LAYOUT, LAYOUTS, PRECISIONS, ROUTES, ExportOptions


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python export/to_trt.py", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:6]))
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="work directory or checkpoint directory of a trained run")
    src.add_argument("--variant", help="random-init demo of a registered variant (e.g. x3d_ugt)")
    ap.add_argument("--out", required=True, help="output directory (new or empty, see --overwrite)")
    ap.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty --out")
    ap.add_argument("--num-classes", type=int, default=60, help="--variant only (default 60)")
    ap.add_argument("--seed", type=int, default=0, help="--variant only")
    ap.add_argument("--frames", type=int, default=None, help="clip length T (default: the model's)")
    ap.add_argument("--size", type=int, default=None, help="resolution H=W (default: the model's)")
    ap.add_argument("--batch", type=int, default=1, help="static batch of the exports (default 1)")
    ap.add_argument("--dynamic-batch", action="store_true",
                    help="dynamic batch dimension; TensorRT profile min 1 / opt --batch / max --max-batch")
    ap.add_argument("--max-batch", type=int, default=8, help="largest batch (dynamic profile, parity chunks)")
    ap.add_argument("--layout", choices=LAYOUTS, default=DEFAULT_LAYOUT,
                    help="internal layout of the deploy form after the stem (default %(default)s)")
    ap.add_argument("--precision", choices=PRECISIONS, default="fp16", help="TensorRT precision")
    ap.add_argument("--calib-clips", help="uint8 clips .npy (N,T,H,W,3) for INT8 calibration (required for int8)")
    ap.add_argument("--clips", help="uint8 clips .npy (N,T,H,W,3) for the parity report (default synthetic)")
    ap.add_argument("--num-clips", type=int, default=16, help="synthetic parity clips (default 16)")
    ap.add_argument("--xla-clips", type=int, default=2,
                    help="parity clips the XLA-run forms (JAX deploy form, TF SavedModel) get; "
                         "default 2: XLA's CPU depthwise convs make them the slow runtimes")
    ap.add_argument("--routes", default=",".join(ROUTES), help="ONNX routes, comma-separated")
    ap.add_argument("--no-savedmodel", action="store_true", help="skip the SavedModel (needs --routes jax2onnx)")
    ap.add_argument("--no-profile", action="store_true", help="skip the latency/memory profile")
    ap.add_argument("--profile-runs", type=int, default=10,
                    help="timed runs per batch size of the ONNX Runtime profile (default 10)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--no-tensorrt", action="store_true", help="stop after ONNX")
    return ap


def options_from_args(args: argparse.Namespace) -> ExportOptions:
    return ExportOptions(
        batch=args.batch, dynamic_batch=args.dynamic_batch, max_batch=args.max_batch,
        precision=args.precision, calib_clips=args.calib_clips,
        routes=tuple(r.strip() for r in args.routes.split(",") if r.strip()),
        savedmodel=not args.no_savedmodel, clips=args.clips, num_clips=args.num_clips,
        xla_clips=args.xla_clips, profile=not args.no_profile,
        profile_runs=args.profile_runs, threads=args.threads, tensorrt=not args.no_tensorrt,
        layout=args.layout, overwrite=args.overwrite)


def main(argv=None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.num_classes < 1:
        ap.error("--num-classes must be positive")
    if args.frames is not None and args.frames < 1 or args.size is not None and args.size < 8:
        ap.error("--frames must be >= 1 and --size >= 8")
    for name in ("clips", "calib_clips"):
        value = getattr(args, name)
        if value and not Path(value).is_file():
            ap.error(f"--{name.replace('_', '-')} file not found: {value}")
    try:
        opts = options_from_args(args)
    except ValueError as e:
        ap.error(str(e))
    from export.pipeline import ExportFailed, export, prepare_output
    from export.sources import from_checkpoint, from_variant, with_input_size
    try:
        prepare_output(Path(args.out).absolute(), args.overwrite).rmdir()   # fail before loading anything
        if args.checkpoint:
            record = from_checkpoint(args.checkpoint)
        else:
            record = from_variant(args.variant, num_classes=args.num_classes, seed=args.seed)
        record = with_input_size(record, args.frames, args.size)
        result = export(record, args.out, opts, log=lambda m: print(m, flush=True))
    except (FileNotFoundError, ValueError) as e:
        ap.error(str(e))
    except ExportFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    trt = result.get("tensorrt") or {}
    if trt and not trt.get("built"):
        print("\nTensorRT engine NOT built here (missing: " + "; ".join(trt["missing"]) + ").\n"
              f"On the Jetson, from {args.out}: sh build_engine.sh"
              + (f"\n  i.e. {trt['trtexec']}" if trt.get("trtexec") else ""))
    print(f"\nparity: {'PASS' if result['parity']['passed'] else 'FAIL'}; default ONNX {result['default_onnx']}")
    if result.get("input_domain") == "compressed":
        print("compressed-domain model (three inputs: iframe, mv, residual): its runtime also needs PyAV "
              "(pip install av==18.1.0) and reads MPEG-4 Part 2 files (--reencode converts others)")
    print(f"recognise actions with this bundle (numpy + OpenCV + onnxruntime only): "
          f"python3 {Path(args.out) / 'runtime' / 'run.py'} VIDEO --out results.jsonl\n"
          f"  or, here: python -m jaxar.predict VIDEO --bundle {args.out} --out results.jsonl  (docs/predict.md)")
    return 0 if result["parity"]["passed"] else 1


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # `kill` cleans up the build directory too
    sys.exit(main())
