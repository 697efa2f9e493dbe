"""Compressed-domain model input: source-resolution arrays -> one ``T x S x S`` clip.

numpy + OpenCV (+ PyAV through :mod:`.compressed_video` when reading a file).
The one implementation used by the training pipelines
(:mod:`data_pipelines.compressed`), ``jaxar.predict`` and the bundle runtime.

The input contract (``docs/compressed.md``), for one clip of ``T`` sampled
frames at model size ``S``, as produced by :func:`clip_at_size`:

=============  ==========================  =====================================================
key            dtype / shape               content
=============  ==========================  =====================================================
``iframe``     float32 ``(T, S, S, 3)``    decoded I-frame of the GOP holding each sampled
                                           frame, RGB normalised ``(x/255 - mean)/std`` like
                                           raw frames (uint8 with ``normalize=False``)
``mv``         float32 ``(T, S, S, 2)``    motion field ``(dx, dy)`` in pixels of the model
                                           input divided by ``mv_scale`` (default
                                           :data:`MV_SCALE` = 8): accumulated back to the
                                           I-frame (default) or per frame; 0 on I-frames
``residual``   float32 ``(T, S, S, 3)``    decoded frame minus motion-compensated
                                           prediction, RGB, divided by ``residual_scale``
                                           (default :data:`RESIDUAL_SCALE` = 255: in [-1, 1])
``frames``     float32 ``(T, S, S, 3)``    the fully decoded frames (teacher input),
                                           normalised like ``iframe``
=============  ==========================  =====================================================

All four share one crop box and one horizontal flip; a flip negates ``dx``.
Motion vectors are resized with area averaging (bilinear when upsampling)
and multiplied by the resize factor of their axis, so they stay in output
pixels.
"""
from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import numpy as np

from . import compressed_video
from .crop import center_square, crop_and_resize
from .preprocess import DEFAULT_MEAN, DEFAULT_STD, normalise
from .sampling import EVAL_OFFSET, frame_indices

MV_SCALE = 8.0          # mv channel = displacement in model-input pixels / 8
RESIDUAL_SCALE = 255.0  # residual channel = RGB difference / 255, in [-1, 1]
KEYS = ("iframe", "mv", "residual", "frames")


@dataclasses.dataclass(frozen=True)
class CompressedInput:
    """How compressed-domain clips are made (stored with a model / bundle).

    Attributes:
      frames: T sampled frames per clip.
      size: S, output side.
      accumulate: True: vectors and residuals accumulated back to the GOP's
        I-frame (CoViAR); False: relative to the previous frame.
      mv_scale: the ``mv`` channel is model-input pixels divided by this.
      residual_scale: the ``residual`` channel is RGB pixel units divided by this.
      gop, qscale: MPEG-4 Part 2 settings used when a video is re-encoded.
      mean, std: RGB normalisation of ``iframe`` and ``frames`` ([0, 1] units).
    """
    frames: int = 8
    size: int = 224
    accumulate: bool = True
    mv_scale: float = MV_SCALE
    residual_scale: float = RESIDUAL_SCALE
    gop: int = compressed_video.DEFAULT_GOP
    qscale: int = compressed_video.DEFAULT_QSCALE
    mean: tuple = DEFAULT_MEAN
    std: tuple = DEFAULT_STD

    def __post_init__(self):
        if self.frames < 1 or self.size < 1:
            raise ValueError(f"frames={self.frames}, size={self.size}: must be >= 1")
        if not self.mv_scale > 0 or not self.residual_scale > 0:
            raise ValueError(f"mv_scale={self.mv_scale}, residual_scale={self.residual_scale}: "
                             "must be > 0")
        if self.gop < 1:
            raise ValueError(f"gop={self.gop}: must be >= 1")


def clip_at_size(clip: "compressed_video.CompressedClip", box, size: int, *,
                 spec: CompressedInput = CompressedInput(), flip: bool = False,
                 normalize: bool = True) -> dict[str, np.ndarray]:
    """Crops ``box`` (x0, y0, x1, y1 source pixels) from every array of ``clip``,
    resizes to ``size x size``, optionally flips, and scales (module table)."""
    box = np.asarray(box, np.float32)
    sx = size / float(box[2] - box[0])
    sy = size / float(box[3] - box[1])
    iframe = np.stack([crop_and_resize(f, box, size, size) for f in clip.iframe])
    frames = np.stack([crop_and_resize(f, box, size, size) for f in clip.frames])
    mv = np.stack([crop_and_resize(m, box, size, size) for m in clip.mv]).astype(np.float32)
    residual = np.stack([crop_and_resize(r, box, size, size) for r in clip.residual])
    mv[..., 0] *= np.float32(sx / spec.mv_scale)
    mv[..., 1] *= np.float32(sy / spec.mv_scale)
    residual = residual.astype(np.float32) * np.float32(1.0 / spec.residual_scale)
    if flip:
        iframe, frames = iframe[:, :, ::-1], frames[:, :, ::-1]
        mv, residual = mv[:, :, ::-1].copy(), residual[:, :, ::-1]
        mv[..., 0] *= -1
    if normalize:
        iframe, frames = normalise(iframe, spec.mean, spec.std), normalise(frames, spec.mean, spec.std)
    return {"iframe": np.ascontiguousarray(iframe), "mv": np.ascontiguousarray(mv),
            "residual": np.ascontiguousarray(residual), "frames": np.ascontiguousarray(frames)}


