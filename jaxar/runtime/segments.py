"""TSN segment sampling (Wang et al., ECCV 2016): the one frame-sampling rule
of the project, numpy only.

A model's clip is ``T = segments * segment_frames`` frames
(:class:`SegmentSpec`): the span being sampled (a stored training video, an
inference window, a whole file) is divided into ``segments`` groups of equal
length and each group contributes one run of ``segment_frames`` adjacent
frames (1 for X3D/TSM/ARC/EAN_RGB, 5 for EAN_RGB+LMC):

* with ``L = segment_frames`` and ``n`` frames in the span there are
  ``m = max(n - L + 1, 1)`` possible run starts; group ``k`` owns the starts
  in ``[k * m / N, (k + 1) * m / N)`` and its run starts at
  ``floor((k + offset_k) * m / N)``;
* training draws ``offset_k`` uniformly in ``[0, 1)`` (one random run inside
  each group), evaluation and inference take ``offset_k = 0.5`` (the centre),
  K-clip evaluation ``(c + 0.5) / K`` for clip ``c``;
* run ``k`` is frames ``start_k, start_k + 1, ..., start_k + L - 1``; the
  result is segment-major ``(N * L,)``, the layout the models take.

Short spans (the documented rule, never an error): with fewer starts than
groups (``m < N``) several groups share a start, i.e. frames repeat, and a
span shorter than one run (``n < L``) repeats its last frame to fill the run.
Callers that report which frames were used (``jaxar.predict`` rows) show the
repeats.

With ``L = 1`` this is exactly ``floor((k + offset_k) * n / T)``, the uniform
sampler every model used before segments existed
(:func:`.sampling.frame_indices` calls this module), so those models are
unchanged. Where TSN's own code differs: it gives group ``k`` the starts
``[k * (m // N), (k + 1) * (m // N))`` in training, never drawing the last
``m mod N`` starts that evaluation can pick; we use the same real-valued
group boundaries in both, so training and evaluation see the same groups.

On a time line (frames placed by their timestamps, :mod:`.sampling`) the
same rule is :func:`segment_positions`: run ``k`` samples the instants
``first + (k + offset_k) * m / N + j``, ``m = max(span - L + 1, 1)``, and
each instant takes the frame on screen then; for a constant-rate video this
is exactly :func:`indices_at`.

Kept dependency-free (numpy) so the exported bundle's ``runtime/`` imports
the same function as the training data sources (``data_pipelines``) and
``jaxar.predict``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

MODES = ("train", "eval")
EVAL_OFFSET = 0.5


@dataclasses.dataclass(frozen=True)
class SegmentSpec:
    """How a model's ``frames`` input frames are drawn from a span of video:
    ``segments`` groups, ``segment_frames`` adjacent frames from each.

    Declared by every model config (``ModelConfigBase.clip_sampling``), stored
    as ``{"segments": N, "segment_frames": L}`` under ``"sampling"`` in
    ``record.json`` and the bundle's ``preprocessing.json``; a file without
    it means ``(frames, 1)``, the uniform sampler of the older models."""
    segments: int
    segment_frames: int = 1

    def __post_init__(self):
        if int(self.segments) < 1 or int(self.segment_frames) < 1:
            raise ValueError(f"segments and segment_frames must be positive, got "
                             f"{self.segments}/{self.segment_frames}")

    @property
    def frames(self) -> int:
        """``T``: frames of one clip (``segments * segment_frames``)."""
        return self.segments * self.segment_frames

    def to_json(self) -> dict:
        return {"segments": int(self.segments), "segment_frames": int(self.segment_frames)}

    @classmethod
    def from_json(cls, doc, frames: int, where: str = "sampling") -> "SegmentSpec":
        """Reads ``to_json``'s dict (``None``: the default ``(frames, 1)``);
        checks ``segments * segment_frames == frames``. ``ValueError`` naming
        ``where`` when malformed."""
        if doc is None:
            return cls(int(frames), 1)
        try:
            spec = cls(int(doc["segments"]), int(doc.get("segment_frames", 1)))
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            raise ValueError(f"{where}: expected {{\"segments\": N, \"segment_frames\": L}}, got {doc!r} "
                             f"({type(e).__name__}: {e})") from None
        if spec.frames != int(frames):
            raise ValueError(f"{where}: {spec.segments} segments x {spec.segment_frames} frames = "
                             f"{spec.frames}, but the model takes {frames} frames")
        return spec


def segment_offsets(segments: int, mode: str = "eval", rng: np.random.Generator | None = None,
                    clip: int = 0, num_clips: int = 1) -> np.ndarray:
    """Per-group offsets float64 ``(segments,)`` in ``[0, 1)``: uniform random
    draws (``train``, one ``rng.random(segments)`` call) or ``(clip + 0.5) /
    num_clips`` (``eval``)."""
    if mode not in MODES:
        raise ValueError(f"segment sampling mode must be one of {MODES}, got {mode!r}")
    if mode == "train":
        if rng is None:
            raise ValueError("train-mode segment sampling needs an rng (numpy Generator)")
        return rng.random(segments)
    return np.full(segments, (clip + 0.5) / num_clips)


def _check(segments: int, segment_frames: int) -> None:
    SegmentSpec(segments, segment_frames)          # ValueError unless both are positive


def run_starts(num_frames: int, segments: int, segment_frames: int, offsets) -> np.ndarray:
    """First frame of each group's run, int64 ``(segments,)``:
    ``floor((k + offsets[k]) * m / N)``, ``m = max(n - L + 1, 1)``."""
    _check(segments, segment_frames)
    if num_frames < 1:
        raise ValueError(f"cannot sample {segments * segment_frames} frames from a span of "
                         f"{num_frames} frames")
    m = max(int(num_frames) - segment_frames + 1, 1)
    k = np.arange(segments, dtype=np.float64)
    starts = np.floor((k + np.asarray(offsets, np.float64)) * m / segments).astype(np.int64)
    return np.clip(starts, 0, m - 1)


def indices_at(num_frames: int, segments: int, segment_frames: int, offsets) -> np.ndarray:
    """Frame index of every sampled frame for the given per-group offsets,
    segment-major int64 ``(segments * segment_frames,)`` in ``[0, n)``; a
    run past the span's end repeats its last frame."""
    starts = run_starts(num_frames, segments, segment_frames, offsets)
    idx = starts[:, None] + np.arange(segment_frames, dtype=np.int64)[None, :]
    return np.minimum(idx, int(num_frames) - 1).reshape(-1)


