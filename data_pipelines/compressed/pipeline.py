"""Compressed-domain batches with the raw pipelines' order, sharding and resume contract.

Public functions
----------------
``compressed_numpy_batches(streams, labels, batch_size, *, num_frames=None,
train=True, clip=ClipConfig(), compressed=CompressedInput(), seed=0,
start_step=0, process_index=0, process_count=1, prefetch=2, num_threads=1)``
    from MPEG-4 Part 2 streams held in memory (bytes, or paths).
``compressed_synthetic_batches(batch_size, *, num_clips, frames, source_size,
data_seed, num_classes, gop, qscale, **kwargs)``
    the synthetic set encoded in memory, through the function above.
``compressed_tfds_batches(name, split, batch_size, *, data_dir=None, **kwargs)``
    from the prepared ``compressed_video/<config>`` TFDS dataset (ArrayRecord,
    random access; streams are decoded here, in numpy, not in tf.data).

Batches
-------
``{"iframe": (B, T, S, S, 3), "mv": (B, T, S, S, 2), "residual": (B, T, S, S, 3),
"frames": (B, T, S, S, 3), "label": int32 (B,)}``, all float32 (``iframe`` and
``frames`` uint8 with ``ClipConfig(normalize=False)``), see
:mod:`jaxar.runtime.compressed_clip` for units and scales. Evaluation adds
``"mask": float32 (B,)``; with ``clip.num_clips = K > 1`` every array is
``(B, K, T, ...)``.

Example order, per-host shards, padding and exact resume come from
:class:`data_pipelines.sampling.IndexPlan` (as :mod:`data_pipelines.memory_pipeline`);
the random offsets / crop / flip of slot ``p`` come from
``numpy.random.default_rng([seed, host, p, 7])``, the same seeding as the
in-memory raw pipeline, so a batch is a pure function of ``(seed, host, step)``.
``ClipConfig`` sets frames, size, crop, flip, normalisation;
``CompressedInput`` the compressed-domain options (``accumulate``, scales).
"""
from __future__ import annotations

import concurrent.futures
from typing import Callable, Iterator, Sequence

import numpy as np

from data_pipelines import sampling
from data_pipelines.clip_config import ClipConfig
from data_pipelines.compressed.clips import make_compressed_clip
from jaxar.runtime.prefetch import prefetch_in_thread
from jaxar.runtime import compressed_video
from jaxar.runtime.compressed_clip import KEYS, CompressedInput

# get(i) -> (stream bytes or path, number of frames, label, display name)
Getter = Callable[[int], tuple]


def _example_clip(get: Getter, i: int, p: int, cfg: ClipConfig, spec: CompressedInput,
                  train: bool, seed: int, host: int, extract=None) -> tuple[dict[str, np.ndarray], int]:
    stream, n, label, name = get(i)
    if train or cfg.num_clips == 1:
        rng = np.random.default_rng([seed, host, int(p), 7]) if train else None
        return make_compressed_clip(stream, n, cfg, spec, train, rng, name=name,
                                    extract=extract), label
    clips = [make_compressed_clip(stream, n, cfg, spec, False, None, k, name=name, extract=extract)
             for k in range(cfg.num_clips)]
    return {k: np.stack([c[k] for c in clips]) for k in KEYS}, label


def _batches(get: Getter, num: int, batch_size: int, train: bool, cfg: ClipConfig,
             spec: CompressedInput, seed: int, host: int, count: int, step: int,
             num_threads: int, extract=None) -> Iterator[dict[str, np.ndarray]]:
    plan = sampling.IndexPlan(num, batch_size, train, seed, host, count)
    pool = concurrent.futures.ThreadPoolExecutor(num_threads) if num_threads > 1 else None
    try:
        while plan.num_batches is None or step < plan.num_batches:
            idx, pos, mask = plan.batch(step)
            args = [(get, int(i), int(p), cfg, spec, train, seed, host, extract) for i, p in zip(idx, pos)]
            rows = (list(pool.map(lambda a: _example_clip(*a), args)) if pool
                    else [_example_clip(*a) for a in args])
            batch = {k: np.stack([c[k] for c, _ in rows]) for k in KEYS}
            batch["label"] = np.array([label for _, label in rows], np.int32)
            if not train:
                batch["mask"] = mask
            yield batch
            step += 1
    finally:
        if pool:
            pool.shutdown(wait=False)


