"""Compressed-domain reading of a video: I-frames, motion vectors, residuals.

numpy + OpenCV + the standard library; PyAV (the ``av`` package, pinned in
``requirements.txt``, it bundles FFmpeg) is imported lazily, so this module is
importable without it and says what to install when a function needs it.
It is part of the export bundle's runtime (compressed-domain models read
video files through it) and of the training data pipelines.

Definitions (``docs/compressed.md`` has the reasons)
----------------------------------------------------
* **Stream**: MPEG-4 Part 2 (FFmpeg's ``mpeg4``) with I- and P-frames only.
  Other codecs (H.264's multiple references and B-frames, HEVC / VP9 / AV1
  which export no motion vectors) raise :class:`UnsupportedStreamError`;
  :func:`reencode_mpeg4` is the explicit way to convert them (fixed GOP, no
  B-frames, as the paper and CoViAR do).
* **Motion vector** of a pixel ``p = (x, y)`` of P-frame ``t``: the
  displacement ``(dx, dy) = p - q`` in source pixels (float, half-pel steps)
  from the position ``q`` in the reference frame its block is predicted from,
  i.e. the motion of the content: an object translating by ``(+2, +1)``
  pixels per frame has ``mv = (2, 1)``. FFmpeg's side data gives, per block,
  ``dst`` (block centre in frame ``t``) and ``motion_x / motion_scale`` =
  ``src - dst``; we store its negative. Intra-coded blocks of a P-frame and
  I-frames have no vector: ``mv = 0``.
* **Fields**: :func:`block_motion_field` paints every block's vector on a
  grid of ``GRID x GRID`` (4 x 4) pixel cells, ``(ceil(H/4), ceil(W/4), 2)``;
  :func:`dense_motion_field` repeats each cell to its pixels, ``(H, W, 2)``.
* **Prediction / residual**, per frame (``accumulate=False``):
  ``prediction_t(p) = frame_{t-1}(p - mv_t(p))`` (bilinear at half-pel
  positions, edges clamped as the codec's unrestricted vectors do) and
  ``residual_t = frame_t - prediction_t`` in RGB pixel units (FFmpeg exports
  no residuals; the codec's own residual lives in YUV 4:2:0 and is not
  reachable, so this RGB one is *defined* by the equation and
  ``prediction + residual == frame`` holds exactly).
* **Accumulated** (``accumulate=True``, CoViAR): every pixel of P-frame ``t``
  is traced back through the chain of vectors to the GOP's I-frame,
  ``q_t(p) = q_{t-1}(round(p - mv_t(p)))`` (nearest pixel, positions clamped
  to the frame), ``q_I(p) = p``; the accumulated
  vector is ``p - q_t(p)`` (integer pixels) and the accumulated residual is
  ``frame_t - iframe(q_t(p))``, so ``iframe`` warped by the accumulated field
  plus the accumulated residual is ``frame_t`` exactly. For an I-frame both
  are 0.

Public API
----------
``require_av()``, ``probe(src, name=None) -> StreamInfo``,
``check_supported(info)``, ``encode_mpeg4(frames, gop=12, ...) -> bytes``,
``reencode_mpeg4(src, gop=12, ...) -> bytes``,
``block_motion_field(mvs, height, width)``, ``dense_motion_field(...)``,
``motion_compensate(reference, field)``,
``extract(src, indices, accumulate=True, name=None) -> CompressedClip``,
``iter_extract(...)`` (the same, one frame at a time).
``src`` is a path or the encoded file's bytes.
"""
from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .errors import InputError

GRID = 4                         # motion-field cell side in pixels (H.264's smallest block)
SUPPORTED_CODECS = ("mpeg4",)    # streams whose vectors reference only the previous frame
DEFAULT_GOP = 12                 # CoViAR's MPEG-4 GOP (I-frame every 12 frames)
DEFAULT_QSCALE = 3               # mpeg4 fixed quantiser (2 best .. 31 worst)
AV_PIN = "av==18.1.0"


class CompressedVideoError(InputError):
    """A video cannot be read in the compressed domain; the message names it."""


class NoVideoStreamError(CompressedVideoError):
    """The file has no video stream (audio only, text, ...)."""


class TruncatedStreamError(CompressedVideoError):
    """The stream ends before the frames its header claims or a caller needs."""


