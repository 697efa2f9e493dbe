"""Sliding-window clips from a video file, decoded on its own thread.

:class:`FileClips` reads a :class:`~.video.Capture` front to back on a
background thread (decode, crop, resize to ``S x S``, BGR -> RGB) and yields
``(Window, clip)`` pairs, ``clip`` uint8 RGB ``(T, S, S, 3)``, in window
order. Windows follow :func:`.sampling.plan_windows` exactly, computed on the
fly because a container's frame count can be wrong: grid windows are emitted
as soon as their last frame is decoded; when the stream ends, the tail window
(or the single short-video window) is formed from the frames kept. Only
frames some window samples are converted, cropped and resized; the rest are
only grabbed. Memory is bounded by one window of resized frames.
"""
from __future__ import annotations

from typing import Callable, Iterator

import cv2
import numpy as np

from . import sampling
from .boxes import FrameBoxes
from .crop import crop_and_resize
from .errors import InputError
from .prefetch import prefetch_in_thread
from .video import Capture


def prepare_frame(bgr: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Source BGR frame -> uint8 RGB ``(S, S, 3)`` crop of ``box``."""
    return cv2.cvtColor(crop_and_resize(bgr, box, size, size), cv2.COLOR_BGR2RGB)


class FileClips:
    """Iterator of ``(Window, uint8 (T, S, S, 3))`` over one video file.

    After iteration: ``frames_read`` (decoded frames), ``truncated`` (fewer
    than the container claims), ``decode_s`` (time spent decoding+cropping on
    the reader thread).
    """

    def __init__(self, capture: Capture, boxes: FrameBoxes, num_frames: int, size: int,
                 window_s: float, stride_s: float, fps: float | None = None,
                 warn: Callable[[str], None] = print, queue_size: int = 32):
        self.cap, self.boxes, self.t, self.size = capture, boxes, num_frames, size
        self.fps = float(fps or capture.fps)
        if self.fps <= 0:
            raise InputError(f"{capture.name}: the video does not state its frame rate; pass --fps")
        self.window_s, self.stride_s = window_s, stride_s
        self.span = sampling.window_span(window_s, self.fps)
        self.warn, self.queue_size = warn, queue_size
        self.frames_read, self.truncated, self.decode_s = 0, False, 0.0
        if capture.header_frames > 0:
            boxes.check_count(capture.header_frames)

    def _grid_first(self, k: int) -> int:
        return int(round(k * self.stride_s * self.fps))

    def _frames(self) -> Iterator[tuple[int, np.ndarray | None]]:
        """``(i, frame or None)`` for every source frame: only frames a window
        can sample are converted, cropped and resized (the others are just
        grabbed, which skips the colour conversion). Runs on the reader thread."""
        import time
        offsets = sampling.frame_indices(self.span, self.t, sampling.EVAL_OFFSET)
        tail_from = self.cap.header_frames - self.span if self.cap.header_frames > 0 else 0
        wanted: set[int] = set()
        k = 0
        i = 0
        while True:
            t0 = time.perf_counter()
            while self._grid_first(k) <= i:
                wanted.update((self._grid_first(k) + offsets).tolist())
                k += 1
            if i in wanted or i >= tail_from:
                wanted.discard(i)
                bgr = self.cap.read()
                if bgr is None:
                    return
                small = prepare_frame(bgr, self.boxes.box(i), self.size)
            else:
                if not self.cap.cap.grab():
                    return
                small = None
            self.decode_s += time.perf_counter() - t0
            yield i, small
            i += 1

    def _fetch(self, indices, kept: dict) -> None:
        """Decodes frames the reader skipped (a container that claimed more
        frames than it has) by reading the file again."""
        missing = sorted(set(int(j) for j in indices) - set(kept))
        if not missing:
            return
        cap = cv2.VideoCapture(self.cap.name)
        try:
            for j in range(missing[-1] + 1):
                ok, bgr = cap.read() if j in missing else (cap.grab(), None)
                if not ok:
                    raise InputError(f"{self.cap.name}: frame {j} could not be decoded again")
                if bgr is not None:
                    kept[j] = prepare_frame(bgr, self.boxes.box(j), self.size)
        finally:
            cap.release()

    def __iter__(self) -> Iterator[tuple[sampling.Window, np.ndarray]]:
        frames = prefetch_in_thread(self._frames(), self.queue_size)
        kept: dict[int, np.ndarray] = {}
        emitted: list[sampling.Window] = []
        k = 0                                   # next grid window
        next_first = 0
        n = 0
        try:
            for i, small in frames:
                if small is not None:
                    kept[i] = small
                kept.pop(i - self.span, None)
                n = i + 1
                while next_first + self.span == n:
                    w = sampling.Window(len(emitted), next_first, n,
                                        next_first + sampling.frame_indices(self.span, self.t, sampling.EVAL_OFFSET),
                                        self.fps)
                    emitted.append(w)
                    yield w, np.stack([kept[j] for j in w.frames])
                    while True:           # next grid start that differs from this one
                        k += 1
                        f = self._grid_first(k)
                        if f != next_first:
                            next_first = f
                            break
        finally:
            frames.close()                      # stops the reader thread
        self.frames_read = n
        if n == 0:
            raise InputError(f"{self.cap.name}: no decodable frame (empty or corrupt video)")
        header = self.cap.header_frames
        if header > 0 and n < header:
            self.truncated = True
            self.warn(f"warning: {self.cap.name}: read {n} of the {header} frames the file claims "
                      "(truncated video?); processed up to the last decodable frame")
        elif header <= 0:
            self.boxes.check_count(n)
        plan = sampling.plan_windows(n, self.fps, self.t, self.window_s, self.stride_s)
        for w in plan[len(emitted):]:
            w = sampling.Window(len(emitted), w.first, w.stop, w.frames, w.fps, w.short)
            self._fetch(w.frames, kept)
            emitted.append(w)
            yield w, np.stack([kept[j] for j in w.frames])
