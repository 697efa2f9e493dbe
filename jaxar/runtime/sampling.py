"""Which frames a clip is made of: windows over a video, and the frames each
window samples with the project's one sampling rule (:mod:`.segments`).

``T`` frames from a span of ``n`` consecutive frames: the span is cut into
``T`` equal segments and segment ``i`` contributes frame
``floor((i + offset_i) * n / T)`` (:func:`frame_indices`; a model that takes
runs of ``L`` adjacent frames per segment, EAN with LMC, passes a
:class:`.segments.SegmentSpec` and gets ``N = T / L`` runs, same rule). Evaluation and inference use
``offset_i = 0.5`` (segment centres); training draws ``offset_i`` uniformly in
``[0, 1)``. A span shorter than ``T`` frames repeats frames (several segments
land on the same frame), exactly as the training pipeline does for short clips.

Sliding windows (inference): window ``k`` starts at ``k * stride`` seconds and
spans ``window`` seconds, i.e. source frames ``[round(start * fps),
round(start * fps) + round(window * fps))``; see :func:`plan_windows`.

Frames placed by time (:func:`on_screen`, :func:`timed_window`): a frame
sits at its position on the video's time line (seconds x fps; frame ``i`` of
a constant-rate video at ``i``). The frame a sampling instant takes is the
one on screen then: the last frame at or before it. For a constant-rate video
this is exactly ``floor(instant)``, the rule above; for a variable-rate one
(dropped frames) a window covers the right seconds and an instant in a gap
takes the frame shown during the gap. Dataset preparation uses the same rule
to put stored frames on a constant-rate time line.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .segments import EVAL_OFFSET, SegmentSpec, indices_at, segment_positions


def frame_indices(n: int, num_frames: int, offsets) -> np.ndarray:
    """Frame index per segment: ``floor((i + offsets[i]) * n / T)``, ``offsets``
    in ``[0, 1)`` (scalar or ``(T,)``); returns int64 ``(T,)`` in ``[0, n)``.
    This is :func:`.segments.indices_at` with one frame per segment."""
    return indices_at(n, num_frames, 1, offsets)


def as_spec(sampling) -> SegmentSpec:
    """``T`` (an int: ``T`` segments of one frame) or a :class:`SegmentSpec`."""
    return sampling if isinstance(sampling, SegmentSpec) else SegmentSpec(int(sampling), 1)


def window_indices(n: int, sampling) -> np.ndarray:
    """Centred sampling of a span of ``n`` frames: int64 ``(T,)`` (``sampling``:
    ``T`` or a :class:`SegmentSpec`)."""
    spec = as_spec(sampling)
    return indices_at(n, spec.segments, spec.segment_frames, EVAL_OFFSET)


@dataclasses.dataclass(frozen=True)
class Window:
    """One inference window.

    Attributes:
      index: 0-based window number within the video.
      first, stop: the span of source frames ``[first, stop)``.
      frames: int64 ``(T,)`` sampled source frame indices (may repeat).
      fps: frames per second used to convert frame indices to seconds.
      short: the video was shorter than one window, so this single window
        covers the whole video (and repeats frames when it has fewer than T).
      span_s: ``(start_s, end_s)`` when the window's seconds are not
        ``first / fps`` and ``stop / fps`` (frames placed by timestamps).
    """
    index: int
    first: int
    stop: int
    frames: np.ndarray
    fps: float
    short: bool = False
    span_s: tuple | None = None

    @property
    def start_s(self) -> float:
        return self.span_s[0] if self.span_s is not None else self.first / self.fps

    @property
    def end_s(self) -> float:
        return self.span_s[1] if self.span_s is not None else self.stop / self.fps

    @property
    def repeated(self) -> bool:
        return len(np.unique(self.frames)) < len(self.frames)


def window_span(window_s: float, fps: float) -> int:
    """Frames in a window of ``window_s`` seconds (at least 1)."""
    return max(1, int(round(window_s * fps)))


def plan_windows(num_source_frames: int, fps: float, num_frames, window_s: float,
                 stride_s: float) -> list[Window]:
    """Windows over a video of ``num_source_frames`` frames at ``fps``.

    Windows start every ``stride_s`` seconds while they fit in the video; if
    the last one ends before the video does, one more window is aligned with
    the video's end so the tail is covered. A video shorter than one window
    gives a single window over all its frames (``short=True``).
    ``num_frames``: ``T``, or a :class:`SegmentSpec` (runs of adjacent frames).
    """
    if num_source_frames < 1:
        raise ValueError("the video has no frames")
    if window_s <= 0 or stride_s <= 0 or fps <= 0:
        raise ValueError(f"window={window_s}, stride={stride_s}, fps={fps}: must all be > 0")
    span = window_span(window_s, fps)
    n = num_source_frames
    if n <= span:
        idx = window_indices(n, num_frames)
        return [Window(0, 0, n, idx, fps, short=n < span)]
    firsts: list[int] = []
    k = 0
    while True:
        first = int(round(k * stride_s * fps))
        if first + span > n:
            break
        if not firsts or first != firsts[-1]:
            firsts.append(first)
        k += 1
    if firsts[-1] + span < n:
        firsts.append(n - span)
    return [Window(i, f, f + span, f + window_indices(span, num_frames), fps)
            for i, f in enumerate(firsts)]


def on_screen(positions, instants) -> np.ndarray:
    """For each instant (a position on the time line, in frames), the index
    into ``positions`` (ascending) of the frame on screen then: the last frame
    at or before it (the first frame for instants before the first frame).
    Returns int64 with the shape of ``instants``. For ``positions = 0, 1, 2,
    ...`` this is ``floor(instant)``."""
    idx = np.searchsorted(np.asarray(positions, np.float64), np.asarray(instants, np.float64) + 1e-9,
                          side="right") - 1
    return np.maximum(idx, 0).astype(np.int64)


def window_instants(first: float, span: float, sampling) -> np.ndarray:
    """Sampling instants of the window ``[first, first + span)`` (time line in
    frames), float64 ``(T,)``: ``first + (i + 0.5) * span / T`` for one frame
    per segment, :func:`.segments.segment_positions` for runs."""
    spec = as_spec(sampling)
    return first + segment_positions(span, spec.segments, spec.segment_frames, EVAL_OFFSET)


def timed_window(index: int, first: float, span: float, slots: np.ndarray, positions: np.ndarray,
                 fps: float, num_frames, short: bool = False) -> Window:
    """The window over time-line positions ``[first, first + span)`` (frames
    at ``fps``) of a video whose decoded frames have source numbers ``slots``
    and positions ``positions`` (both ``(n,)``, ascending): segment ``i``
    takes the frame on screen at ``first + (i + 0.5) * span / T``
    (``num_frames``: ``T`` or a :class:`SegmentSpec`, :func:`window_instants`)."""
    instants = window_instants(first, span, num_frames)
    picked = on_screen(positions, instants)
    inside = np.nonzero((positions >= first - 1e-9) & (positions < first + span - 1e-9))[0]
    lo = int(slots[inside[0]]) if len(inside) else int(slots[picked[0]])
    hi = int(slots[inside[-1]]) + 1 if len(inside) else int(slots[picked[-1]]) + 1
    return Window(index, lo, hi, np.asarray(slots, np.int64)[picked], fps, short,
                  span_s=(first / fps, (first + span) / fps))


def window_starts(end: float, fps: float, window_s: float, stride_s: float) -> tuple[list, float]:
    """Window start positions over a time line ``[0, end)`` (frames at
    ``fps``) and the window span in frames: every ``stride_s`` while a window
    fits, plus one aligned with the end when the last one stops short; a
    time line shorter than one window gives one start ``0`` and span ``end``."""
    span = window_span(window_s, fps)
    if end <= span + 1e-9:
        return [0.0], float(end)
    firsts: list[float] = []
    k = 0
    while True:
        first = float(round(k * stride_s * fps))
        if first + span > end + 1e-9:
            break
        if not firsts or first != firsts[-1]:
            firsts.append(first)
        k += 1
    if firsts[-1] + span < end - 1e-9:
        firsts.append(end - span)
    return firsts, float(span)


def plan_timed_windows(slots, positions, end: float, fps: float, num_frames, window_s: float,
                       stride_s: float) -> list[Window]:
    """:func:`plan_windows` for frames placed by time: decoded frames with
    source numbers ``slots`` at time-line ``positions`` (frames at ``fps``),
    the video ending at ``end`` (the position after its last frame)."""
    slots, positions = np.asarray(slots, np.int64), np.asarray(positions, np.float64)
    if len(slots) < 1:
        raise ValueError("the video has no frames")
    firsts, span = window_starts(end, fps, window_s, stride_s)
    short = span < window_span(window_s, fps)
    return [timed_window(i, f, span, slots, positions, fps, num_frames, short) for i, f in enumerate(firsts)]
