"""The input interface of the training loop and its built-in sources.

The loop only sees a :class:`DataSource`: two iterator factories plus sizes
and class names. The contract (it is what makes resume exact):

* ``train_batches(seed, start_step)`` yields this process's slice of global
  batch ``start_step``, ``start_step + 1``, ... forever; batch ``t`` is a pure
  function of ``(seed, t, process)``, so the data position saved in a
  checkpoint is just the step.
* ``eval_batches()`` is one pass over this process's shard of the evaluation
  split, every process the same number of batches, padding rows marked by
  ``"mask"`` 0.
* Batches are ``{"video": float32 (B, T, S, S, 3) normalised, "label": int32
  (B,)}`` (+ ``"mask": float32 (B,)`` in evaluation; ``video`` is
  ``(B, K, T, S, S, 3)`` for K-clip evaluation) with ``B`` the per-process batch.

Sources are registered by name (``data.source`` in the config) as
``factory(data, model, host_batch, process_index, process_count)``: ``data``
is the run config's data section, ``model`` the run's model config (clips
are ``model.frames x model.size x model.size``, labels ``0..model.num_classes-1``).
The built-ins wrap :mod:`data_pipelines.input_pipeline`:

* ``"synthetic"``: the embedded synthetic action set, generated in memory;
* ``"tfds"``: a prepared TFDS dataset (``data.tfds_name``, e.g. NTU RGB+D).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

import ml_collections

Batch = dict


@dataclasses.dataclass
class DataSource:
    num_train: int                      # examples in the training split (global)
    num_eval: int                       # examples in the evaluation split (global)
    class_names: list[str] | None
    train_batches: Callable[[int, int], Iterator[Batch]]    # (seed, start_step) -> batches
    eval_batches: Callable[[], Iterator[Batch]]
    # Duration of the training clips the pipeline samples T frames over:
    # {"seconds": float | None, "source": how it was obtained}. Stored in the
    # checkpoint meta as the default inference window (docs/predict.md).
    clip_seconds: dict | None = None


# factory(data section, model config, host_batch, process_index, process_count) -> DataSource
SourceFactory = Callable[[ml_collections.ConfigDict, Any, int, int, int], DataSource]
_SOURCES: dict[str, SourceFactory] = {}


def register_source(name: str):
    def wrap(fn: SourceFactory) -> SourceFactory:
        _SOURCES[name] = fn
        return fn
    return wrap


def build_source(spec: ml_collections.ConfigDict, model, host_batch: int, process_index: int = 0,
                 process_count: int = 1) -> DataSource:
    """The registered source ``spec.source`` for the run's data section and model config."""
    if spec.source not in _SOURCES:
        raise ValueError(f"data.source={spec.source!r} is not a registered source; "
                         f"choose from {sorted(_SOURCES)}")
    return _SOURCES[spec.source](spec, model, host_batch, process_index, process_count)


def clip_config(spec: ml_collections.ConfigDict, model, train: bool = True):
    """:class:`data_pipelines.clip_config.ClipConfig` for a data section and model config."""
    from data_pipelines.clip_config import ClipConfig
    return ClipConfig(num_frames=model.frames, size=model.size, area_range=tuple(spec.crop_area),
                      flip=spec.flip, num_clips=1 if train else spec.num_eval_clips,
                      segment_frames=model.clip_sampling.segment_frames)


