"""TSN segment sampling (Wang et al., ECCV 2016), numpy only.

The video's ``num_frames`` frames are divided into ``segments`` groups of
equal length; from each group one run of ``segment_frames`` adjacent frames
is taken (1 for TSN/TSM/EAN_RGB, 5 for EAN_RGB+LMC):

* ``train``: the run starts at a uniformly random position of its group;
* ``eval``: the run is centred in its group (deterministic).

With ``span = num_frames - segment_frames + 1`` possible run starts and
``avg = span // segments``, group ``k`` owns starts ``[k*avg, (k+1)*avg)``
(TSN's ``average_duration``); eval takes ``int(tick/2 + tick*k)`` with
``tick = span / segments``. A video too short for one start per group
(``avg == 0``) gets evenly spread starts (repeats allowed), and runs that
would pass the last frame repeat it. The result is the frame index of every
input frame, segment-major: ``(segments * segment_frames,)`` int64, which is
the layout ``jaxar.models.ean`` expects (``T = segments * segment_frames``).

Kept dependency-free (numpy) so the exported bundle's ``runtime/`` can use
the same function as the training data sources and ``jaxar.predict``.
"""
from __future__ import annotations

import numpy as np

MODES = ("train", "eval")


def segment_starts(num_frames: int, segments: int, segment_frames: int = 1, mode: str = "eval",
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """First frame of each segment's run, ``(segments,)`` int64 (module docstring)."""
    if num_frames < 1 or segments < 1 or segment_frames < 1:
        raise ValueError(f"num_frames, segments and segment_frames must be positive, got "
                         f"{num_frames}/{segments}/{segment_frames}")
    if mode not in MODES:
        raise ValueError(f"segment sampling mode must be one of {MODES}, got {mode!r}")
    if mode == "train" and rng is None:
        raise ValueError("train-mode segment sampling needs an rng (numpy Generator)")
    span = max(num_frames - segment_frames + 1, 1)
    avg = span // segments
    k = np.arange(segments)
    if avg == 0:                                   # fewer starts than segments: spread, repeat
        return np.floor(k * span / segments).astype(np.int64)
    if mode == "train":
        return (k * avg + rng.integers(0, avg, size=segments)).astype(np.int64)
    tick = span / segments
    return np.asarray([int(tick / 2.0 + tick * i) for i in k], np.int64)


def segment_indices(num_frames: int, segments: int, segment_frames: int = 1, mode: str = "eval",
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """Frame index of every sampled frame, segment-major ``(segments * segment_frames,)``;
    indices past the video's end repeat its last frame."""
    starts = segment_starts(num_frames, segments, segment_frames, mode, rng)
    idx = starts[:, None] + np.arange(segment_frames)[None, :]
    return np.minimum(idx, num_frames - 1).reshape(-1)