class UnsupportedStreamError(CompressedVideoError):
    """Codec or frame types the extraction is not exact for (re-encode it)."""


class MissingPyAVError(ImportError):
    """PyAV is not installed (an optional dependency of the runtime)."""


def require_av():
    """The ``av`` module, or :class:`MissingPyAVError` saying how to install it."""
    try:
        import av
    except ImportError as e:
        raise MissingPyAVError(
            f"compressed-domain input needs PyAV, an optional dependency of the jaxar runtime "
            f"(pip install {AV_PIN}); import failed: {e}") from None
    return av


def display_name(src, name: str | None) -> str:
    if name:
        return name
    if isinstance(src, (bytes, bytearray, memoryview)):
        return f"<{len(src)} bytes in memory>"
    return os.fspath(src)


def _open(src, name: str):
    av = require_av()
    if isinstance(src, (bytes, bytearray, memoryview)):
        target = io.BytesIO(bytes(src))
    else:
        target = os.fspath(src)
        if not Path(target).is_file():
            raise CompressedVideoError(f"{name}: no such file")
    try:
        return av.open(target, mode="r")
    except av.error.FFmpegError as e:
        raise TruncatedStreamError(
            f"{name}: cannot parse the container ({type(e).__name__}: {e}); the file is "
            "truncated, corrupt or not a video") from None


def _video_stream(container, name: str):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise NoVideoStreamError(f"{name}: no video stream (streams found: {', '.join(kinds)})")
    return container.streams.video[0]


@dataclasses.dataclass(frozen=True)
class StreamInfo:
    """What the container says about its first video stream.

    ``frames`` is the header's frame count (0 when the container has none)."""
    name: str
    codec: str
    width: int
    height: int
    frames: int
    fps: float
    has_b_frames: bool


def probe(src, name: str | None = None) -> StreamInfo:
    """Header facts of ``src`` (path or bytes) without decoding frames."""
    name = display_name(src, name)
    with _open(src, name) as c:
        vs = _video_stream(c, name)
        cc = vs.codec_context
        fps = float(vs.average_rate) if vs.average_rate else 0.0
        return StreamInfo(name, cc.name, cc.width, cc.height, int(vs.frames or 0), fps,
                          bool(cc.has_b_frames))


def check_supported(info: StreamInfo) -> None:
    """Raises :class:`UnsupportedStreamError` unless the stream is MPEG-4 Part 2
    without B-frames (what the extraction is exact for)."""
    if info.codec not in SUPPORTED_CODECS:
        raise UnsupportedStreamError(
            f"{info.name}: codec {info.codec!r}: compressed-domain input needs MPEG-4 Part 2 "
            "with I/P-frames only (HEVC, VP9 and AV1 export no motion vectors; H.264 uses "
            "several reference frames); re-encode it first (reencode_mpeg4, or the "
            "data preparation's reencode option)")
    if info.has_b_frames:
        raise UnsupportedStreamError(
            f"{info.name}: the stream has B-frames; re-encode it without them "
            "(reencode_mpeg4)")


