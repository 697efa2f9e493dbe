"""The video -> actions application shared by ``runtime/run.py`` (bundle,
ONNX Runtime / TensorRT) and ``python -m jaxar.predict`` (adds JAX).

:func:`build_parser` defines the common flags; :func:`run` takes parsed
arguments and a :class:`Model` and writes the JSONL rows (see
:mod:`.results`), the optional timeline PNG and rendered video, and returns
the exit status. :func:`main` wraps it so that bad input prints one line
``error: ...`` and exits 2 (outputs are checked before any video is read), a
batch in which some videos fail writes an error row for each, goes on and
exits 1, and Ctrl-C still writes the results of a live run (exit 0); an
interrupted or failed run over files leaves ``<out>.partial``, never a
normal-looking ``<out>`` (exit 130 / 2).
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

import cv2
import numpy as np

from . import boxes as boxes_lib
from .backends import OrtBackend, TensorRTBackend, run_in_batches
from .clips import FileClips
from .errors import InputError
from .frames import check_frame_rate
from .live import format_stats, run_live
from .outputs import check_outputs, per_video_names, suffixed
from .plots import render_video, timeline_png
from .preprocess import Preprocessing, normalise, to_ntchw
from .results import JsonlWriter, softmax, summary_row, window_row
from .video import is_url, list_videos, open_camera, open_input, open_url

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
    input_domain: str = "rgb"         # "compressed": .compressed_predict.CompressedModel

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
    model = Model(runner, labels, prep, float(window) if window else None,
                  meta.get("window_source", "bundle metadata.json"), f"{desc} in {d}")
    from .compressed_predict import as_compressed     # a compressed-domain bundle (needs PyAV)
    return as_compressed(model, d / "preprocessing.json")


def build_parser(prog: str, description: str, backends: tuple[str, ...]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("videos", nargs="*", metavar="VIDEO",
                   help="video files, directories of videos, or URLs of video files (read like files)")
    p.add_argument("--recursive", action="store_true", help="also search sub-directories of DIR inputs")
    p.add_argument("--camera", type=int, metavar="N", help="live: camera index N")
    p.add_argument("--url", help="rtsp://, http:// or https:// source: live, or read as a file when "
                   "the server gives its length (the log and summary say which)")
    p.add_argument("--realtime", action="store_true",
                   help="live mode on one video file or --url file, paced at its own frame rate")
    p.add_argument("--out", help="JSON Lines output (default: print rows to stdout)")
    p.add_argument("--backend", choices=("auto",) + backends, default="auto")
    p.add_argument("--window", type=float, help="window length in seconds "
                   "(default: the training clip duration stored with the model)")
    p.add_argument("--stride", type=float, help="seconds between window starts (default: window / 2)")
    p.add_argument("--whole-video", action="store_true",
                   help="one prediction per video file: its segments spread over the whole file "
                        "(the TSN evaluation protocol) instead of sliding windows")
    p.add_argument("--topk", type=int, default=5, help="classes per row (default 5)")
    p.add_argument("--crop", choices=boxes_lib.CROP_MODES, default="center",
                   help="center: centre square, as evaluation (default); full: whole frame")
    p.add_argument("--boxes", metavar="FILE", help="per-frame person boxes, JSON or CSV (docs/predict.md)")
    p.add_argument("--skeleton", metavar="FILE", help="NTU .skeleton file: the training person crop")
    p.add_argument("--fps", type=float, help="treat video files as constant-rate at this many frames per "
                   "second (frame i at i/FPS s), overriding the rate and timestamps they state; "
                   "required for files that state no rate")
    p.add_argument("--timeline", metavar="IMAGE", help="plot of the classes' probabilities over time "
                   "(.png, .jpg, .jpeg, .bmp or .webp)")
    p.add_argument("--render", metavar="VIDEO", help="the video with the current label drawn on it "
                   "(.mp4, .m4v, .mov, .mkv or .avi)")
    p.add_argument("--max-seconds", type=float, help="live: stop after this many seconds")
    p.add_argument("--timeout", type=float, default=10.0, help="--url open/read timeout (s, default 10)")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    p.add_argument("--reencode", action="store_true",
                   help="compressed-domain models only: videos their reader cannot use as they are "
                        "(H.264, HEVC, VP9, AV1, B-frames) are first re-encoded to MPEG-4 Part 2 in memory "
                        "(a full decode and encode: slow, and a second lossy step)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    return p


def check_args(a) -> None:
    """Argument checks that do not need the model; :class:`InputError` on failure."""
    live = [n for n, v in (("--camera", a.camera is not None), ("--url", a.url)) if v]
    if len(live) > 1 or (live and a.videos):
        raise InputError("give video files, --camera or --url, not several")
    if not live and not a.videos:
        raise InputError("no input: give VIDEO files/directories, --camera N or --url URL")
    if a.realtime and (a.camera is not None or (a.url and a.videos) or (not a.url and len(a.videos) != 1)):
        raise InputError("--realtime plays exactly one video file (or one --url) as a live stream")
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
    if getattr(a, "whole_video", False):
        if live or a.realtime:
            raise InputError("--whole-video needs video files (a live stream has no whole; "
                             "it is sampled in sliding windows)")
        if a.window is not None or a.stride is not None:
            raise InputError("--whole-video samples the whole file: give it without --window/--stride")
    check_outputs(a, [] if live else [v for v in a.videos if not is_url(v)])


def expand_videos(items: list[str], recursive: bool = False) -> list[str]:
    """Inputs -> video names: directories expanded (:func:`.video.list_videos`),
    URLs kept as given (never path-normalised), files checked to exist."""
    out: list[str] = []
    for item in items:
        if is_url(item):
            out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            found = list_videos(p, recursive)
            if not found:
                raise InputError(f"{p}: directory contains no video files"
                                 + ("" if recursive else " (--recursive searches its sub-directories)"))
            out.extend(str(f) for f in found)
        elif not p.exists():
            raise InputError(f"{p}: video file not found")
        else:
            out.append(str(p))
    return out


def _display_name(video: str) -> str:
    return video if is_url(video) else Path(video).name


def _frame_boxes(a, cap) -> boxes_lib.FrameBoxes:
    if a.boxes:
        return boxes_lib.from_detections(boxes_lib.read_boxes_file(a.boxes), cap.width, cap.height, a.boxes)
    if a.skeleton:
        return boxes_lib.from_skeleton(a.skeleton, cap.width, cap.height)
    return boxes_lib.fixed(a.crop, cap.width, cap.height)


def run(a, model: Model, log: Callable[[str], None]) -> int:
    """Processes the inputs of parsed args ``a`` with ``model``; returns 0."""
    whole = getattr(a, "whole_video", False)
    window = None if whole else a.window or model.window_s
    if window is None and not whole:
        raise InputError("the model records no training clip duration; pass --window SECONDS")
    stride = None if whole else a.stride or window / 2
    from .compressed_predict import check_args as check_domain_args
    check_domain_args(a, model)
    spec = model.prep.sampling
    frames_desc = (f"{spec.segments} segments x {spec.segment_frames} adjacent frames"
                   if spec.segment_frames > 1 else f"{model.prep.frames} frames")
    log(f"model: {model.description}; {frames_desc} x {model.prep.size}^2, {len(model.labels)} classes; "
        + ("one window over each whole video (--whole-video)" if whole else f"window {window:g} s"
           + ("" if a.window else f" ({model.window_source})") + f", stride {stride:g} s"))
    live_capture = None
    if a.url:
        live_capture = _open_url_input(a, log)
    live = a.camera is not None or a.realtime or (live_capture is not None and live_capture.live)
    videos = [] if live or a.url else expand_videos(a.videos, a.recursive)
    # live: stop signals are handled until the results file is complete;
    # files: they interrupt the run (KeyboardInterrupt), leaving <out>.partial
    with _stop_signals() if live else _interrupt_signals() as stop:
        writer = JsonlWriter(a.out)
        failed: list[str] = []
        try:
            if live:
                _run_live(a, model, window, stride, writer, log, stop, live_capture)
            elif a.url:
                _run_file(a, model, a.url, window, stride, writer, log, "", "", cap=live_capture)
            else:
                failed = _run_files(a, model, videos, window, stride, writer, log)
        except BaseException as e:
            reason = "interrupted" if isinstance(e, KeyboardInterrupt) else str(e) or type(e).__name__
            partial = writer.abort(reason)
            if partial is not None:
                log(f"warning: run stopped ({reason}); the {len(writer.rows) - 1} rows written so far are in "
                    f"{partial} (marked incomplete); {a.out} was not written")
            raise
        writer.finish()
    if a.out:
        log(f"wrote {len(writer.rows)} rows to {a.out}")
    if failed:
        log(f"error: {len(failed)} of {len(videos)} videos could not be processed ({', '.join(failed[:5])}"
            + (", ..." if len(failed) > 5 else "") + "); their rows have \"error\"")
        return 1
    return 0


def _run_files(a, model, videos: list[str], window, stride, writer, log) -> list[str]:
    """Runs every video; in a batch (several videos, or a directory) a video
    that fails gets an error row and a warning and the batch goes on. Returns
    the videos that failed."""
    batch = len(videos) > 1 or any(Path(v).is_dir() for v in a.videos if not is_url(v))
    names = per_video_names(videos)
    failed = []
    for n, video in enumerate(videos):
        tag = f"[{n + 1}/{len(videos)}] " if len(videos) > 1 else ""
        if not batch:
            _run_file(a, model, video, window, stride, writer, log, names[n] if len(videos) > 1 else "", tag)
            continue
        rows_before = len(writer.rows)
        try:
            _run_file(a, model, video, window, stride, writer, log, names[n] if len(videos) > 1 else "", tag)
        except InputError as e:
            failed.append(_display_name(video))
            row = {"video": video, "error": str(e)}
            if len(writer.rows) > rows_before:
                row["windows_written"] = len(writer.rows) - rows_before
            writer.write(row)
            log(f"warning: {tag}{e}; skipped, going on with the next video")
    return failed


def _open_url_input(a, log):
    """``--url``: a source whose length the server gives (an HTTP file) is
    read as a file, every window, unless ``--realtime`` paces it as live; a
    source without one (RTSP, a live HTTP stream) is live."""
    cap = open_url(a.url, a.timeout)
    frames = int(cap.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    http = a.url.lower().startswith(("http://", "https://", "ftp://"))
    if http and frames > 0 and not a.realtime:
        cap.live = False
        cap.header_frames = frames
        log(f"--url {a.url}: the server gives its length ({frames} frames): read as a file "
            "(every window, not paced; --realtime plays it as a live stream)")
    else:
        log(f"--url {a.url}: " + ("played as a live stream paced at its frame rate (--realtime)"
                                  if a.realtime else "a live stream (no length given): newest window "
                                  "every stride, windows dropped when inference is slower"))
    return cap


def _run_file(a, model, video: str, window, stride, writer, log, suffix: str, tag: str,
              cap=None) -> None:
    """One video file (or URL read as a file); ``suffix`` names its timeline /
    render files in a batch (empty: the names as given)."""
    if model.input_domain == "compressed":
        from .compressed_predict import run_file
        return run_file(a, model, video, window, stride, writer, log, suffix, tag)
    t0 = time.perf_counter()
    name = _display_name(video)
    with (cap if cap is not None else open_input(video, a.timeout)) as cap:
        fb = _frame_boxes(a, cap)
        clips = FileClips(cap, fb, model.prep.sampling, model.prep.size, window, stride, fps=a.fps, warn=log)
        probs, starts, ends, last_print = [], [], [], t0
        for w, clip in clips:
            p = model.probs(clip)
            writer.write(_segment_fields(window_row(video, w, p, model.labels, a.topk, model.prep.frames),
                                         model))
            probs.append(p)
            starts.append(w.start_s)
            ends.append(w.end_s)
            if time.perf_counter() - last_print > 5:
                last_print = time.perf_counter()
                log(f"{tag}{name}: {len(probs)} windows, {w.end_s:.1f} s of video")
        fps = clips.fps
    extra = {"frames_read": clips.frames_read, "fps": round(fps, 3), "truncated": clips.truncated,
             "crop": fb.kind, "window_s": window, "stride_s": stride}
    if window is None:
        extra.update(whole_video=True, window_s=round(clips.window_s, 4), stride_s=None)
    if clips.bad_frames:
        extra["bad_frames"] = clips.bad_frames
    if clips.rate.source != "container":
        extra["fps_source"] = clips.rate.source
    if clips.variable_rate:
        extra["variable_frame_rate"] = True
        extra["duration_s"] = round(clips.duration_s, 4)
    if clips.implied_fps is not None:
        extra["timestamps_fps"] = round(clips.implied_fps, 3)
        extra["duration_s"] = round(clips.duration_s, 4)
    if is_url(video):
        extra["mode"] = "file"
    if fb.fallback:
        extra["crop_fallback"] = "no person in any frame: centre square used"
    row = summary_row(video, probs, model.labels, **extra)
    writer.write(row)
    log(f"{tag}{name}: {row['label']} (mean p={row['mean_prob']:.3f}) over {len(probs)} windows, "
        f"{clips.frames_read} frames in {time.perf_counter() - t0:.1f} s")
    if a.timeline:
        timeline_png(suffixed(a.timeline, suffix, bool(suffix)), (np.array(starts) + np.array(ends)) / 2,
                     np.stack(probs), model.labels, f"{name}: class probabilities per window")
    if a.render:
        top = [(model.labels[int(np.argmax(p))], float(np.max(p))) for p in probs]
        render_video(video, suffixed(a.render, suffix, bool(suffix)), np.array(ends), top, fps,
                     use_timestamps=clips.rate.use_timestamps)


def _segment_fields(row: dict, model: Model) -> dict:
    """A model that takes runs of adjacent frames (EAN with LMC) gets
    ``"segment_frames": L`` in its rows: ``frames`` is then ``N`` runs of ``L``."""
    if model.prep.segment_frames > 1:
        row["segment_frames"] = model.prep.segment_frames
    return row


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
    _unblock(old)
    try:
        yield stop
    finally:
        for s, previous in old.items():
            signal.signal(s, signal.SIG_IGN if stop.is_set() else previous)


def _unblock(signals) -> None:
    """A process can start with signals blocked (inherited from a parent whose
    thread blocked them, e.g. some encoder libraries do): handlers would
    never run."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, set(signals))