def compressed_numpy_batches(streams: Sequence, labels, batch_size: int, *,
                             num_frames: Sequence[int] | None = None, train: bool = True,
                             clip: ClipConfig = ClipConfig(),
                             compressed: CompressedInput = CompressedInput(), seed: int = 0,
                             start_step: int = 0, process_index: int = 0,
                             process_count: int = 1, prefetch: int = 2,
                             num_threads: int = 1,
                             extract=None) -> Iterator[dict[str, np.ndarray]]:
    """Batches from in-memory streams (see module docstring).

    Args:
      streams: N MPEG-4 Part 2 streams (bytes or file paths), I/P-frames only.
      labels: int ``(N,)``.
      num_frames: frames of each stream (default: read from the headers now).
      num_threads: clips extracted in parallel within a batch.
      extract: replaces :func:`compressed_video.extract`, e.g. an
        :class:`data_pipelines.compressed.extract_cache.ExtractCache` shared by
        the epochs (extraction is a pure function of stream and indices; crop and
        flip are applied after it, so batches are unchanged).
    """
    labels = np.asarray(labels)
    if labels.shape != (len(streams),):
        raise ValueError(f"labels: expected shape ({len(streams)},), got {labels.shape}")
    names = [None if isinstance(s, (bytes, bytearray)) else str(s) for s in streams]
    names = [n or f"stream {i}" for i, n in enumerate(names)]
    if num_frames is None:
        num_frames = [compressed_video.count_frames(s, n) for s, n in zip(streams, names)]
    if len(num_frames) != len(streams):
        raise ValueError(f"num_frames: {len(num_frames)} entries for {len(streams)} streams")

    def get(i):
        return streams[i], int(num_frames[i]), int(labels[i]), names[i]

    gen = _batches(get, len(streams), batch_size, train, clip, compressed, seed, process_index,
                   process_count, start_step, num_threads, extract)
    return prefetch_in_thread(gen, prefetch) if prefetch > 0 else gen


def compressed_synthetic_batches(batch_size: int, *, num_clips: int = 2000, frames: int = 16,
                                 source_size: int = 64, data_seed: int = 0,
                                 num_classes: int | None = None, gop: int | None = None,
                                 qscale: int | None = None,
                                 **kwargs) -> Iterator[dict[str, np.ndarray]]:
    """The synthetic set rendered, encoded in memory (GOP / quantiser default to
    ``kwargs["compressed"]``'s) and batched by :func:`compressed_numpy_batches`."""
    from data_pipelines.compressed.encode import compressed_synthetic
    spec = kwargs.get("compressed", CompressedInput())
    streams, labels = compressed_synthetic(num_clips, frames, source_size, data_seed, num_classes,
                                           gop=gop or spec.gop, qscale=qscale or spec.qscale)
    return compressed_numpy_batches(streams, labels, batch_size,
                                    num_frames=[frames] * len(streams), **kwargs)


def compressed_tfds_batches(name, split: str, batch_size: int, *,
                            data_dir: str | None = None, **kwargs) -> Iterator[dict[str, np.ndarray]]:
    """Batches from a prepared ``compressed_video/<config>`` dataset (``kwargs``
    as :func:`compressed_numpy_batches`). ``name`` may also be a prepared
    builder object (for configs not registered by name)."""
    import tensorflow_datasets as tfds

    import data_pipelines  # noqa: F401  (registers the builders)
    if isinstance(name, str):
        builder = tfds.builder(name, data_dir=data_dir)
    else:
        builder, name = name, f"{name.name}/{name.builder_config.name}"
    if split not in builder.info.splits:
        raise ValueError(f"{name}: no split {split!r}; available: {list(builder.info.splits)}")
    try:
        source = builder.as_data_source(split)
    except NotImplementedError as e:
        raise ValueError(f"{name}: the prepared files are not ArrayRecord; rebuild it") from e
    train = kwargs.pop("train", True)
    cfg = kwargs.pop("clip", ClipConfig())
    spec = kwargs.pop("compressed", CompressedInput())
    prefetch = kwargs.pop("prefetch", 2)
    num_threads = kwargs.pop("num_threads", 1)
    seed = kwargs.pop("seed", 0)
    host = kwargs.pop("process_index", 0)
    count = kwargs.pop("process_count", 1)
    step = kwargs.pop("start_step", 0)
    if kwargs:
        raise TypeError(f"compressed_tfds_batches: unexpected arguments {sorted(kwargs)}")

    def get(i):
        ex = source[i]
        return (ex["stream"], int(ex["num_frames"]), int(ex["label"]),
                f"{name}/{split}[{i}] {ex['name'].decode() if isinstance(ex['name'], bytes) else ex['name']}")

    gen = _batches(get, len(source), batch_size, train, cfg, spec, seed, host, count, step,
                   num_threads)
    return prefetch_in_thread(gen, prefetch) if prefetch > 0 else gen
