"""Memoised compressed-domain extraction: decode each (stream, frame indices) once.

Extraction (:func:`jaxar.runtime.compressed_video.extract`: decode, motion
vectors, accumulation, residual reconstruction) is a pure function of the
stream's bytes, the requested indices and ``accumulate``; the per-epoch
randomness of a training clip (crop box, flip) is applied afterwards by
:func:`jaxar.runtime.compressed_clip.clip_at_size`. When a source's clips
always request the same indices (e.g. the synthetic set read with
``synthetic_frames == model.frames``: every segment is one frame), caching
the extraction makes every epoch after the first skip the decoder while the
crops and flips stay random, and the batches are bit-identical to the
uncached ones (tested in ``tests/test_compressed_cache.py``).

Memory: one :class:`~jaxar.runtime.compressed_video.CompressedClip` per
distinct key at source resolution (``T x H x W`` x 11 bytes per pixel: two
uint8 RGB arrays, float32 ``mv`` and ``residual``), e.g. 0.21 MiB for 8
frames of 32x32, so it is meant for in-memory sets (``compressed_synthetic``);
``max_entries`` bounds it (least-recently-used entries are dropped).
"""
from __future__ import annotations

import collections
import threading
from typing import Sequence

from jaxar.runtime import compressed_video


class ExtractCache:
    """Drop-in for :func:`compressed_video.extract` that remembers its results.

    Keys are ``(src, tuple(indices), accumulate)``: ``src`` is the stream's
    bytes (hashed once by Python, compared by identity first) or its path
    (a path's file must not change while the cache lives). Thread-safe.
    """

    def __init__(self, max_entries: int | None = None):
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"ExtractCache: max_entries must be >= 1 or None, got {max_entries}")
        self.max_entries = max_entries
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __call__(self, src, indices: Sequence[int], *, accumulate: bool = True,
                 name: str | None = None) -> compressed_video.CompressedClip:
        key = (bytes(src) if isinstance(src, bytearray) else str(src) if not isinstance(src, bytes)
               else src, tuple(int(i) for i in indices), bool(accumulate))
        with self._lock:
            clip = self._entries.get(key)
            if clip is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return clip
        clip = compressed_video.extract(src, indices, accumulate=accumulate, name=name)
        for a in (clip.iframe, clip.mv, clip.residual, clip.frames):
            a.setflags(write=False)           # shared between epochs: nobody may write into it
        with self._lock:
            self.misses += 1
            self._entries[key] = clip
            if self.max_entries is not None and len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return clip
