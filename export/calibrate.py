"""INT8 calibration set of an export, and the device-side INT8 engine build.

INT8 scales must come from real clips of the deployment domain. ``to_trt.py
--precision int8 --calib-clips clips.npy`` checks the clips and stores them
in the export as ``calibration_clips.npy`` (uint8 ``(N, T, H, W, 3)`` RGB, the
same format as ``--clips``). Where TensorRT exists the engine is calibrated
right away; elsewhere ``build_engine.sh`` runs this module on the device::

    PYTHONPATH=/path/to/jaxar python3 /path/to/jaxar/export/calibrate.py EXPORT_DIR

It normalises the clips as ``preprocessing.json`` says, builds
``model_int8.plan`` from ``model.onnx`` with TensorRT's entropy calibrator and
the optimization profile recorded in ``manifest.json``, and writes
``calibration.cache`` (with it, ``trtexec --int8 --calib=calibration.cache``
reproduces the engine). Needs numpy, onnx, TensorRT's Python bindings and
cuda-python; not JAX or TensorFlow. Exit status 2 on a bad export directory, 1
when TensorRT is missing.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

CLIPS_FILE = "calibration_clips.npy"


def write_calibration_set(clips_path: str | os.PathLike, frames: int, size: int, min_clips: int,
                          out_dir: str | os.PathLike) -> dict:
    """Checks the uint8 clips in ``clips_path`` against the export's input and
    stores them as ``out_dir/calibration_clips.npy``; returns ``{"file", "clips"}``.

    Raises ``ValueError`` naming ``--calib-clips`` when there are fewer than
    ``min_clips`` (one batch of the engine's "opt" profile).
    """
    from export.preprocess import load_clips
    from jaxar.runtime.files import atomic_write_bytes
    import io
    clips = load_clips(clips_path, frames, size)
    if len(clips) < min_clips:
        raise ValueError(f"--calib-clips {clips_path}: {len(clips)} clips, the INT8 calibrator needs at "
                         f"least one batch of {min_clips}")
    buf = io.BytesIO()
    np.save(buf, clips)
    atomic_write_bytes(Path(out_dir) / CLIPS_FILE, buf.getvalue())
    return {"file": CLIPS_FILE, "clips": int(len(clips))}


def normalise(clips_uint8: np.ndarray, prep: dict) -> np.ndarray:
    """uint8 ``(N, T, H, W, 3)`` -> float32 ``(N, T, 3, H, W)`` with ``prep``'s mean/std."""
    from jaxar.runtime.preprocess import normalise as normalise_nthwc, to_ntchw
    return to_ntchw(normalise_nthwc(clips_uint8, prep["mean"], prep["std"]))


def build_int8(export_dir: str | os.PathLike, log=print) -> Path:
    """Calibrates and builds ``model_int8.plan`` in ``export_dir`` (see module doc)."""
    from export.tensorrt_engine import build_engine
    out = Path(export_dir)
    need = [out / n for n in ("model.onnx", CLIPS_FILE, "preprocessing.json", "manifest.json")]
    missing = [str(p) for p in need if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{out}: not an INT8 export directory; missing {', '.join(missing)}")
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        prep = json.loads((out / "preprocessing.json").read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{out}: manifest.json or preprocessing.json is not valid JSON ({e})") from e
    profile = tuple((manifest.get("tensorrt") or {}).get("profile") or (1, 1, 1))
    x = normalise(np.load(out / CLIPS_FILE), prep)
    log(f"calibrating on {len(x)} clips from {CLIPS_FILE}, profile {profile}")
    return build_engine(out / "model.onnx", out / "model_int8.plan", "int8", batch=profile,
                        timing_cache=out / "timing.cache", calib_clips=x,
                        calib_cache=out / "calibration.cache", log=log)


def main(argv=None) -> int:
    import argparse
    from export.tensorrt_engine import TensorRTUnavailable
    ap = argparse.ArgumentParser(prog="python3 export/calibrate.py", description=__doc__.split("\n")[0])
    ap.add_argument("export_dir", help="an export directory written with --precision int8")
    args = ap.parse_args(argv)
    try:
        plan = build_int8(args.export_dir)
    except (FileNotFoundError, ValueError) as e:
        ap.error(str(e))
    except TensorRTUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {plan}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
