"""Compressed-domain training sources (CD-KD): registered as ``data.source``
``"compressed_synthetic"`` and ``"compressed_tfds"``.

Same :class:`jaxar.train.data.DataSource` contract (sizes, exact resume,
per-process shards, eval padding) as the raw sources, but batches are

``{"iframe": (B, T, S, S, 3), "mv": (B, T, S, S, 2), "residual": (B, T, S, S, 3),
"frames": (B, T, S, S, 3), "label": int32 (B,)}`` float32 (+ ``"mask"`` in
evaluation; ``(B, K, T, ...)`` for K-clip evaluation): the student's inputs and
the teacher's raw frames at the same timestamps (units and scales:
:mod:`jaxar.runtime.compressed_clip`, ``docs/compressed.md``).

Options read from the data section (defaults when absent):
``compressed_accumulate`` (True), ``compressed_mv_scale`` (8.0),
``compressed_residual_scale`` (255.0), ``compressed_gop`` (12),
``compressed_qscale`` (3), ``compressed_threads`` (1: clips extracted in
parallel per batch), ``compressed_cache`` (False; ``compressed_synthetic``
only: extract each clip's arrays once and reuse them every epoch, see
:mod:`data_pipelines.compressed.extract_cache`; crops and flips stay random,
batches are identical, the decoder runs once per clip instead of once per
clip per epoch; costs about 11 bytes per source pixel per clip of memory).
``"compressed_synthetic"`` uses the synthetic fields
(``synthetic_train``, ``synthetic_test``, ``synthetic_frames``,
``synthetic_size``) and encodes the set in memory; ``"compressed_tfds"`` reads
``data.tfds_name``, a prepared ``compressed_video/<config>`` dataset.
"""
from __future__ import annotations

import ml_collections

from jaxar.train.data import DataSource, clip_config, register_source, tfds_clip_seconds


def compressed_input(spec: ml_collections.ConfigDict, model):
    """:class:`jaxar.runtime.compressed_clip.CompressedInput` for a data section
    and model config (frames and size from the model)."""
    from jaxar.runtime.compressed_clip import MV_SCALE, RESIDUAL_SCALE, CompressedInput
    from jaxar.runtime.compressed_video import DEFAULT_GOP, DEFAULT_QSCALE
    return CompressedInput(
        frames=model.frames, size=model.size,
        accumulate=bool(spec.get("compressed_accumulate", True)),
        mv_scale=float(spec.get("compressed_mv_scale", MV_SCALE)),
        residual_scale=float(spec.get("compressed_residual_scale", RESIDUAL_SCALE)),
        gop=int(spec.get("compressed_gop", DEFAULT_GOP)),
        qscale=int(spec.get("compressed_qscale", DEFAULT_QSCALE)))


@register_source("compressed_synthetic")
def compressed_synthetic_source(spec: ml_collections.ConfigDict, model, host_batch: int,
                                process_index: int, process_count: int) -> DataSource:
    """The synthetic set as MPEG-4 Part 2 streams encoded in memory."""
    from data_pipelines import synthetic
    from data_pipelines.compressed.encode import compressed_synthetic
    from data_pipelines.compressed.extract_cache import ExtractCache
    from data_pipelines.compressed.pipeline import compressed_numpy_batches

    if not 2 <= model.num_classes <= len(synthetic.CLASS_NAMES):
        raise ValueError(f"model.num_classes={model.num_classes}: the synthetic set has "
                         f"2..{len(synthetic.CLASS_NAMES)} classes")
    cin = compressed_input(spec, model)
    common = dict(frames=spec.synthetic_frames, size=spec.synthetic_size,
                  num_classes=model.num_classes, gop=cin.gop, qscale=cin.qscale)
    train_s, train_l = compressed_synthetic(spec.synthetic_train, seed=synthetic.TRAIN_SEED, **common)
    test_s, test_l = compressed_synthetic(spec.synthetic_test, seed=synthetic.TEST_SEED, **common)
    kw = dict(process_index=process_index, process_count=process_count, compressed=cin,
              num_threads=int(spec.get("compressed_threads", 1)))
    cached = bool(spec.get("compressed_cache", False))
    train_cache = ExtractCache() if cached else None
    eval_cache = ExtractCache() if cached else None

    def train_batches(seed: int, start_step: int):
        return compressed_numpy_batches(train_s, train_l, host_batch, train=True,
                                        num_frames=[spec.synthetic_frames] * len(train_s),
                                        clip=clip_config(spec, model), seed=seed,
                                        start_step=start_step, extract=train_cache, **kw)

    def eval_batches():
        return compressed_numpy_batches(test_s, test_l, host_batch, train=False,
                                        num_frames=[spec.synthetic_frames] * len(test_s),
                                        clip=clip_config(spec, model, train=False),
                                        extract=eval_cache, **kw)

    seconds = spec.synthetic_frames / synthetic.SYNTHETIC_FPS
    return DataSource(len(train_s), len(test_s), list(synthetic.CLASS_NAMES[:model.num_classes]),
                      train_batches, eval_batches,
                      {"seconds": seconds, "source": f"synthetic set: every clip is "
                       f"{spec.synthetic_frames} frames at {synthetic.SYNTHETIC_FPS:g} fps"})


@register_source("compressed_tfds")
def compressed_tfds_source(spec: ml_collections.ConfigDict, model, host_batch: int,
                           process_index: int, process_count: int) -> DataSource:
    """A prepared ``compressed_video/<config>`` dataset (``data.tfds_name``)."""
    import tensorflow_datasets as tfds

    import data_pipelines  # noqa: F401  (registers the builders)
    from data_pipelines.compressed.pipeline import compressed_tfds_batches
    from data_pipelines.input_pipeline import split_size

    name, ddir = spec.tfds_name, spec.data_dir
    if not name or not name.startswith("compressed_video"):
        raise ValueError(f"data.source='compressed_tfds' needs data.tfds_name = "
                         f"compressed_video/<config>, got {name!r}")
    info = tfds.builder(name, data_dir=ddir).info
    labels = info.features["label"]
    if labels.num_classes != model.num_classes:
        raise ValueError(f"model.num_classes={model.num_classes} but {name} has "
                         f"{labels.num_classes} classes")
    kw = dict(process_index=process_index, process_count=process_count, data_dir=ddir,
              compressed=compressed_input(spec, model),
              num_threads=int(spec.get("compressed_threads", 1)))

    def train_batches(seed: int, start_step: int):
        return compressed_tfds_batches(name, spec.train_split, host_batch, train=True,
                                       clip=clip_config(spec, model), seed=seed,
                                       start_step=start_step, **kw)

    def eval_batches():
        return compressed_tfds_batches(name, spec.eval_split, host_batch, train=False,
                                       clip=clip_config(spec, model, train=False), **kw)

    return DataSource(split_size(name, spec.train_split, ddir), split_size(name, spec.eval_split, ddir),
                      list(labels.names), train_batches, eval_batches,
                      tfds_clip_seconds(info, name, spec.train_split))