@contextlib.contextmanager
def _interrupt_signals():
    """SIGINT and SIGTERM raise KeyboardInterrupt while files are processed,
    also when the process started with SIGINT ignored, so an interrupted run
    always ends through the code that marks its output partial; the previous
    handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    _unblock(old)
    try:
        yield None
    finally:
        for s, previous in old.items():
            signal.signal(s, previous)


def _run_live(a, model, window, stride, writer, log, stop: threading.Event, cap=None) -> None:
    if cap is not None:
        pass
    elif a.camera is not None:
        cap = open_camera(a.camera)
    else:
        cap = open_input(a.videos[0], a.timeout)
    name = cap.name
    probs, ends, starts = [], [], []
    realtime_fps = None
    if a.realtime:
        try:
            realtime_fps = check_frame_rate(name, cap.fps, cap.header_frames, a.fps, path=cap.path).fps
        except InputError:
            cap.close()
            raise

    def on_window(w, p, latency_ms):
        row = _segment_fields(window_row(name, w, p, model.labels, a.topk, model.prep.frames), model)
        row["latency_ms"] = round(latency_ms, 1)
        writer.write(row)
        probs.append(p)
        starts.append(w.start_s)
        ends.append(w.end_s)

    with cap:
        fb = boxes_lib.fixed(a.crop, cap.width, cap.height)
        log(f"live: {name} ({cap.width}x{cap.height}); Ctrl-C or SIGTERM stops and writes the results")
        stats = run_live(cap, fb, model.prep.sampling, model.prep.size, model.probs, window, stride,
                         on_window, realtime_fps=realtime_fps, max_seconds=a.max_seconds,
                         log=log if not a.quiet else (lambda m: None), stop=stop)
    log(format_stats(stats))
    writer.write(summary_row(name, probs, model.labels, live=True,
                             mode="realtime" if a.realtime else "live", crop=fb.kind, window_s=window,
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
        if not a.quiet or msg.startswith(("warning", "error")):
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
        live = a.camera is not None or a.url or a.realtime
        return 0 if live else 130
