"""Which example and which frames each batch slot gets (pure numpy, no TF).

Shared by the tf.data and the in-memory pipelines so both visit examples in
the same order and satisfy the same resume contract.

Stream positions
----------------
A pipeline for one host is a stream of slots; slot ``p`` of the stream is
``(step * batch_size + j)`` for batch ``step`` and row ``j``.

* Per-host shard: host ``h`` of ``P`` owns examples
  ``[floor(h*n/P), floor((h+1)*n/P))`` of the split: shards are disjoint and
  cover the split; each host only reads its own shard.
* Training: epoch ``e = p // n_h`` and rank ``r = p % n_h`` (``n_h``: shard
  size); the example is ``shard_start + perm_e[r]`` where ``perm_e`` is a
  permutation seeded by ``(seed, host, e)``. The stream is infinite; a batch
  may straddle two epochs.
* Evaluation: slot ``p`` is example ``shard_start + p`` in order; every host
  yields ``ceil(ceil(n/P) / batch_size)`` batches (the same count on all
  hosts) and slots past the end of the shard are padding (``mask = 0``,
  content repeats the shard's first example).

Everything is a pure function of ``(seed, host, position)``, so an iterator
started at ``start_step=k`` yields exactly the batches ``k, k+1, ...`` of an
uninterrupted one.

Frame sampling
--------------
``T`` frames from a clip of ``n`` stored frames: the clip is cut into ``T``
equal segments; training takes a uniformly random frame in each segment
(random offset per segment), evaluation the frame at each segment's centre;
multi-clip evaluation with ``K`` clips uses offsets ``(k + 0.5) / K`` within
the segments for clip ``k``. Clips shorter than ``T`` repeat frames. A model
that takes runs of ``L`` adjacent frames (``ClipConfig.segment_frames``, EAN
with LMC) gets ``T / L`` segments and the run starting at the drawn offset in
each (:func:`clip_indices`). The rule is :mod:`jaxar.runtime.segments`, the
function ``jaxar.predict`` and the bundle runtime sample windows with; the
offsets come from the slot's generator seeded by ``(seed, host, position)``,
so a resumed run draws the same frames and every epoch draws new ones.

Stored frames are on a constant-rate time line (``data_pipelines/video_io.py``
places decoded frames by their timestamps and stores the frame on screen at
each ``k / fps``: :func:`jaxar.runtime.sampling.on_screen`, the rule the
inference windows sample a variable-frame-rate video with), so a frame index
here is a time, ``index / fps``, for every source video, and a segment's frame
is the picture shown at that time, as at inference.
"""
from __future__ import annotations

import threading

import numpy as np

from jaxar.runtime.sampling import frame_indices, on_screen  # noqa: F401  (the one sampling rule)
from jaxar.runtime.segments import indices_at


def shard_range(n: int, process_index: int, process_count: int) -> tuple[int, int]:
    """``[start, stop)`` example range of host ``process_index``."""
    if process_count < 1 or not 0 <= process_index < process_count:
        raise ValueError(f"process_index={process_index}, process_count={process_count}: "
                         "need 0 <= process_index < process_count")
    return n * process_index // process_count, n * (process_index + 1) // process_count


def eval_num_batches(n: int, batch_size: int, process_count: int) -> int:
    """Batches every host yields in evaluation (same on all hosts)."""
    largest = -(-n // process_count)
    return -(-largest // batch_size)


def train_steps_per_epoch(n: int, batch_size: int, process_count: int = 1) -> int:
    """Full batches per epoch of the smallest host shard (for schedules)."""
    return (n // process_count) // batch_size


class IndexPlan:
    """Maps stream positions to example indices for one host (see module doc)."""

    def __init__(self, n: int, batch_size: int, train: bool, seed: int = 0,
                 process_index: int = 0, process_count: int = 1):
        if n < 1:
            raise ValueError(f"dataset has {n} examples: need at least one")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size}: must be >= 1")
        self.start, self.stop = shard_range(n, process_index, process_count)
        self.shard = self.stop - self.start
        if self.shard < 1:
            raise ValueError(f"host {process_index} of {process_count} gets no example "
                             f"of the {n} in the split; use fewer hosts")
        self.n, self.batch_size, self.train = n, batch_size, train
        self.seed, self.process_index = int(seed), int(process_index)
        self.num_batches = None if train else eval_num_batches(n, batch_size, process_count)
        self._lock = threading.Lock()
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        """Permutation of the shard for ``epoch`` (the last few are cached)."""
        if epoch not in self._perms:
            if len(self._perms) >= 4:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = np.random.default_rng(
                [self.seed, self.process_index, epoch]).permutation(self.shard)
        return self._perms[epoch]

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For batch ``step``: example indices int64 ``(B,)`` (into the whole
        split), stream positions int64 ``(B,)`` and mask float32 ``(B,)``."""
        pos = step * self.batch_size + np.arange(self.batch_size, dtype=np.int64)
        if self.train:
            epoch, rank = pos // self.shard, pos % self.shard
            with self._lock:
                idx = np.array([self._perm(int(e))[r] for e, r in zip(epoch, rank)], np.int64)
            return self.start + idx, pos, np.ones(self.batch_size, np.float32)
        if step >= self.num_batches:
            raise IndexError(f"eval step {step} >= {self.num_batches} batches")
        mask = (pos < self.shard).astype(np.float32)
        return self.start + np.where(pos < self.shard, pos, 0), pos, mask


def clip_offsets(num_frames: int, train: bool, rng: np.random.Generator | None = None,
                 clip: int = 0, num_clips: int = 1) -> np.ndarray:
    """Per-segment offsets in ``[0, 1)``: random in training, ``(clip + 0.5) / num_clips``
    at evaluation."""
    if train:
        return rng.random(num_frames)
    return np.full(num_frames, (clip + 0.5) / num_clips)


def clip_indices(n: int, cfg, train: bool, rng: np.random.Generator | None = None,
                 clip: int = 0) -> np.ndarray:
    """Stored-frame indices of one clip, int64 ``(T,)`` segment-major:
    ``cfg.segments`` segments of ``cfg.segment_frames`` adjacent frames over
    the ``n`` stored frames, offsets from :func:`clip_offsets` (one draw per
    segment from ``rng`` in training)."""
    offsets = clip_offsets(cfg.segments, train, rng, clip, cfg.num_clips)
    return indices_at(n, cfg.segments, cfg.segment_frames, offsets)
