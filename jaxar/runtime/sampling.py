"""Which frames a clip is made of: the one frame-sampling rule of the project.

``T`` frames from a span of ``n`` consecutive frames: the span is cut into
``T`` equal segments and segment ``i`` contributes frame
``floor((i + offset_i) * n / T)``. Evaluation and inference use
``offset_i = 0.5`` (segment centres); training draws ``offset_i`` uniformly in
``[0, 1)``. A span shorter than ``T`` frames repeats frames (several segments
land on the same frame), exactly as the training pipeline does for short clips.

Sliding windows (inference): window ``k`` starts at ``k * stride`` seconds and
spans ``window`` seconds, i.e. source frames ``[round(start * fps),
round(start * fps) + round(window * fps))``; see :func:`plan_windows`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

EVAL_OFFSET = 0.5


def frame_indices(n: int, num_frames: int, offsets) -> np.ndarray:
    """Frame index per segment: ``floor((i + offsets[i]) * n / T)``, ``offsets``
    in ``[0, 1)`` (scalar or ``(T,)``); returns int64 ``(T,)`` in ``[0, n)``."""
    if n < 1:
        raise ValueError(f"cannot sample {num_frames} frames from a span of {n} frames")
    i = np.arange(num_frames, dtype=np.float64)
    return np.minimum(np.floor((i + offsets) * n / num_frames).astype(np.int64), n - 1)


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
    """
    index: int
    first: int
    stop: int
    frames: np.ndarray
    fps: float
    short: bool = False

    @property
    def start_s(self) -> float:
        return self.first / self.fps

    @property
    def end_s(self) -> float:
        return self.stop / self.fps

    @property
    def repeated(self) -> bool:
        return len(np.unique(self.frames)) < len(self.frames)


def window_span(window_s: float, fps: float) -> int:
    """Frames in a window of ``window_s`` seconds (at least 1)."""
    return max(1, int(round(window_s * fps)))


def plan_windows(num_source_frames: int, fps: float, num_frames: int, window_s: float,
                 stride_s: float) -> list[Window]:
    """Windows over a video of ``num_source_frames`` frames at ``fps``.

    Windows start every ``stride_s`` seconds while they fit in the video; if
    the last one ends before the video does, one more window is aligned with
    the video's end so the tail is covered. A video shorter than one window
    gives a single window over all its frames (``short=True``).
    """
    if num_source_frames < 1:
        raise ValueError("the video has no frames")
    if window_s <= 0 or stride_s <= 0 or fps <= 0:
        raise ValueError(f"window={window_s}, stride={stride_s}, fps={fps}: must all be > 0")
    span = window_span(window_s, fps)
    n = num_source_frames
    if n <= span:
        idx = frame_indices(n, num_frames, EVAL_OFFSET)
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
    return [Window(i, f, f + span, f + frame_indices(span, num_frames, EVAL_OFFSET), fps)
            for i, f in enumerate(firsts)]