@register_source("synthetic")
def synthetic_source(spec: ml_collections.ConfigDict, model, host_batch: int, process_index: int,
                     process_count: int) -> DataSource:
    """The synthetic set rendered at ``synthetic_frames x synthetic_size``,
    ``synthetic_train`` clips (seed ``TRAIN_SEED``) and ``synthetic_test``
    held-out clips (seed ``TEST_SEED``), kept in memory."""
    from data_pipelines import synthetic
    from data_pipelines.input_pipeline import numpy_batches

    if not 1 <= model.num_classes <= len(synthetic.CLASS_NAMES):
        raise ValueError(f"model.num_classes={model.num_classes}: the synthetic set has "
                         f"1..{len(synthetic.CLASS_NAMES)} classes")
    need = model.clip_sampling
    if need.segment_frames > 1 and spec.synthetic_frames < need.frames:
        raise ValueError(f"data.synthetic_frames={spec.synthetic_frames} is shorter than the model's "
                         f"{need.segments} segments x {need.segment_frames} adjacent frames = "
                         f"{need.frames}: runs would overlap and repeat frames (no motion); render at "
                         f"least {need.frames} frames")
    common = dict(frames=spec.synthetic_frames, size=spec.synthetic_size,
                  num_classes=model.num_classes)
    train_v, train_l = synthetic.generate(spec.synthetic_train, seed=synthetic.TRAIN_SEED, **common)
    test_v, test_l = synthetic.generate(spec.synthetic_test, seed=synthetic.TEST_SEED, **common)
    shard = dict(process_index=process_index, process_count=process_count)

    def train_batches(seed: int, start_step: int):
        return numpy_batches(train_v, train_l, host_batch, train=True, clip=clip_config(spec, model),
                             seed=seed, start_step=start_step, **shard)

    def eval_batches():
        return numpy_batches(test_v, test_l, host_batch, train=False,
                             clip=clip_config(spec, model, train=False), **shard)

    seconds = spec.synthetic_frames / synthetic.SYNTHETIC_FPS
    return DataSource(len(train_v), len(test_v), list(synthetic.CLASS_NAMES[:model.num_classes]),
                      train_batches, eval_batches,
                      {"seconds": seconds, "source": f"synthetic set: every clip is {spec.synthetic_frames} "
                       f"frames at the set's nominal {synthetic.SYNTHETIC_FPS:g} fps"})


@register_source("tfds")
def tfds_source(spec: ml_collections.ConfigDict, model, host_batch: int, process_index: int,
                process_count: int) -> DataSource:
    """A prepared TFDS dataset (NTU RGB+D 60/120, a video folder, ...)."""
    import tensorflow_datasets as tfds

    import data_pipelines  # noqa: F401  (registers the builders)
    from data_pipelines import input_pipeline

    if not spec.tfds_name:
        raise ValueError("data.source='tfds' needs data.tfds_name, e.g. ntu_rgbd/ntu60_xsub")
    name, ddir = spec.tfds_name, spec.data_dir
    info = tfds.builder(name, data_dir=ddir).info
    labels = info.features["label"]
    if labels.num_classes != model.num_classes:
        raise ValueError(f"model.num_classes={model.num_classes} but {name} has "
                         f"{labels.num_classes} classes")
    shard = dict(process_index=process_index, process_count=process_count, data_dir=ddir)

    def train_batches(seed: int, start_step: int):
        return input_pipeline.tfds_batches(name, spec.train_split, host_batch, train=True,
                                           clip=clip_config(spec, model), seed=seed,
                                           start_step=start_step, **shard)

    def eval_batches():
        return input_pipeline.tfds_batches(name, spec.eval_split, host_batch, train=False,
                                           clip=clip_config(spec, model, train=False), **shard)

    return DataSource(input_pipeline.split_size(name, spec.train_split, ddir),
                      input_pipeline.split_size(name, spec.eval_split, ddir),
                      list(labels.names), train_batches, eval_batches,
                      tfds_clip_seconds(info, name, spec.train_split))


def tfds_clip_seconds(info, name: str, split: str) -> dict:
    """The median source-clip duration of the training split, as recorded by
    the preparation report (``info.metadata["clip_duration"]``), or a reason
    why it is unknown (datasets prepared without a frame rate)."""
    base = split.split("[")[0]
    stats = ((getattr(info, "metadata", None) or {}).get("clip_duration") or {}).get(base) or {}
    seconds = stats.get("median_seconds")
    if seconds:
        return {"seconds": float(seconds),
                "source": f"median duration of the {stats.get('samples', '?')} source videos of "
                          f"{name} split {base!r} (preparation report)"}
    return {"seconds": None, "source": f"{name} records no clip durations for split {base!r}, so the "
            "training clip duration is unknown; pass --window to jaxar.predict"}


from jaxar.train import compressed_data as _compressed_data  # noqa: E402,F401  (registers the compressed_* sources)
