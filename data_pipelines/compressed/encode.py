"""In-memory MPEG-4 Part 2 encoding of frame arrays, and the compressed synthetic set.

``encode_videos(videos, gop, qscale) -> list[bytes]``: one stream per video.
``compressed_synthetic(num_clips, frames, size, seed, num_classes, gop, qscale)
-> (streams, labels)``: the synthetic action set (:mod:`data_pipelines.synthetic`)
rendered and encoded; ``labels`` int32 ``(N,)``.
"""
from __future__ import annotations

import numpy as np

from jaxar.runtime.compressed_video import DEFAULT_GOP, DEFAULT_QSCALE, encode_mpeg4

# The synthetic set's frame rate (data_pipelines.synthetic.SYNTHETIC_FPS), kept
# in the stream header so durations read back right.
_SYNTHETIC_FPS = 8.0


def even_crop(video: np.ndarray) -> np.ndarray:
    """Drops the last row / column if the height / width is odd (YUV 4:2:0 needs even sides)."""
    h, w = video.shape[-3] // 2 * 2, video.shape[-2] // 2 * 2
    return video[..., :h, :w, :]


def encode_videos(videos, *, gop: int = DEFAULT_GOP, qscale: int = DEFAULT_QSCALE,
                  fps: float = 25.0) -> list[bytes]:
    """uint8 ``(N, n, H, W, 3)`` (or a list of ``(n, H, W, 3)``) -> one MPEG-4
    Part 2 stream (mp4 container bytes) per video; odd sides are cropped to even."""
    return [encode_mpeg4(even_crop(np.asarray(v)), gop=gop, qscale=qscale, fps=fps)
            for v in videos]


def compressed_synthetic(num_clips: int, frames: int = 16, size: int = 64, seed: int = 0,
                         num_classes: int | None = None, *, gop: int = DEFAULT_GOP,
                         qscale: int = DEFAULT_QSCALE, start: int = 0
                         ) -> tuple[list[bytes], np.ndarray]:
    """The synthetic set (``synthetic.generate`` with the same arguments) as
    MPEG-4 Part 2 streams; ``size`` must be even."""
    from data_pipelines import synthetic
    if int(size) % 2:
        raise ValueError(f"size={size}: must be even for YUV 4:2:0 encoding")
    streams, labels = [], []
    chunk = 64
    for a in range(0, int(num_clips), chunk):
        videos, lab = synthetic.generate(min(chunk, num_clips - a), frames, size, seed,
                                         num_classes, start=start + a)
        streams += encode_videos(videos, gop=gop, qscale=qscale, fps=_SYNTHETIC_FPS)
        labels.append(lab)
    return streams, (np.concatenate(labels) if labels else np.zeros(0, np.int32))
