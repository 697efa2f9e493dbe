"""Sliding-window clips from a video file, decoded on its own thread.

:class:`FileClips` reads a :class:`~.video.Capture` front to back on a
background thread (decode, crop, resize to ``S x S``, BGR -> RGB) and yields
``(Window, clip)`` pairs, ``clip`` uint8 RGB ``(T, S, S, 3)``, in window
order. Frames are read by :class:`.frames.FrameSource` (undecodable frames
skipped and counted, frames placed by their timestamps) and windows follow
:func:`.sampling.plan_timed_windows` (for a constant-rate file exactly
:func:`.sampling.plan_windows`), computed on the fly because a container's
frame count can be wrong: grid windows are emitted as soon as a frame at or
after their end is decoded; when the stream ends, the tail window (or the
single short-video window) is formed from the frames kept. Only frames some
window samples are converted, cropped and resized; the rest are only
grabbed. Memory is bounded by about one window of resized frames.

``window_s=None`` gives one window over the whole file (``--whole-video``,
the TSN evaluation protocol): its frames are predicted from the container's
frame count while reading and re-read when the count was wrong.
"""
from __future__ import annotations

import bisect
import dataclasses
from typing import Callable, Iterator

import cv2
import numpy as np

from . import sampling
from .boxes import FrameBoxes
from .crop import crop_and_resize
from .errors import InputError
from .frames import FrameSource, check_frame_rate, no_frame_message
from .prefetch import prefetch_in_thread
from .video import Capture

RATE_TOLERANCE = 0.05     # stated rate vs frame count / timestamp duration