def _supported_source(src, spec: CompressedInput, name: str | None, reencode: bool):
    """``src``, or its MPEG-4 Part 2 re-encoding when ``reencode`` and it needs one."""
    if not reencode:
        return src
    try:
        compressed_video.check_supported(compressed_video.probe(src, name))
        return src
    except compressed_video.UnsupportedStreamError:
        name = name or compressed_video.display_name(src, None)
        return compressed_video.reencode_mpeg4(src, gop=spec.gop, qscale=spec.qscale, name=name)


def _frame_clip(t: int, row: tuple, accumulate: bool) -> "compressed_video.CompressedClip":
    """One frame of :func:`compressed_video.iter_extract` as a one-frame clip."""
    iframe, mv, residual, rgb, gop_start, is_i = row
    return compressed_video.CompressedClip(
        iframe=iframe[None], mv=mv[None], residual=residual[None], frames=rgb[None],
        indices=np.array([t], np.int64), gop_start=np.array([gop_start], np.int64),
        is_iframe=np.array([is_i], bool), accumulate=accumulate, num_frames=t + 1)


def iter_windows(src, windows: Sequence[Sequence[int]], spec: CompressedInput, *, box=None,
                 name: str | None = None, normalize: bool = True,
                 reencode: bool = False) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yields ``(k, clip)`` for every entry ``k`` of ``windows`` (the T source
    frames of one clip; e.g. the frames of every sliding window,
    :func:`.sampling.plan_windows`) as soon as its last frame is decoded, decoding
    the video once. Each decoded frame is cropped and resized to ``S x S`` at once
    and dropped when no pending window needs it, so memory is bounded by the
    windows in flight, not by the video's length (sliding windows over a long
    video). The arrays of a frame do not depend on the other frames requested
    (they are relative to its GOP's I-frame, or to the frame before it), so a
    clip equals :func:`read_clip` of its indices. ``clip`` is one contract dict
    (module table); ``box``: crop box (default the centre square); ``reencode``:
    see :func:`read_clip`.
    """
    src = _supported_source(src, spec, name, reencode)
    sets = [np.asarray(w, np.int64).reshape(-1) for w in windows]
    if not sets:
        return
    union = np.unique(np.concatenate(sets))
    users: dict[int, int] = {}                  # frame -> windows still waiting for it
    for idx in sets:
        for f in set(idx.tolist()):
            users[f] = users.get(f, 0) + 1
    ready_at: dict[int, list[int]] = {}         # last frame of a window -> windows
    for k, idx in enumerate(sets):
        ready_at.setdefault(int(idx.max()), []).append(k)
    done: dict[int, dict[str, np.ndarray]] = {}
    for t, row in compressed_video.iter_extract(src, union, accumulate=spec.accumulate, name=name):
        if box is None:
            h, w = row[3].shape[:2]
            box = center_square(w, h)
        done[t] = clip_at_size(_frame_clip(t, row, spec.accumulate), box, spec.size, spec=spec,
                               normalize=normalize)
        for k in ready_at.pop(t, []):
            idx = sets[k]
            yield k, {key: np.concatenate([done[int(f)][key] for f in idx]) for key in KEYS}
            for f in set(idx.tolist()):
                users[f] -= 1
                if not users[f]:
                    del done[f]


def read_windows(src, windows: Sequence[Sequence[int]], spec: CompressedInput, *, box=None,
                 name: str | None = None, normalize: bool = True,
                 reencode: bool = False) -> list[dict[str, np.ndarray]]:
    """Clips for several index sets of one video, decoding the video once: the
    clips of :func:`iter_windows`, in the order of ``windows``."""
    out: list = [None] * len(windows)
    for k, clip in iter_windows(src, windows, spec, box=box, name=name, normalize=normalize,
                                reencode=reencode):
        out[k] = clip
    return out


def read_clip(src, spec: CompressedInput, *, indices: Sequence[int] | None = None,
              offset: float = EVAL_OFFSET, box=None, name: str | None = None,
              normalize: bool = True, reencode: bool = False) -> dict[str, np.ndarray]:
    """One evaluation / inference clip from a video file or bytes.

    ``indices``: the source frames to sample (e.g. a :class:`.sampling.Window`'s
    ``frames``); default: ``spec.frames`` segment centres over the whole video.
    ``box``: crop box, default the centre square. The stream must be MPEG-4
    Part 2 without B-frames; others raise
    :class:`compressed_video.UnsupportedStreamError` unless ``reencode`` is
    set, which first converts the whole video in memory with
    :func:`compressed_video.reencode_mpeg4` (``spec.gop``, ``spec.qscale``;
    a second lossy encode and a full decode: slow, explicit).
    """
    src = _supported_source(src, spec, name, reencode)
    if indices is None:
        n = compressed_video.count_frames(src, name)
        indices = frame_indices(n, spec.frames, offset)
    return read_windows(src, [indices], spec, box=box, name=name, normalize=normalize)[0]
