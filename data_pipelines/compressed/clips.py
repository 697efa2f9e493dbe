"""One compressed-domain clip from a stored MPEG-4 Part 2 stream.

Sampling and geometry are the raw pipeline's (:mod:`data_pipelines.sampling`,
:func:`data_pipelines.memory_pipeline.crop_window`): ``T`` segments with a
random (training) or centred (evaluation) frame each, one random resized crop
(training) or the centre square (evaluation) shared by all four arrays, an
optional horizontal flip (which negates the horizontal motion). Output: the
dict of :func:`jaxar.runtime.compressed_clip.clip_at_size` (``iframe``,
``mv``, ``residual``, ``frames``; ``T x S x S``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from data_pipelines import sampling
from data_pipelines.clip_config import ClipConfig
from data_pipelines.memory_pipeline import crop_window
from jaxar.runtime import compressed_video
from jaxar.runtime.compressed_clip import CompressedInput, clip_at_size


def effective_spec(cfg: ClipConfig, spec: CompressedInput) -> CompressedInput:
    """``spec`` with the clip geometry and normalisation of ``cfg`` (``ClipConfig``
    decides frames, size, mean and std; ``spec`` the compressed-domain options)."""
    return dataclasses.replace(spec, frames=cfg.num_frames, size=cfg.size,
                               mean=tuple(cfg.mean), std=tuple(cfg.std))


def make_compressed_clip(stream, num_frames: int, cfg: ClipConfig, spec: CompressedInput,
                         train: bool, rng: np.random.Generator | None, clip: int = 0,
                         name: str | None = None, extract=None) -> dict[str, np.ndarray]:
    """Clip ``clip`` (of ``cfg.num_clips``) of a stored stream of ``num_frames``
    frames. Training draws offsets, crop and flip from ``rng`` in that order.
    ``extract``: replaces :func:`compressed_video.extract` (same signature), e.g. an
    :class:`data_pipelines.compressed.extract_cache.ExtractCache`."""
    spec = effective_spec(cfg, spec)
    offsets = sampling.clip_offsets(cfg.num_frames, train, rng, clip, cfg.num_clips)
    idx = sampling.frame_indices(int(num_frames), cfg.num_frames, offsets)
    extract = compressed_video.extract if extract is None else extract
    data = extract(stream, idx, accumulate=spec.accumulate, name=name)
    h, w = data.frames.shape[1:3]
    y0, x0, ch, cw = crop_window(h, w, cfg, train, rng)
    box = np.array([x0, y0, x0 + cw, y0 + ch], np.float32)
    flip = bool(train and cfg.flip and rng.random() < 0.5)
    return clip_at_size(data, box, cfg.size, spec=spec, flip=flip, normalize=cfg.normalize)
