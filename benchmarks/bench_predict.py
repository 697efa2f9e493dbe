"""End-to-end video -> actions throughput vs model-only inference (ONNX Runtime).

On a generated 1080p video (H.264 when this OpenCV can write it, else MJPG):

* **model-only**: the bundle's model on ready float32 clips ``(1, T, 3, S, S)``;
* **decode-only**: :class:`jaxar.runtime.clips.FileClips` without a model
  (decode + crop + resize every frame, on its reader thread);
* **end-to-end**: what ``runtime/run.py`` / ``jaxar.predict`` do per window
  (decode thread + crop + resize + normalise + inference + softmax).

Each is timed ``--repeats`` times (median reported). Overhead = end-to-end
time per clip / model-only time per clip - 1. Goal: <= 25 % (decode overlapped
with inference on its own thread).

    python benchmarks/bench_predict.py --bundle artifacts/x3d_ugt     # an export at 16x224
    python benchmarks/bench_predict.py                                 # exports x3d_ugt first (minutes)
    python benchmarks/bench_predict.py --bundle B --seconds 4 --repeats 2   # quick look
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def write_1080p(path_stem: Path, seconds: float, fps: float = 30.0) -> tuple[Path, str]:
    """Moving shapes over a textured background at 1920x1080; returns (path, codec)."""
    from jaxar.runtime.video import _stderr_silenced
    w, h = 1920, 1080
    n = int(seconds * fps)
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 200, (135, 240, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    for codec, ext in (("avc1", ".mp4"), ("H264", ".mp4"), ("X264", ".mp4"), ("MJPG", ".avi")):
        path = path_stem.with_suffix(ext)
        with _stderr_silenced():               # FFmpeg reports every encoder it cannot use
            out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
        if not out.isOpened():
            continue
        for t in range(n):
            img = base.copy()
            cx, cy = int(200 + 1500 * t / n), int(540 + 300 * np.sin(t / 10))
            cv2.circle(img, (cx, cy), 120, (30, 200, 240), -1)
            cv2.rectangle(img, (w - cx, 200), (w - cx + 200, 500), (200, 40, 40), -1)
            out.write(img)
        out.release()
        cap = cv2.VideoCapture(str(path))
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        if ok:
            return path, codec
    raise RuntimeError("this OpenCV can write neither H.264 nor MJPG")


def export_default(work: Path, log=print) -> Path:
    out = work / "export_x3d_ugt_16x224"
    if (out / "model.onnx").is_file() and (out / "metadata.json").is_file():
        return out
    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_variant, with_input_size
    log(f"exporting x3d_ugt (random init) at 16x224 into {out} (jax2onnx only; minutes on a CPU)")
    src = with_input_size(from_variant("x3d_ugt", num_classes=60), 16, 224)
    export(src, out, ExportOptions(routes=("jax2onnx",), savedmodel=False, num_clips=1, profile=False,
                                   tensorrt=False, overwrite=True), log=log)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", help="export directory (default: export x3d_ugt at 16x224 into --work)")
    ap.add_argument("--work", default="/tmp/jaxar_bench_predict", help="scratch directory")
    ap.add_argument("--seconds", type=float, default=8.0, help="generated video length (default 8)")
    ap.add_argument("--window", type=float, default=2.0, help="window seconds (default 2)")
    ap.add_argument("--stride", type=float, default=1.0, help="stride seconds (default 1)")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="JSON results (default: <work>/bench_predict.json)")
    a = ap.parse_args(argv)
    from jaxar.runtime.app import load_bundle
    from jaxar.runtime.boxes import fixed
    from jaxar.runtime.clips import FileClips
    from jaxar.runtime.video import open_file

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    bundle = Path(a.bundle) if a.bundle else export_default(work)
    model = load_bundle(bundle, backend="onnxruntime", threads=a.threads)
    t, s = model.prep.frames, model.prep.size
    print(f"model: {model.description} ({t}x{s}x{s}); generating {a.seconds:g} s of 1080p video ...", flush=True)
    video, codec = write_1080p(work / "bench_1080p", a.seconds)
    print(f"video: {video} ({codec}); window {a.window:g} s, stride {a.stride:g} s", flush=True)

    def clips():
        cap = open_file(video)
        return cap, FileClips(cap, fixed("center", cap.width, cap.height), t, s, a.window, a.stride)

    cap, it = clips()
    n_windows = sum(1 for _ in it)
    frames = it.frames_read
    cap.close()
    x = np.random.default_rng(0).normal(size=(1, t, 3, s, s)).astype(np.float32)
    model.backend(x)                                             # warm-up

    res = {"model": [], "decode": [], "e2e": [], "e2e_latency_ms": []}
    for r in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(n_windows):
            model.backend(x)
        res["model"].append((time.perf_counter() - t0) / n_windows)
        cap, it = clips()
        t0 = time.perf_counter()
        for _ in it:
            pass
        res["decode"].append((time.perf_counter() - t0) / n_windows)
        cap.close()
        cap, it = clips()
        t0 = time.perf_counter()
        lat = []
        for w, clip in it:
            t1 = time.perf_counter()
            model.probs(clip)
            lat.append(1000 * (time.perf_counter() - t1))
        res["e2e"].append((time.perf_counter() - t0) / n_windows)
        res["e2e_latency_ms"].extend(lat)
        cap.close()
        print(f"  repeat {r + 1}/{a.repeats}: model {1000 * res['model'][-1]:.0f} ms/clip, decode "
              f"{1000 * res['decode'][-1]:.0f} ms/clip, end-to-end {1000 * res['e2e'][-1]:.0f} ms/clip", flush=True)
    med = {k: float(np.median(v)) for k, v in res.items() if k != "e2e_latency_ms"}
    overhead = med["e2e"] / med["model"] - 1
    summary = {
        "bundle": str(bundle), "video": str(video), "codec": codec, "frames": frames, "windows": n_windows,
        "clip": [t, s, s], "window_s": a.window, "stride_s": a.stride, "threads": a.threads, "repeats": a.repeats,
        "model_ms_per_clip": round(1000 * med["model"], 1), "model_clips_per_s": round(1 / med["model"], 2),
        "decode_ms_per_clip": round(1000 * med["decode"], 1),
        "decode_ms_per_frame": round(1000 * med["decode"] * n_windows / frames, 2),
        "e2e_ms_per_clip": round(1000 * med["e2e"], 1), "e2e_clips_per_s": round(1 / med["e2e"], 2),
        "e2e_model_call_p50_ms": round(float(np.percentile(res["e2e_latency_ms"], 50)), 1),
        "e2e_model_call_p95_ms": round(float(np.percentile(res["e2e_latency_ms"], 95)), 1),
        "overhead_vs_model": round(overhead, 3), "goal_overhead": 0.25, "goal_met": bool(overhead <= 0.25)}
    print(f"\n{'':24s}{'ms/clip':>10s}{'clips/s':>10s}")
    print(f"{'model only (ORT)':24s}{summary['model_ms_per_clip']:10.1f}{summary['model_clips_per_s']:10.2f}")
    print(f"{'decode+crop+resize only':24s}{summary['decode_ms_per_clip']:10.1f}{1000 / summary['decode_ms_per_clip']:10.2f}")
    print(f"{'end-to-end':24s}{summary['e2e_ms_per_clip']:10.1f}{summary['e2e_clips_per_s']:10.2f}")
    print(f"overhead outside the model: {100 * overhead:+.1f} % (goal <= +25 %: "
          f"{'met' if summary['goal_met'] else 'NOT met'}); decode {summary['decode_ms_per_frame']:.1f} ms/frame "
          f"({codec} 1080p), model call in the pipeline p50 {summary['e2e_model_call_p50_ms']:.0f} ms "
          f"p95 {summary['e2e_model_call_p95_ms']:.0f} ms")
    out = Path(a.out) if a.out else work / "bench_predict.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
