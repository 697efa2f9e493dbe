"""The video -> actions application shared by ``runtime/run.py`` (bundle,
ONNX Runtime / TensorRT) and ``python -m jaxar.predict`` (adds JAX).

:func:`build_parser` defines the common flags; :func:`run` takes parsed
arguments and a :class:`Model` and writes the JSONL rows (see
:mod:`.results`), the optional timeline PNG and rendered video, and returns
the exit status. :func:`main` wraps it so that bad input prints one line
``error: ...`` and exits 2, and Ctrl-C still writes the results (exit 0).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import boxes as boxes_lib
from .backends import OrtBackend, TensorRTBackend, run_in_batches
from .clips import FileClips
from .errors import InputError
from .live import format_stats, run_live
from .plots import render_video, timeline_png
from .preprocess import Preprocessing, normalise, to_ntchw
from .results import JsonlWriter, softmax, summary_row, window_row
from .video import list_videos, open_camera, open_file, open_url

METADATA = "metadata.json"


@dataclasses.dataclass
class Model:
    """A runnable model: ``backend(x (N, T, 3, S, S) float32) -> logits``."""
    backend: Callable
    labels: list[str]
    prep: Preprocessing
    window_s: float | None            # default window: training clip duration
    window_source: str                # where window_s comes from
    description: str

    def probs(self, clip_uint8: np.ndarray) -> np.ndarray:
        """uint8 RGB ``(T, S, S, 3)`` -> class probabilities float64 ``(C,)``."""
        x = to_ntchw(normalise(clip_uint8[None], self.prep.mean, self.prep.std))
        logits = run_in_batches(self.backend, x)[0]
        if logits.shape[-1] != len(self.labels):
            raise InputError(f"the model outputs {logits.shape[-1]} classes but there are "
                             f"{len(self.labels)} labels")
        return softmax(logits)


def read_labels(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"{path}: missing (the bundle has no labels.json; re-export it)")
    try:
        labels = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: invalid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(labels, list) or not labels or not all(isinstance(s, str) for s in labels):
        raise InputError(f"{path}: expected a non-empty JSON list of class names")
    return labels


def load_bundle(bundle: str | Path, backend: str = "auto", threads: int | None = None) -> Model:
    """Model from an export directory: ``labels.json``, ``preprocessing.json``,
    ``metadata.json`` (training clip duration) and ``model.onnx`` or
    ``model_*.plan``. ``backend``: ``auto`` (the TensorRT engine when the
    bundle has one and TensorRT is importable, else ONNX Runtime),
    ``onnxruntime`` or ``tensorrt``."""
    d = Path(bundle)
    if not d.is_dir():
        raise InputError(f"--bundle {d}: not a directory")
    labels = read_labels(d / "labels.json")
    prep = Preprocessing.from_json(d / "preprocessing.json")
    meta = {}
    if (d / METADATA).is_file():
        try:
            meta = json.loads((d / METADATA).read_text())
        except json.JSONDecodeError as e:
            raise InputError(f"{d / METADATA}: invalid JSON ({e.msg})") from None
    plans = sorted(d.glob("model_*.plan"))
    if backend == "auto":
        import importlib.util
        backend = "tensorrt" if plans and importlib.util.find_spec("tensorrt") else "onnxruntime"
    if backend == "tensorrt":
        if not plans:
            raise InputError(f"--bundle {d}: no TensorRT engine (model_*.plan); build it with "
                             "build_engine.sh (trtexec) first, or use --backend onnxruntime")
        runner, desc = TensorRTBackend(plans[0]), f"TensorRT {plans[0].name}"
    elif backend == "onnxruntime":
        runner, desc = OrtBackend(d / "model.onnx", threads=threads), "ONNX Runtime model.onnx"
    else:
        raise InputError(f"--backend {backend}: a bundle runs with onnxruntime or tensorrt")
    window = meta.get("window_seconds")
    return Model(runner, labels, prep, float(window) if window else None,
                 meta.get("window_source", "bundle metadata.json"), f"{desc} in {d}")


def build_parser(prog: str, description: str, backends: tuple[str, ...]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="video files or directories of videos")
    p.add_argument("--camera", type=int, metavar="N", help="live: camera index N")
    p.add_argument("--url", help="live: rtsp://, http:// or https:// stream")
    p.add_argument("--realtime", action="store_true",
                   help="live mode on one video file, paced at its own frame rate")
    p.add_argument("--out", help="JSON Lines output (default: print rows to stdout)")
    p.add_argument("--backend", choices=("auto",) + backends, default="auto")
    p.add_argument("--window", type=float, help="window length in seconds "
                   "(default: the training clip duration stored with the model)")
    p.add_argument("--stride", type=float, help="seconds between window starts (default: window / 2)")
    p.add_argument("--topk", type=int, default=5, help="classes per row (default 5)")
    p.add_argument("--crop", choices=boxes_lib.CROP_MODES, default="center",
                   help="center: centre square, as evaluation (default); full: whole frame")
    p.add_argument("--boxes", metavar="FILE", help="per-frame person boxes, JSON or CSV (docs/predict.md)")
    p.add_argument("--skeleton", metavar="FILE", help="NTU .skeleton file: the training person crop")
    p.add_argument("--fps", type=float, help="frame rate for files that do not state one")
    p.add_argument("--timeline", metavar="PNG", help="plot of the top classes' probabilities over time")
    p.add_argument("--render", metavar="VIDEO", help="the video with the current label drawn on it")
    p.add_argument("--max-seconds", type=float, help="live: stop after this many seconds")
    p.add_argument("--timeout", type=float, default=10.0, help="--url open/read timeout (s, default 10)")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def check_args(a) -> None:
    """Argument checks that do not need the model; :class:`InputError` on failure."""
    live = [n for n, v in (("--camera", a.camera is not None), ("--url", a.url)) if v]
    if len(live) > 1 or (live and a.videos):
        raise InputError("give video files, --camera or --url, not several")
    if not live and not a.videos:
        raise InputError("no input: give VIDEO files/directories, --camera N or --url URL")
    if a.realtime and (live or len(a.videos) != 1):
        raise InputError("--realtime plays exactly one video file as a live stream")
    for name in ("window", "stride", "fps", "max_seconds", "timeout"):
        v = getattr(a, name)
        if v is not None and not v > 0:
            raise InputError(f"--{name.replace('_', '-')} {v:g}: must be > 0")
    if a.topk < 1:
        raise InputError(f"--topk {a.topk}: must be >= 1")
    if a.threads is not None and a.threads < 1:
        raise InputError(f"--threads {a.threads}: must be >= 1")
    if a.boxes and a.skeleton:
        raise InputError("--boxes and --skeleton both choose the crop; give one")
    if (a.boxes or a.skeleton) and (live or a.realtime or len(a.videos) != 1 or Path(a.videos[0]).is_dir()):
        raise InputError("--boxes/--skeleton describe one video file: give exactly one VIDEO")
    if a.render and (live or a.realtime):
        raise InputError("--render needs video files (not live input)")


def expand_videos(items: list[str]) -> list[Path]:
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = list_videos(p)
            if not found:
                raise InputError(f"{p}: directory contains no video files")
            out.extend(found)
        elif not p.exists():
            raise InputError(f"{p}: video file not found")
        else:
            out.append(p)
    return out


def _suffixed(path: str, stem: str, many: bool) -> Path:
    p = Path(path)
    return p.with_name(f"{p.stem}_{stem}{p.suffix}") if many else p


def _frame_boxes(a, cap) -> boxes_lib.FrameBoxes:
    if a.boxes:
        return boxes_lib.from_detections(boxes_lib.read_boxes_file(a.boxes), cap.width, cap.height, a.boxes)
    if a.skeleton:
        return boxes_lib.from_skeleton(a.skeleton, cap.width, cap.height)
    return boxes_lib.fixed(a.crop, cap.width, cap.height)


def run(a, model: Model, log: Callable[[str], None]) -> int:
    """Processes the inputs of parsed args ``a`` with ``model``; returns 0."""
    window = a.window or model.window_s
    if window is None:
        raise InputError("the model records no training clip duration; pass --window SECONDS")
    stride = a.stride or window / 2
    log(f"model: {model.description}; {model.prep.frames} frames x {model.prep.size}^2, "
        f"{len(model.labels)} classes; window {window:g} s"
        + ("" if a.window else f" ({model.window_source})") + f", stride {stride:g} s")
    live = a.camera is not None or a.url or a.realtime
    # live: stop signals are handled until the results file is complete
    with _stop_signals() if live else contextlib.nullcontext() as stop:
        writer = JsonlWriter(a.out)
        try:
            if live:
                _run_live(a, model, window, stride, writer, log, stop)
            else:
                videos = expand_videos(a.videos)
                for n, video in enumerate(videos):
                    _run_file(a, model, video, window, stride, writer, log, many=len(videos) > 1,
                              tag=f"[{n + 1}/{len(videos)}] " if len(videos) > 1 else "")
        finally:
            writer.close()
    if a.out:
        log(f"wrote {len(writer.rows)} rows to {a.out}")
    return 0


def _run_file(a, model, video: Path, window, stride, writer, log, many: bool, tag: str) -> None:
    t0 = time.perf_counter()
    with open_file(video) as cap:
        fb = _frame_boxes(a, cap)
        clips = FileClips(cap, fb, model.prep.frames, model.prep.size, window, stride, fps=a.fps, warn=log)
        probs, ends, last_print = [], [], t0
        for w, clip in clips:
            p = model.probs(clip)
            writer.write(window_row(str(video), w, p, model.labels, a.topk, model.prep.frames))
            probs.append(p)
            ends.append(w.end_s)
            if time.perf_counter() - last_print > 5:
                last_print = time.perf_counter()
                log(f"{tag}{video.name}: {len(probs)} windows, {w.end_s:.1f} s of video")
        fps = clips.fps
    extra = {"frames_read": clips.frames_read, "fps": round(fps, 3), "truncated": clips.truncated,
             "crop": fb.kind, "window_s": window, "stride_s": stride}
    if fb.fallback:
        extra["crop_fallback"] = "no person in any frame: centre square used"
    row = summary_row(str(video), probs, model.labels, **extra)
    writer.write(row)
    log(f"{tag}{video.name}: {row['label']} (mean p={row['mean_prob']:.3f}) over {len(probs)} windows, "
        f"{clips.frames_read} frames in {time.perf_counter() - t0:.1f} s")
    if a.timeline:
        stack = np.stack(probs)
        starts = np.array([r["start_s"] for r in writer.rows[-len(probs) - 1:-1]])
        timeline_png(_suffixed(a.timeline, video.stem, many), (starts + np.array(ends)) / 2, stack,
                     model.labels, f"{video.name}: class probabilities per window")
    if a.render:
        top = [(model.labels[int(np.argmax(p))], float(np.max(p))) for p in probs]
        render_video(str(video), _suffixed(a.render, video.stem, many), np.array(ends), top, fps)


@contextlib.contextmanager
def _stop_signals():
    """Yields an event that Ctrl-C (SIGINT) and SIGTERM set, to stop a live run
    between windows and keep its results; the handlers are installed also when
    the process started with SIGINT ignored (a background job of a
    non-interactive shell, some process managers: Python then installs no
    KeyboardInterrupt handler of its own). The handler only sets the event, so
    no signal interrupts a result half-written. Once a stop was asked for, the
    signals stay ignored after the block too (the process is finishing; a
    second Ctrl-C must not kill it between the results file and its exit);
    otherwise the previous handlers come back."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, previous in old.items():
            signal.signal(s, signal.SIG_IGN if stop.is_set() else previous)


