"""A compressed-domain PROXY source for CD-KD runs and tests before (or
without) the real MPEG-4 reader: ``data.source = "compressed_proxy"``.

NOT codec output. It takes the raw synthetic set's batches (the ``"synthetic"``
source: same clips, crops, order, shards and exact resume) and derives, per
sampled frame ``t`` of a GOP of ``data.proxy_gop`` sampled frames starting at
``g``:

* ``iframe[t] = frames[g]`` (the GOP's first sampled frame);
* ``residual[t] = frames[t] - frames[g]`` (a residual with no motion
  compensation, i.e. zero motion vectors), times ``0.25``;
* ``mv[t]``: the normal flow from ``frames[g]`` to ``frames[t]`` on the grey
  image, ``-dI/dt * grad I / (|grad I|^2 + 0.01)``, divided by 4 and clipped
  to ``[-1, 1]`` (``(dx, dy)``, channels ``0, 1``); zero on I-frames;
* ``frames``: the raw clip (the teacher's input), unchanged.

Shapes and keys are the compressed-domain contract of :mod:`jaxar.models.cdkd`.
The real source, ``"compressed_synthetic"`` (motion vectors and residuals from
an MPEG-4 Part 2 encoding of the same set), replaces it where available.
"""
from __future__ import annotations

import ml_collections
import numpy as np

from jaxar.train.data import DataSource, build_source, register_source


def proxy_compressed(video: np.ndarray, gop: int) -> dict[str, np.ndarray]:
    """``(..., T, S, S, 3)`` float32 clips -> ``{"iframe", "mv", "residual", "frames"}``."""
    if gop < 1:
        raise ValueError(f"data.proxy_gop must be >= 1, got {gop}")
    video = np.asarray(video, np.float32)
    t = video.shape[-4]
    start = (np.arange(t) // gop) * gop
    iframe = video[..., start, :, :, :]
    residual = 0.25 * (video - iframe)
    grey_i, grey_t = iframe.mean(-1), video.mean(-1)
    gy, gx = np.gradient(grey_t, axis=(-2, -1))
    dt = grey_t - grey_i
    denom = gx * gx + gy * gy + 0.01
    mv = np.stack([-dt * gx / denom, -dt * gy / denom], axis=-1) / 4.0
    return {"iframe": iframe, "mv": np.clip(mv, -1.0, 1.0).astype(np.float32),
            "residual": residual.astype(np.float32), "frames": video}


def _converted(batches, gop: int):
    for batch in batches:
        out = {k: v for k, v in batch.items() if k != "video"}
        out.update(proxy_compressed(batch["video"], gop))
        yield out


@register_source("compressed_proxy")
def compressed_proxy_source(spec: ml_collections.ConfigDict, model, host_batch: int,
                            process_index: int, process_count: int) -> DataSource:
    raw_spec = ml_collections.ConfigDict(spec.to_dict())
    raw_spec.source = "synthetic"
    raw = build_source(raw_spec, model, host_batch, process_index, process_count)
    gop = int(spec.get("proxy_gop", 4))
    return DataSource(raw.num_train, raw.num_eval, raw.class_names,
                      lambda seed, start: _converted(raw.train_batches(seed, start), gop),
                      lambda: _converted(raw.eval_batches(), gop),
                      {**(raw.clip_seconds or {}), "source": "compressed proxy of the synthetic set"})
