"""In-memory input pipeline: numpy video arrays -> batches (no TensorFlow).

The cheap path for the synthetic set and small experiments: same batch dicts,
same example order, sharding and resume contract as the tf.data pipeline
(:mod:`data_pipelines.sampling`); frame decoding is not needed and the
resizing uses OpenCV. Random numbers come from numpy generators seeded by
``(seed, host, stream position)``, so values differ from the tf.data path's
but are just as deterministic.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from data_pipelines import sampling
from data_pipelines.clip_config import ClipConfig
from jaxar.runtime.crop import crop_and_resize
from jaxar.runtime.prefetch import prefetch_in_thread
from jaxar.runtime.preprocess import normalise as runtime_normalise


def crop_window(h: int, w: int, cfg: ClipConfig, train: bool,
                rng: np.random.Generator | None) -> tuple[int, int, int, int]:
    """``(y0, x0, ch, cw)``: random resized crop in training, else the centre square."""
    if not train or (cfg.area_range == (1.0, 1.0) and cfg.aspect_range == (1.0, 1.0)):
        side = min(h, w)
        return (h - side) // 2, (w - side) // 2, side, side
    area = rng.uniform(*cfg.area_range) * h * w
    ratio = np.exp(rng.uniform(np.log(cfg.aspect_range[0]), np.log(cfg.aspect_range[1])))
    cw = int(np.clip(round(np.sqrt(area * ratio)), 1, w))
    ch = int(np.clip(round(np.sqrt(area / ratio)), 1, h))
    return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw


def make_clip(video: np.ndarray, cfg: ClipConfig, train: bool, rng: np.random.Generator | None,
              clip: int = 0) -> np.ndarray:
    """One clip, uint8 ``(T, S, S, 3)``, from a stored video uint8 ``(n, H, W, 3)``."""
    n, h, w = video.shape[:3]
    frames = video[sampling.clip_indices(n, cfg, train, rng, clip)]
    y0, x0, ch, cw = crop_window(h, w, cfg, train, rng)
    box = np.array([x0, y0, x0 + cw, y0 + ch], np.float32)
    out = np.stack([crop_and_resize(f, box, cfg.size, cfg.size) for f in frames])
    if train and cfg.flip and rng.random() < 0.5:
        out = out[:, :, ::-1]
    return out


def normalise(clips_uint8: np.ndarray, cfg: ClipConfig) -> np.ndarray:
    """uint8 RGB -> float32 ``(x / 255 - mean) / std`` (last axis = channels)."""
    return runtime_normalise(clips_uint8, cfg.mean, cfg.std)


def numpy_batches(videos: np.ndarray, labels: np.ndarray, batch_size: int, *,
                  train: bool = True, clip: ClipConfig = ClipConfig(), seed: int = 0,
                  start_step: int = 0, process_index: int = 0, process_count: int = 1,
                  prefetch: int = 2) -> Iterator[dict[str, np.ndarray]]:
    """Batches from in-memory videos.

    Args:
      videos: uint8 ``(N, n, H, W, 3)`` (all clips the same shape).
      labels: int ``(N,)``.
      batch_size: per-host batch size B.
      train: random sampling/augmentation and an infinite stream; else one
        deterministic pass over this host's shard with padding (see
        :mod:`data_pipelines.sampling`).
      clip: :class:`ClipConfig`.
      seed, start_step, process_index, process_count: see the module doc of
        :mod:`data_pipelines.sampling`.
      prefetch: batches prepared ahead in a background thread (0: none).

    Yields:
      ``{"video": float32 (B, T, S, S, 3), "label": int32 (B,)}``; evaluation
      adds ``"mask": float32 (B,)`` and with ``clip.num_clips = K > 1`` the
      video is ``(B, K, T, S, S, 3)``.
    """
    videos = np.asarray(videos)
    labels = np.asarray(labels)
    if videos.ndim != 5 or videos.shape[-1] != 3 or videos.dtype != np.uint8:
        raise ValueError(f"videos: expected uint8 (N, T, H, W, 3), got {videos.dtype} {videos.shape}")
    if labels.shape != (len(videos),):
        raise ValueError(f"labels: expected shape ({len(videos)},), got {labels.shape}")
    plan = sampling.IndexPlan(len(videos), batch_size, train, seed, process_index, process_count)
    gen = _batches(videos, labels, plan, clip, train, seed, process_index, start_step)
    return prefetch_in_thread(gen, prefetch) if prefetch > 0 else gen


def _batches(videos, labels, plan, cfg, train, seed, host, step):
    while plan.num_batches is None or step < plan.num_batches:
        idx, pos, mask = plan.batch(step)
        clips = []
        for i, p in zip(idx, pos):
            rng = np.random.default_rng([seed, host, int(p), 7]) if train else None
            if train or cfg.num_clips == 1:
                clips.append(make_clip(videos[i], cfg, train, rng))
            else:
                clips.append(np.stack([make_clip(videos[i], cfg, False, None, k)
                                       for k in range(cfg.num_clips)]))
        clips = np.stack(clips)
        batch = {"video": normalise(clips, cfg) if cfg.normalize else clips,
                 "label": labels[idx].astype(np.int32)}
        if not train:
            batch["mask"] = mask
        yield batch
        step += 1


def synthetic_batches(batch_size: int, *, num_clips: int = 2000, frames: int = 16,
                      source_size: int = 64, data_seed: int = 0, num_classes: int | None = None,
                      **kwargs) -> Iterator[dict[str, np.ndarray]]:
    """The synthetic set (``synthetic.generate(num_clips, frames, source_size,
    data_seed, num_classes)``) through :func:`numpy_batches` (``**kwargs``)."""
    from data_pipelines import synthetic
    videos, labels = synthetic.generate(num_clips, frames, source_size, data_seed, num_classes)
    return numpy_batches(videos, labels, batch_size, **kwargs)
