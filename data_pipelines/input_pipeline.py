"""Input pipelines producing numpy batches for JAX.

Public functions
----------------
``tfds_batches(name, split, batch_size, *, data_dir=None, train=True,
clip=ClipConfig(), seed=0, start_step=0, process_index=0, process_count=1,
prefetch=2, num_parallel_calls=None) -> Iterator[dict[str, np.ndarray]]``
    tf.data pipeline over a prepared TFDS dataset (``"ntu_rgbd/ntu60_xsub"``,
    ``"video_folder"``, ``"synthetic_actions/small"`` ...; ArrayRecord format,
    which our builders write by default).

``numpy_batches(videos, labels, batch_size, *, train=True, clip=ClipConfig(),
seed=0, start_step=0, process_index=0, process_count=1, prefetch=2)``
    the same from in-memory uint8 ``(N, n, H, W, 3)`` arrays (no TensorFlow);
    ``synthetic_batches(batch_size, *, num_clips, frames, source_size,
    data_seed, num_classes, **numpy_batches_kwargs)`` wraps the synthetic set.

``split_size(name, split, data_dir=None) -> int``,
``sampling.train_steps_per_epoch(n, batch_size, process_count)``,
``sampling.eval_num_batches(n, batch_size, process_count)``.

``ClipConfig`` (frames, size, random-resized-crop ranges, flip, multi-clip
eval, normalisation): see :mod:`clip_config`; the normalisation constants are
the runtime's (:mod:`jaxar.runtime.preprocess`).

Batches
-------
``{"video": float32 (B, T, S, S, 3), "label": int32 (B,)}``, channels-last,
normalised ``(x / 255 - mean) / std``; ``B`` is the per-host batch
size. With ``ClipConfig(normalize=False)`` the video is uint8 0..255 instead
(4x less host memory traffic; normalise on the accelerator). Evaluation batches add ``"mask": float32 (B,)`` (0 for padding rows)
and, with ``clip.num_clips = K > 1``, ``video`` is ``(B, K, T, S, S, 3)``.

Contract
--------
* Training streams are infinite (epoch after epoch); evaluation is one pass
  over the host's shard with the same number of batches on every host.
* Per-host sharding: host ``process_index`` of ``process_count`` reads only
  its contiguous shard of the split; shards are disjoint and cover the split.
* Deterministic: for a given ``seed`` the batches are a pure function of
  ``(seed, process_index, step)``; ``start_step=k`` yields exactly batches
  ``k, k+1, ...`` of an uninterrupted iterator (exact training resume).
  Example order, frame offsets and crops are all derived from the stream
  position (see :mod:`data_pipelines.sampling`); no shuffle buffers.
* Training clips: ``T`` frames uniformly over the stored frames (random offset
  per segment; ``T / L`` segments of ``L`` adjacent frames when
  ``clip.segment_frames = L > 1``, :mod:`jaxar.runtime.segments`), one random resized crop for the whole clip, optional flip,
  resize to ``S``. Evaluation: centred segments, centre square, resize, with
  the same code as ``jaxar.predict`` and the device runtime
  (:func:`eval_clip_numpy`, :mod:`jaxar.runtime`).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from data_pipelines import sampling
from data_pipelines.clip_config import ClipConfig  # noqa: F401
from data_pipelines.memory_pipeline import numpy_batches, synthetic_batches  # noqa: F401
from jaxar.runtime.preprocess import normalise_affine
from jaxar.runtime.segments import indices_at


def _builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    import data_pipelines  # noqa: F401  (registers our builders)
    return tfds.builder(name, data_dir=data_dir)


def split_size(name: str, split: str, data_dir: str | None = None) -> int:
    """Number of examples in a prepared split."""
    info = _builder(name, data_dir).info
    if split not in info.splits:
        raise ValueError(f"{name}: no split {split!r}; available: {list(info.splits)}")
    return info.splits[split].num_examples


def tfds_batches(name: str, split: str, batch_size: int, *, data_dir: str | None = None,
                 train: bool = True, clip: ClipConfig = ClipConfig(), seed: int = 0,
                 start_step: int = 0, process_index: int = 0, process_count: int = 1,
                 prefetch: int = 2, num_parallel_calls: int | None = None,
                 num_threads: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """tf.data batches from a prepared TFDS dataset (see module docstring).

    Args:
      name: TFDS name with config, e.g. ``"ntu_rgbd/ntu60_xsub"``.
      split: e.g. ``"train"``, ``"test"``, ``"validation"``.
      batch_size: per-host batch size B.
      data_dir: TFDS data directory (default: TFDS's).
      num_parallel_calls: parallel clip decoders (default: tf.data AUTOTUNE,
        or ``num_threads``).
      num_threads: if set, the pipeline runs on its own pool of this many
        threads with no intra-op parallelism (to pin its CPU use, e.g. for
        benchmarks or to leave cores to the trainer).
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = _builder(name, data_dir)
    if split not in builder.info.splits:
        raise ValueError(f"{name}: no split {split!r}; available: {list(builder.info.splits)}")
    try:
        source = builder.as_data_source(
            split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES)
    except NotImplementedError as e:
        raise ValueError(f"{name}: the prepared files are not ArrayRecord; rebuild it "
                         "(our builders write ArrayRecord by default)") from e
    plan = sampling.IndexPlan(len(source), batch_size, train, seed, process_index, process_count)
    features = builder.info.features

    def fetch(step):
        idx, pos, mask = plan.batch(int(step))
        records = source.__getitems__([int(i) for i in idx])
        return np.array(records, dtype=object), pos, mask

    def fetch_tf(step):
        records, pos, mask = tf.numpy_function(fetch, [step], [tf.string, tf.int64, tf.float32],
                                               stateful=False)
        records.set_shape([batch_size])
        pos.set_shape([batch_size])
        mask.set_shape([batch_size])
        return tf.data.Dataset.from_tensor_slices((records, pos, mask))

    base_seed = tf.constant([seed, process_index], tf.int64)

    def element(record, pos, mask):
        ex = features.deserialize_example(record, decoders={"video": tfds.decode.SkipDecoding()})
        key = tf.random.experimental.stateless_fold_in(base_seed, pos)
        if train or clip.num_clips == 1:
            video = _make_clip(tf, ex["video"], clip, train, key, 0)
        else:
            video = tf.stack([_make_clip(tf, ex["video"], clip, False, key, k)
                              for k in range(clip.num_clips)])
        out = {"video": video, "label": tf.cast(ex["label"], tf.int32)}
        if not train:
            out["mask"] = mask
        return out

    end = tf.int64.max if train else plan.num_batches
    ds = tf.data.Dataset.range(start_step, end)
    ds = ds.flat_map(fetch_tf)
    parallel = num_parallel_calls or num_threads or tf.data.AUTOTUNE
    ds = ds.map(element, num_parallel_calls=parallel, deterministic=True)
    ds = ds.batch(batch_size, drop_remainder=True)
    if prefetch:
        ds = ds.prefetch(prefetch)
    options = tf.data.Options()
    options.deterministic = True
    if num_threads:
        options.threading.private_threadpool_size = int(num_threads)
        options.threading.max_intra_op_parallelism = 1
    ds = ds.with_options(options)
    return ds.as_numpy_iterator()


def _make_clip(tf, encoded, cfg: ClipConfig, train: bool, key, clip_index: int):
    """``encoded``: tf.string (n,) JPEG frames -> float32 (T, S, S, 3)."""
    if not train:
        return _eval_clip(tf, encoded, cfg, clip_index)
    n = tf.shape(encoded)[0]
    t = cfg.num_frames
    keys = tf.random.experimental.stateless_split(key, 3)
    offsets = tf.random.stateless_uniform([cfg.segments], keys[0], dtype=tf.float64)
    # the one sampling rule (jaxar.runtime.segments), run on the drawn offsets
    idx = tf.numpy_function(lambda m, o: indices_at(int(m), cfg.segments, cfg.segment_frames, o)
                            .astype(np.int32), [n, offsets], tf.int32, stateful=False)
    idx = tf.ensure_shape(idx, [t])
    chosen = tf.gather(encoded, idx)
    shape = tf.io.extract_jpeg_shape(chosen[0])
    h, w = shape[0], shape[1]
    window = _crop_window(tf, h, w, cfg, train, keys[1])
    frames = [tf.image.decode_and_crop_jpeg(chosen[i], window, channels=3,
                                            dct_method="INTEGER_FAST") for i in range(t)]
    # Crops keep >= area_range[0] of the stored frame, so plain bilinear is
    # enough (antialiasing costs ~4x more and matters only for big downscales).
    video = tf.image.resize(tf.stack(frames), [cfg.size, cfg.size], method="bilinear")
    if train and cfg.flip:
        flip = tf.random.stateless_uniform([], keys[2]) < 0.5
        video = tf.cond(flip, lambda: tf.reverse(video, axis=[2]), lambda: video)
    if not cfg.normalize:
        return tf.cast(tf.clip_by_value(tf.round(video), 0.0, 255.0), tf.uint8)
    return _normalise_tf(tf, video, cfg)


def eval_clip_numpy(encoded: np.ndarray, num_frames: int, size: int, offset: float,
                    segment_frames: int = 1) -> np.ndarray:
    """Evaluation clip from JPEG frames with the code ``jaxar.predict`` and the
    device runtime use (OpenCV decode, :mod:`jaxar.runtime` sampling, centre
    square, crop + resize): uint8 RGB ``(T, S, S, 3)``; ``T / segment_frames``
    segments of ``segment_frames`` adjacent frames."""
    from data_pipelines.video_io import decode_jpeg
    from jaxar.runtime.crop import center_square, crop_and_resize
    idx = indices_at(len(encoded), num_frames // segment_frames, segment_frames, offset)
    frames = [decode_jpeg(bytes(encoded[i])) for i in idx]
    box = center_square(frames[0].shape[1], frames[0].shape[0])
    return np.stack([crop_and_resize(f, box, size, size) for f in frames])


def _eval_clip(tf, encoded, cfg: ClipConfig, clip_index: int):
    offset = (clip_index + 0.5) / cfg.num_clips
    video = tf.numpy_function(lambda e: eval_clip_numpy(e, cfg.num_frames, cfg.size, offset,
                                                        cfg.segment_frames),
                              [encoded], tf.uint8, stateful=False)
    video = tf.ensure_shape(video, [cfg.num_frames, cfg.size, cfg.size, 3])
    if not cfg.normalize:
        return video
    return _normalise_tf(tf, tf.cast(video, tf.float32), cfg)


def _normalise_tf(tf, video, cfg: ClipConfig):
    """float32 pixels -> ``(x / 255 - mean) / std`` in the graph (the runtime's affine form)."""
    scale, shift = normalise_affine(cfg.mean, cfg.std)
    return video * tf.constant(scale, tf.float32) - tf.constant(shift, tf.float32)


def _crop_window(tf, h, w, cfg: ClipConfig, train: bool, key):
    """``[y0, x0, ch, cw]`` int32: random resized crop (training) or centre square."""
    if not train or (tuple(cfg.area_range) == (1.0, 1.0) and tuple(cfg.aspect_range) == (1.0, 1.0)):
        side = tf.minimum(h, w)
        return tf.stack([(h - side) // 2, (w - side) // 2, side, side])
    u = tf.random.stateless_uniform([4], key, dtype=tf.float32)
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    area = (cfg.area_range[0] + u[0] * (cfg.area_range[1] - cfg.area_range[0])) * hf * wf
    lo, hi = np.log(cfg.aspect_range[0]), np.log(cfg.aspect_range[1])
    ratio = tf.exp(lo + u[1] * (hi - lo))
    cw = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area * ratio)), tf.int32), 1, w)
    ch = tf.clip_by_value(tf.cast(tf.round(tf.sqrt(area / ratio)), tf.int32), 1, h)
    y0 = tf.cast(tf.floor(u[2] * tf.cast(h - ch + 1, tf.float32)), tf.int32)
    x0 = tf.cast(tf.floor(u[3] * tf.cast(w - cw + 1, tf.float32)), tf.int32)
    return tf.stack([tf.minimum(y0, h - ch), tf.minimum(x0, w - cw), ch, cw])
