"""Live input: a capture thread filling a bounded ring buffer, and inference
on the newest complete window every ``stride`` seconds.

The capture thread reads frames as fast as the source delivers them (a
camera or stream paces itself; a file with ``--realtime`` is paced at its own
frame rate), crops + resizes each to ``S x S`` and appends it to a ring buffer
holding a bit more than one window. The inference loop wakes every
``stride`` seconds, takes the frames of the last ``window`` seconds, samples
``T`` of them (:mod:`.sampling`) and runs the model. When inference is slower
than that, ticks are skipped and the frames that no window covered are
counted as dropped: nothing queues up, so latency stays bounded by about one
inference time plus one stride.

Latency of a window = time its label is ready - capture time of its last frame.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Callable

import numpy as np

from . import sampling
from .boxes import FrameBoxes
from .clips import prepare_frame
from .video import Capture


class Frame:
    __slots__ = ("seq", "captured", "stream_s", "image")

    def __init__(self, seq, captured, stream_s, image):
        self.seq, self.captured, self.stream_s, self.image = seq, captured, stream_s, image


class CaptureThread(threading.Thread):
    """Fills a bounded ring buffer (``collections.deque(maxlen=capacity)``)."""

    def __init__(self, capture: Capture, boxes: FrameBoxes, size: int, capacity: int,
                 realtime_fps: float | None = None):
        super().__init__(daemon=True)
        self.cap, self.boxes, self.size = capture, boxes, size
        self.ring: collections.deque = collections.deque(maxlen=capacity)
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.ended = threading.Event()
        self.realtime_fps = realtime_fps
        self.count = 0
        self.started_at = None
        self.error: BaseException | None = None

    def run(self):
        try:
            self.started_at = time.perf_counter()
            fps = self.realtime_fps
            while not self.stop_event.is_set():
                if fps:
                    delay = self.started_at + self.count / fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                bgr = self.cap.read()
                now = time.perf_counter()
                if bgr is None:
                    break
                small = prepare_frame(bgr, self.boxes.box(self.count), self.size)
                stream_s = self.count / fps if fps else now - self.started_at
                with self.lock:
                    self.ring.append(Frame(self.count, now, stream_s, small))
                self.count += 1
        except BaseException as e:      # reported by the inference loop
            self.error = e
        finally:
            self.ended.set()

    def snapshot(self) -> list[Frame]:
        with self.lock:
            return list(self.ring)


def _pct(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def run_live(capture: Capture, boxes: FrameBoxes, num_frames, size: int, infer: Callable,
             window_s: float, stride_s: float, on_window: Callable, realtime_fps: float | None = None,
             max_seconds: float | None = None, log: Callable[[str], None] = print,
             report_every_s: float = 2.0, stop: threading.Event | None = None) -> dict:
    """Runs until the stream ends, ``max_seconds`` pass, ``stop`` is set, or
    KeyboardInterrupt (the last two mark the result ``interrupted``).

    ``stop`` is checked between windows (at least every 10 ms while waiting
    for the next one), so a signal handler that sets it stops the run after at
    most one inference, with every written window counted in the statistics.

    ``num_frames``: ``T`` or a :class:`.segments.SegmentSpec` (runs of
    adjacent frames per segment, sampled with the same rule as files).
    ``infer(clip uint8 (T, S, S, 3)) -> probs (C,)``; ``on_window(window,
    probs, latency_ms)`` receives each result (``window`` a
    :class:`.sampling.Window` whose frame indices are capture sequence numbers).
    Returns the statistics dict (also printed every ``report_every_s``).
    """
    nominal_fps = realtime_fps or capture.fps or 30.0
    capacity = int(np.ceil(window_s * nominal_fps * 1.5)) + sampling.as_spec(num_frames).frames + 8
    cap = CaptureThread(capture, boxes, size, capacity, realtime_fps)
    stats = {"windows": 0, "windows_dropped": 0, "frames_captured": 0, "frames_dropped": 0,
             "latency_ms": [], "infer_ms": []}
    last_covered = -1
    t_start = time.perf_counter()
    next_tick = t_start + stride_s
    last_report = t_start
    cap.start()
    interrupted = False

    def infer_newest(frames: list[Frame]) -> None:
        nonlocal last_covered
        newest = frames[-1]
        span = [f for f in frames if f.stream_s > newest.stream_s - window_s + 1e-9]
        idx = sampling.window_indices(len(span), num_frames)
        clip = np.stack([span[i].image for i in idx])
        t0 = time.perf_counter()
        probs = infer(clip)
        done = time.perf_counter()
        fps_w = realtime_fps or (len(span) / max(newest.stream_s - span[0].stream_s, 1e-6)
                                 if len(span) > 1 else nominal_fps)
        w = sampling.Window(stats["windows"], span[0].seq, newest.seq + 1,
                            np.array([span[i].seq for i in idx]), fps_w)
        if realtime_fps is None:        # camera / stream: times are seconds since start
            w = _TimedWindow(w, span[0].stream_s, newest.stream_s + 1.0 / fps_w)
        stats["frames_dropped"] += max(0, span[0].seq - last_covered - 1)
        last_covered = newest.seq
        latency = 1000 * (done - newest.captured)
        stats["latency_ms"].append(latency)
        stats["infer_ms"].append(1000 * (done - t0))
        stats["windows"] += 1
        on_window(w, probs, latency)

    try:
        while True:
            if stop is not None and stop.is_set():
                interrupted = True
                break
            now = time.perf_counter()
            if max_seconds is not None and now - t_start >= max_seconds:
                break
            if cap.ended.is_set():
                frames = cap.snapshot()
                if frames and frames[-1].seq > last_covered:
                    infer_newest(frames)      # the last frames of the stream
                break
            if now < next_tick:
                time.sleep(min(next_tick - now, 0.01))
                continue
            frames = cap.snapshot()
            full = frames and (frames[-1].stream_s - frames[0].stream_s + 1.0 / nominal_fps
                               >= window_s - 1e-6)
            if full:
                infer_newest(frames)
            after = time.perf_counter()
            missed = int((after - next_tick) // stride_s)
            if full and missed > 0:
                stats["windows_dropped"] += missed
            next_tick += (missed + 1) * stride_s
            if after - last_report >= report_every_s:
                last_report = after
                log(format_stats(_summary(stats, cap, t_start)))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        cap.stop_event.set()
        cap.join(timeout=2.0)
    if cap.error is not None:
        raise cap.error
    out = _summary(stats, cap, t_start)
    out["interrupted"] = interrupted
    return out


class _TimedWindow:
    """A window whose start/end seconds are given (live camera/stream)."""

    def __init__(self, w, start_s, end_s):
        self._w, self.start_s, self.end_s = w, start_s, end_s
        self.index, self.frames, self.short = w.index, w.frames, False
        self.first, self.stop = w.first, w.stop


def _summary(stats: dict, cap: CaptureThread, t_start: float) -> dict:
    elapsed = max(time.perf_counter() - t_start, 1e-6)
    lat = stats["latency_ms"]
    return {"seconds": round(elapsed, 2), "frames_captured": cap.count,
            "capture_fps": round(cap.count / elapsed, 2),
            "windows": stats["windows"], "inference_fps": round(stats["windows"] / elapsed, 2),
            "infer_ms_p50": round(_pct(stats["infer_ms"], 50), 1),
            "latency_ms_p50": round(_pct(lat, 50), 1), "latency_ms_p95": round(_pct(lat, 95), 1),
            "latency_ms_max": round(max(lat), 1) if lat else float("nan"),
            "frames_dropped": stats["frames_dropped"], "windows_dropped": stats["windows_dropped"]}


def format_stats(s: dict) -> str:
    return (f"live: {s['seconds']:.0f} s, capture {s['capture_fps']:.1f} fps, inference "
            f"{s['inference_fps']:.2f} windows/s ({s['infer_ms_p50']:.0f} ms each), latency p50 "
            f"{s['latency_ms_p50']:.0f} ms p95 {s['latency_ms_p95']:.0f} ms, dropped "
            f"{s['frames_dropped']} frames, dropped {s['windows_dropped']} windows")