def _run_live(a, model, window, stride, writer, log, stop: threading.Event) -> None:
    if a.camera is not None:
        cap = open_camera(a.camera)
    elif a.url:
        cap = open_url(a.url, a.timeout)
    else:
        cap = open_file(a.videos[0])
    name = cap.name
    probs, ends, starts = [], [], []
    realtime_fps = None
    if a.realtime:
        realtime_fps = a.fps or cap.fps
        if not realtime_fps:
            raise InputError(f"{name}: the video does not state its frame rate; pass --fps")

    def on_window(w, p, latency_ms):
        row = window_row(name, w, p, model.labels, a.topk, model.prep.frames)
        row["latency_ms"] = round(latency_ms, 1)
        writer.write(row)
        probs.append(p)
        starts.append(w.start_s)
        ends.append(w.end_s)

    with cap:
        fb = boxes_lib.fixed(a.crop, cap.width, cap.height)
        log(f"live: {name} ({cap.width}x{cap.height}); Ctrl-C or SIGTERM stops and writes the results")
        stats = run_live(cap, fb, model.prep.frames, model.prep.size, model.probs, window, stride,
                         on_window, realtime_fps=realtime_fps, max_seconds=a.max_seconds,
                         log=log if not a.quiet else (lambda m: None), stop=stop)
    log(format_stats(stats))
    writer.write(summary_row(name, probs, model.labels, live=True, crop=fb.kind, window_s=window,
                             stride_s=stride, **{k: v for k, v in stats.items()}))
    if a.timeline and probs:
        timeline_png(a.timeline, (np.array(starts) + np.array(ends)) / 2, np.stack(probs), model.labels,
                     f"{name}: class probabilities per window (live)")


def main(argv, load_model: Callable, prog: str, description: str, backends: tuple[str, ...],
         add_arguments: Callable | None = None) -> int:
    """Parses ``argv`` (the common flags plus those ``add_arguments(parser)`` adds:
    where the model comes from), loads the model with ``load_model(args)`` and
    runs. Bad input: one line on stderr, exit 2."""
    parser = build_parser(prog, description, backends)
    if add_arguments is not None:
        add_arguments(parser)
    a = parser.parse_args(argv)

    def log(msg: str) -> None:
        if not a.quiet or msg.startswith("warning"):
            print(msg, file=sys.stderr, flush=True)

    try:
        check_args(a)
        model = load_model(a)
        return run(a, model, log)
    except InputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 0