def segment_indices(num_frames: int, segments: int, segment_frames: int = 1, mode: str = "eval",
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """:func:`indices_at` with :func:`segment_offsets` (``train``: random run
    in each group from ``rng``; ``eval``: centred runs)."""
    _check(segments, segment_frames)
    return indices_at(num_frames, segments, segment_frames, segment_offsets(segments, mode, rng))


def segment_starts(num_frames: int, segments: int, segment_frames: int = 1, mode: str = "eval",
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """First frame of each group's run, ``(segments,)`` int64."""
    _check(segments, segment_frames)
    return run_starts(num_frames, segments, segment_frames, segment_offsets(segments, mode, rng))


def segment_positions(span: float, segments: int, segment_frames: int = 1,
                      offsets=EVAL_OFFSET) -> np.ndarray:
    """Sampling instants relative to a span's start, float64 ``(N * L,)``
    segment-major, on a time line in frames: ``(k + offsets[k]) * m / N + j``
    with ``m = max(span - L + 1, 1)``; the frame on screen at each instant
    (the last frame at or before it) is the one taken. For integer frame
    positions ``0..n-1`` and ``span = n`` this picks :func:`indices_at`."""
    _check(segments, segment_frames)
    if not span > 0:
        raise ValueError(f"cannot sample a span of {span} frames")
    m = max(float(span) - segment_frames + 1, 1.0)
    k = np.arange(segments, dtype=np.float64)
    starts = (k + np.asarray(offsets, np.float64)) * m / segments
    return (starts[:, None] + np.arange(segment_frames, dtype=np.float64)[None, :]).reshape(-1)