def prepare_frame(bgr: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Source BGR frame -> uint8 RGB ``(S, S, 3)`` crop of ``box``."""
    return cv2.cvtColor(crop_and_resize(bgr, box, size, size), cv2.COLOR_BGR2RGB)


class FileClips:
    """Iterator of ``(Window, uint8 (T, S, S, 3))`` over one video file.

    ``fps`` (``--fps``) overrides the file's rate and timestamps (frame ``i``
    at ``i / fps`` s); without it a file that states no rate is an
    :class:`InputError` (:func:`.frames.check_frame_rate`).

    After iteration: ``frames_read`` (decoded frames), ``bad_frames``
    (undecodable frames skipped), ``truncated`` (fewer frames than the
    container claims), ``variable_rate`` (frames not one slot apart on the
    time line), ``timestamps`` (frames placed by their timestamp),
    ``duration_s``, ``implied_fps`` (frame count / timestamp duration when it
    disagrees with the stated rate by more than 5 %, else ``None``),
    ``decode_s`` (time spent decoding+cropping on the reader
    thread).
    """

    def __init__(self, capture: Capture, boxes: FrameBoxes, num_frames, size: int,
                 window_s: float | None, stride_s: float | None, fps: float | None = None,
                 warn: Callable[[str], None] = print, queue_size: int = 32):
        # num_frames: T, or a segments.SegmentSpec (runs of adjacent frames per segment);
        # window_s None: one window over the whole file (``--whole-video``)
        self.cap, self.boxes, self.t, self.size = capture, boxes, num_frames, size
        self.whole = window_s is None
        rate = check_frame_rate(capture.name, capture.fps, capture.header_frames, fps,
                                path=getattr(capture, "path", None))
        self.rate = rate
        self.fps = rate.fps
        for w in rate.warnings:
            warn(w)
        self.window_s, self.stride_s = window_s, stride_s
        if self.whole:       # the header's frame count predicts the frames read; corrected at the end
            self.span = max(capture.header_frames, 1)
            self.window_s = self.stride_s = self.span / self.fps
        else:
            self.span = sampling.window_span(window_s, self.fps)
        self._offsets = sampling.window_instants(0.0, self.span, num_frames)
        self.warn, self.queue_size = warn, queue_size
        self.frames_read, self.bad_frames, self.truncated, self.decode_s = 0, 0, False, 0.0
        self.variable_rate, self.timestamps, self.duration_s = False, 0, 0.0
        self.implied_fps: float | None = None
        self._source: FrameSource | None = None
        if capture.header_frames > 0:
            boxes.check_count(capture.header_frames)

    def _grid_first(self, k: int) -> int:
        return int(round(k * self.stride_s * self.fps))

    def _frames(self) -> Iterator[tuple[int, float, np.ndarray | None]]:
        """``(slot, position, frame or None)`` for every decoded frame (runs on
        the reader thread, :func:`.prefetch.prefetch_in_thread`):
        only frames a window can sample are converted, cropped and resized
        (the others are just grabbed, which skips the colour conversion). A
        frame is kept when a sampling instant lies in ``[position, position +
        gap)``, ``gap`` the largest step between frames seen so far (one slot
        for a constant-rate file: exactly the frames sampled); a frame missed
        because a later step is larger is decoded again by :meth:`_fetch`."""
        import time
        header = self.cap.header_frames
        tail_from = header - self.span - 1 if header > 0 else 0
        if self.whole:
            tail_from = float("inf")
        src = FrameSource(self.cap.cap, self.fps, header, self.rate.use_timestamps)
        self._source = src
        state = {"k": 0, "gap": 1.0, "last": None}

        def want(slot: int, pos: float) -> bool:
            if state["last"] is not None:
                state["gap"] = max(state["gap"], pos - state["last"])
            state["last"] = pos
            if slot >= tail_from:
                return True
            if self.whole and header <= 0:       # no count to predict from: decoded again at the end
                return False
            gap = state["gap"]
            while self._grid_first(state["k"]) + self.span <= pos - 1e-9:
                state["k"] += 1
            k = state["k"]
            while True:
                first = self._grid_first(k)
                if first > pos + gap:
                    return False
                inst = first + self._offsets
                if np.any((inst >= pos - 1e-9) & (inst < pos + gap)):
                    return True
                k += 1

        t0 = time.perf_counter()
        for slot, pos, bgr in src.read(want):
            small = prepare_frame(bgr, self.boxes.box(slot), self.size) if bgr is not None else None
            self.decode_s += time.perf_counter() - t0
            yield slot, pos, small
            t0 = time.perf_counter()

    def _fetch(self, slots, kept: dict) -> None:
        """Decodes frames the reader did not keep by reading the file again
        (the same :class:`FrameSource` rules, so slots match)."""
        missing = set(int(j) for j in slots) - set(kept)
        if not missing:
            return
        cap = cv2.VideoCapture(self.cap.name)
        try:
            src = FrameSource(cap, self.fps, self.cap.header_frames, self.rate.use_timestamps)
            for slot, _, bgr in src.read(lambda s, p: s in missing):
                if bgr is not None:
                    kept[slot] = prepare_frame(bgr, self.boxes.box(slot), self.size)
                    missing.discard(slot)
                if not missing or slot > max(missing):
                    break
        finally:
            cap.release()
        if missing:
            raise InputError(f"{self.cap.name}: frame {min(missing)} could not be decoded again")

    def _clip(self, w: sampling.Window, kept: dict) -> np.ndarray:
        self._fetch(w.frames, kept)
        return np.stack([kept[int(j)] for j in w.frames])

    def __iter__(self) -> Iterator[tuple[sampling.Window, np.ndarray]]:
        frames = prefetch_in_thread(self._frames(), self.queue_size)
        kept: dict[int, np.ndarray] = {}
        slots: list[int] = []
        positions: list[float] = []
        emitted: list[sampling.Window] = []
        k = 0                                   # next grid window
        next_first = 0
        try:
            for slot, pos, small in frames:
                slots.append(slot)
                positions.append(pos)
                if small is not None:
                    kept[slot] = small
                while not self.whole and next_first + self.span <= pos + 1e-9:
                    base = max(bisect.bisect_right(positions, next_first + 1e-9) - 1, 0)
                    w = sampling.timed_window(len(emitted), float(next_first), float(self.span),
                                              np.array(slots[base:]), np.array(positions[base:]),
                                              self.fps, self.t)
                    emitted.append(w)
                    yield w, self._clip(w, kept)
                    while True:           # next grid start that differs from this one
                        k += 1
                        f = self._grid_first(k)
                        if f != next_first:
                            next_first = f
                            break
                    keep_from = max(bisect.bisect_right(positions, next_first + 1e-9) - 1, 0)
                    for j in [j for j in kept if j < slots[keep_from]]:
                        del kept[j]
        finally:
            frames.close()                      # stops the reader thread
        src = self._source
        self.frames_read = n = len(slots)
        if n == 0:
            raise InputError(no_frame_message(self.cap.name, self.cap.header_frames, self.cap.cap, src))
        self.bad_frames, self.variable_rate, self.timestamps = src.bad_frames, src.variable, src.timestamps
        end = src.end_position
        self.duration_s = end / self.fps
        self.implied_fps = None
        if self.rate.use_timestamps and src.timestamps >= 2:
            implied = (src.decoded + src.bad_frames) / self.duration_s
            if abs(implied - self.fps) > RATE_TOLERANCE * self.fps:
                self.implied_fps = implied
                self.warn(f"warning: {self.cap.name}: the file states {self.fps:g} fps, but its "
                          f"{src.decoded + src.bad_frames} frames span {self.duration_s:.3f} s by their "
                          f"timestamps ({implied:.3f} fps); windows follow the timestamps "
                          "(pass --fps to impose a rate instead)")
        if src.bad_frames:
            self.warn(f"warning: {self.cap.name}: {src.bad_frames} frame(s) could not be decoded "
                      f"(first: frame {src.bad_slots[0]}); skipped, the frame before each stands in for it")
        header = self.cap.header_frames
        total = slots[-1] + 1
        derived = self.implied_fps is not None and abs(header / self.fps - self.duration_s) <= \
            RATE_TOLERANCE * self.duration_s     # a count computed from duration x the wrong rate
        if header > 0 and total < header and not derived:
            self.truncated = True
            self.warn(f"warning: {self.cap.name}: read {n} of the {header} frames the file claims "
                      "(truncated video?); processed up to the last decodable frame")
        elif header <= 0:
            self.boxes.check_count(total)
        if self.whole:
            plan = [sampling.timed_window(0, 0.0, float(end), np.asarray(slots), np.asarray(positions),
                                          self.fps, self.t)]
            self.window_s = self.stride_s = end / self.fps
        else:
            plan = sampling.plan_timed_windows(slots, positions, end, self.fps, self.t, self.window_s,
                                               self.stride_s)
        for w in plan[len(emitted):]:
            w = dataclasses.replace(w, index=len(emitted))
            emitted.append(w)
            yield w, self._clip(w, kept)