def encode_mpeg4(frames: np.ndarray, *, gop: int = DEFAULT_GOP, qscale: int = DEFAULT_QSCALE,
                 fps: float = 25.0, container: str = "mp4") -> bytes:
    """Encodes uint8 RGB ``(n, H, W, 3)`` (H, W even) to an MPEG-4 Part 2 file in
    memory: an I-frame every ``gop`` frames, P-frames between, no B-frames,
    fixed quantiser ``qscale``, one thread (deterministic output)."""
    av = require_av()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f"frames: expected uint8 (n>0, H, W, 3), got {frames.dtype} {frames.shape}")
    n, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"frames: {w}x{h}: width and height must be even (YUV 4:2:0)")
    if gop < 1 or not 1 <= qscale <= 31:
        raise ValueError(f"gop={gop} must be >= 1 and qscale={qscale} in 1..31")
    buf = io.BytesIO()
    from fractions import Fraction
    with av.open(buf, mode="w", format=container) as c:
        s = c.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1001))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        cc = s.codec_context
        cc.gop_size = gop
        cc.max_b_frames = 0
        cc.thread_count = 1
        # Fixed quantiser (qmin = qmax; the "qscale" option alone is ignored without
        # per-frame quality), fixed GOP (no extra I-frames at scene cuts), no B-frames.
        cc.options = {"qmin": str(qscale), "qmax": str(qscale), "sc_threshold": "1000000000",
                      "g": str(gop), "bf": "0"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def reencode_mpeg4(src, *, gop: int = DEFAULT_GOP, qscale: int = DEFAULT_QSCALE,
                   name: str | None = None) -> bytes:
    """Decodes any video FFmpeg reads (HEVC, VP9, AV1, H.264 with B-frames, ...)
    and encodes it again with :func:`encode_mpeg4` (same size, rounded down to
    even, same frame rate). A second lossy encode: explicit, never implicit."""
    name = display_name(src, name)
    frames, fps = [], 25.0
    with _open(src, name) as c:
        vs = _video_stream(c, name)
        vs.codec_context.thread_count = 1
        if vs.average_rate:
            fps = float(vs.average_rate)
        to_rgb = RGBConverter()
        try:
            for fr in c.decode(vs):
                frames.append(to_rgb(fr))
        except require_av().error.FFmpegError as e:
            raise TruncatedStreamError(f"{name}: decoding failed after {len(frames)} frames "
                                       f"({type(e).__name__}: {e})") from None
    if not frames:
        raise TruncatedStreamError(f"{name}: the video stream has no decodable frame")
    video = np.stack(frames)
    h, w = video.shape[1] // 2 * 2, video.shape[2] // 2 * 2
    return encode_mpeg4(video[:, :h, :w], gop=gop, qscale=qscale, fps=fps)


def block_motion_field(mvs: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """FFmpeg motion-vector side data -> float32 ``(ceil(H/4), ceil(W/4), 2)``
    ``(dx, dy)`` per 4x4 cell (content motion, source pixels, see module doc);
    cells of intra-coded blocks are 0.

    Args:
      mvs: the structured array of ``frame.side_data["MOTION_VECTORS"].to_ndarray()``
        (fields ``w, h, dst_x, dst_y, motion_x, motion_y, motion_scale, source``),
        or ``None`` (no vectors: all 0).
    """
    gh, gw = -(-height // GRID), -(-width // GRID)
    grid = np.zeros((gh, gw, 2), np.float32)
    if mvs is None or not len(mvs):
        return grid
    if np.any(mvs["source"] > 0):
        raise UnsupportedStreamError("motion vectors reference a future frame (B-frame); "
                                     "re-encode without B-frames (reencode_mpeg4)")
    scale = mvs["motion_scale"].astype(np.float32)
    dx = -mvs["motion_x"].astype(np.float32) / scale
    dy = -mvs["motion_y"].astype(np.float32) / scale
    ny = np.maximum(mvs["h"].astype(np.int64) // GRID, 1)
    nx = np.maximum(mvs["w"].astype(np.int64) // GRID, 1)
    cy0 = (mvs["dst_y"].astype(np.int64) - mvs["h"].astype(np.int64) // 2) // GRID
    cx0 = (mvs["dst_x"].astype(np.int64) - mvs["w"].astype(np.int64) // 2) // GRID
    # one row per (block, cell of the block): block id and the cell's offset in it
    counts = ny * nx
    block = np.repeat(np.arange(len(mvs)), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    cy = cy0[block] + within // nx[block]
    cx = cx0[block] + within % nx[block]
    ok = (cy >= 0) & (cy < gh) & (cx >= 0) & (cx < gw)
    grid[cy[ok], cx[ok]] = np.stack([dx, dy], -1)[block[ok]]
    return grid


def dense_motion_field(block_field: np.ndarray, height: int, width: int) -> np.ndarray:
    """Block field ``(ceil(H/4), ceil(W/4), 2)`` -> per-pixel float32 ``(H, W, 2)``
    (each cell's vector repeated over its 4 x 4 pixels)."""
    import cv2
    gh, gw = block_field.shape[:2]
    full = cv2.resize(np.ascontiguousarray(block_field, np.float32), (gw * GRID, gh * GRID),
                      interpolation=cv2.INTER_NEAREST)
    return full[:height, :width]


def _pixel_grid(height: int, width: int) -> np.ndarray:
    """float32 ``(H, W, 2)``: each pixel's own ``(x, y)``."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs, ys], -1)


def motion_compensate(reference: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``prediction(p) = reference(p - field(p))``: bilinear (exact at integer
    and half-pel positions), positions clamped to the frame. ``reference``
    uint8/float ``(H, W, C)``, ``field`` ``(H, W, 2)`` -> float32 ``(H, W, C)``."""
    import cv2
    h, w = reference.shape[:2]
    where = _pixel_grid(h, w) - field.astype(np.float32)
    out = cv2.remap(np.asarray(reference, np.float32), where, None, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(reference.shape).astype(np.float32, copy=False)


class RGBConverter:
    """Decoded frame -> uint8 RGB ``(H, W, 3)`` with one cached swscale context
    (``frame.to_ndarray(format="rgb24")`` sets up a new one per frame, which
    costs more than the conversion; the output is identical)."""

    def __init__(self):
        from av.video.reformatter import VideoReformatter
        self._reformatter = VideoReformatter()

    def __call__(self, frame) -> np.ndarray:
        return self._reformatter.reformat(frame, format="rgb24").to_ndarray()


@dataclasses.dataclass
class CompressedClip:
    """Compressed-domain arrays of the requested frames, at source resolution.

    For each requested index ``i`` (``T`` entries, in request order):

    Attributes:
      iframe: uint8 ``(T, H, W, 3)`` RGB: the decoded I-frame of the GOP holding frame ``i``.
      mv: float32 ``(T, H, W, 2)`` ``(dx, dy)`` source pixels: accumulated back to
        that I-frame (``accumulate``) or relative to frame ``i - 1``.
      residual: float32 ``(T, H, W, 3)`` RGB pixel units in ``[-255, 255]``:
        ``frames - prediction`` (see module doc).
      frames: uint8 ``(T, H, W, 3)`` RGB: the fully decoded frames (the teacher's input).
      indices: int64 ``(T,)`` the requested frame indices.
      gop_start: int64 ``(T,)`` index of the I-frame each frame refers to.
      is_iframe: bool ``(T,)``.
      accumulate: which residual / vector definition was used.
      num_frames: frames decoded (up to the last requested one).
    """
    iframe: np.ndarray
    mv: np.ndarray
    residual: np.ndarray
    frames: np.ndarray
    indices: np.ndarray
    gop_start: np.ndarray
    is_iframe: np.ndarray
    accumulate: bool
    num_frames: int


def _frames_with_mvs(container, vs, name: str) -> Iterator[tuple[object, np.ndarray | None]]:
    av = require_av()
    vs.codec_context.options = {"flags2": "+export_mvs"}
    vs.codec_context.thread_count = 1
    count = 0
    try:
        for fr in container.decode(vs):
            sd = fr.side_data.get("MOTION_VECTORS")
            yield fr, (sd.to_ndarray() if sd is not None else None)
            count += 1
    except av.error.FFmpegError as e:
        raise TruncatedStreamError(f"{name}: decoding failed after {count} frames "
                                   f"({type(e).__name__}: {e}); the stream is truncated or "
                                   "corrupt") from None


def iter_extract(src, indices: Sequence[int], *, accumulate: bool = True,
                 name: str | None = None, info_out: list | None = None
                 ) -> Iterator[tuple[int, tuple]]:
    """Streaming form of :func:`extract`: decodes ``src`` once, up to the largest
    requested index, and yields ``(t, (iframe, mv, residual, frame, gop_start,
    is_iframe))`` for every distinct requested frame ``t`` in ascending order, as
    soon as it is decoded (arrays at source resolution, as in :class:`CompressedClip`),
    so a caller can reduce each frame before the next is decoded (bounded memory
    over a long video). ``info_out`` (a list) receives the number of frames decoded.
    Raises as :func:`extract` (a truncated stream after the frames already yielded).
    """
    import cv2
    av = require_av()
    name = display_name(src, name)
    idx = np.asarray(indices, np.int64).reshape(-1)
    if not len(idx) or idx.min() < 0:
        raise ValueError(f"{name}: indices must be non-empty and >= 0, got {idx.tolist()}")
    wanted = set(idx.tolist())
    last = int(idx.max())
    to_rgb = RGBConverter()
    with _open(src, name) as c:
        vs = _video_stream(c, name)
        info = StreamInfo(name, vs.codec_context.name, vs.codec_context.width,
                          vs.codec_context.height, int(vs.frames or 0), 0.0,
                          bool(vs.codec_context.has_b_frames))
        check_supported(info)
        h = w = 0
        iframe = prev = origin = pos = None
        pending: list = []        # vectors of P-frames not yet traced (accumulate)
        gop_start, t, reached = -1, -1, False
        for t, (fr, mvs) in enumerate(_frames_with_mvs(c, vs, name)):
            if t > last:
                break
            kind = fr.pict_type
            if kind == av.video.frame.PictureType.B:
                raise UnsupportedStreamError(f"{name}: frame {t} is a B-frame; re-encode "
                                             "without B-frames (reencode_mpeg4)")
            is_i = kind == av.video.frame.PictureType.I or iframe is None
            # RGB only where used: I-frames, requested frames, and (per frame)
            # the reference of a requested frame
            need_rgb = is_i or t in wanted or (not accumulate and t + 1 in wanted)
            rgb = to_rgb(fr) if need_rgb else None
            if pos is None:
                h, w = fr.height, fr.width
                pos = _pixel_grid(h, w)
            if is_i:
                iframe, gop_start, origin, pending = rgb, t, pos, []
            elif accumulate:
                pending.append(mvs)
            if t in wanted:
                if is_i:
                    mv = np.zeros((h, w, 2), np.float32)
                    residual = np.zeros((h, w, 3), np.float32)
                elif accumulate:
                    # q_t(p) = q_{t-1}(round(p - mv_t(p))), positions clamped to the
                    # frame; traced lazily, only up to the frames requested
                    for m in pending:
                        field = dense_motion_field(block_motion_field(m, h, w), h, w)
                        origin = cv2.remap(origin, pos - field, None, cv2.INTER_NEAREST,
                                           borderMode=cv2.BORDER_REPLICATE)
                    pending = []
                    mv = pos - origin
                    warped = cv2.remap(iframe, origin, None, cv2.INTER_NEAREST)
                    residual = rgb.astype(np.float32) - warped
                else:
                    mv = dense_motion_field(block_motion_field(mvs, h, w), h, w)
                    residual = rgb.astype(np.float32) - motion_compensate(prev, mv)
                reached = t == last
                yield t, (iframe, mv, residual, rgb, gop_start, is_i)
            prev = rgb
        decoded = t + 1 if t <= last else t
    if info_out is not None:
        info_out.append(decoded)
    if not reached:
        claim = f" (its header claims {info.frames})" if info.frames else ""
        raise TruncatedStreamError(f"{name}: the stream ends after {decoded} frames{claim} but "
                                   f"frame {last} was requested; the file is truncated")


def extract(src, indices: Sequence[int], *, accumulate: bool = True,
            name: str | None = None) -> CompressedClip:
    """Decodes ``src`` (an MPEG-4 Part 2 I/P stream; path or bytes) up to the
    largest requested index and returns the compressed-domain arrays of the
    frames ``indices`` (non-negative, any order, repeats allowed).

    Raises:
      NoVideoStreamError, UnsupportedStreamError (codec / B-frames),
      TruncatedStreamError (unparsable container, decode error, or the stream
      ends before a requested frame), MissingPyAVError.
    """
    idx = np.asarray(indices, np.int64).reshape(-1)
    decoded: list = []
    got = dict(iter_extract(src, idx, accumulate=accumulate, name=name, info_out=decoded))
    rows = [got[int(i)] for i in idx]
    return CompressedClip(
        iframe=np.stack([r[0] for r in rows]), mv=np.stack([r[1] for r in rows]),
        residual=np.stack([r[2] for r in rows]), frames=np.stack([r[3] for r in rows]),
        indices=idx, gop_start=np.array([r[4] for r in rows], np.int64),
        is_iframe=np.array([r[5] for r in rows], bool), accumulate=accumulate,
        num_frames=decoded[0])


def count_frames(src, name: str | None = None) -> int:
    """Frames in the video stream: the header's count, else the number of
    video packets (demuxing only, no decoding)."""
    name = display_name(src, name)
    with _open(src, name) as c:
        vs = _video_stream(c, name)
        if vs.frames:
            return int(vs.frames)
        return sum(1 for p in c.demux(vs) if p.size)
