"""Turns one source video (+ optional per-frame person points) into stored frames.

Shared by the ``ntu_rgbd`` and ``video_folder`` builders:
decode (OpenCV, streaming) -> crop box per frame -> crop + resize -> optional
uniform temporal subsampling to ``max_frames`` -> JPEG encode.

Crop modes (``PrepOptions.crop_mode``):

* ``"person"``: square person-centric box from the points (see
  :mod:`data_pipelines.crop`); samples without usable points fall back to the
  full-frame centre square and are flagged (``PreparedClip.fallback``).
* ``"center"``: full-frame centre square for every sample.
* ``"none"``: the whole frame, resized so that its short side is ``size``.

Person and centre crops are stored at ``size x size``.

Prepared clips are cached on disk, one ``.npz`` per sample (written atomically),
so an interrupted preparation resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Sequence

import numpy as np

from data_pipelines import crop as crop_lib
from data_pipelines.video_io import OutputWriteError, VideoReader, encode_jpeg
from jaxar.runtime.files import atomic_open

CROP_MODES = ("person", "center", "none")


@dataclasses.dataclass(frozen=True)
class PrepOptions:
    """How stored frames are produced (part of the builder config)."""
    crop_mode: str = "person"
    size: int = 256                 # square side, or short side for crop_mode="none"
    crop: crop_lib.CropOptions = crop_lib.CropOptions()
    max_frames: int | None = None   # keep at most this many frames (uniform subsample)
    jpeg_quality: int = 90

    def __post_init__(self):
        if self.crop_mode not in CROP_MODES:
            raise ValueError(f"crop_mode={self.crop_mode!r}: must be one of {CROP_MODES}")
        if int(self.size) < 8:
            raise ValueError(f"size={self.size!r}: must be >= 8")
        if self.max_frames is not None and int(self.max_frames) < 1:
            raise ValueError(f"max_frames={self.max_frames!r}: must be >= 1 or None")
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ValueError(f"jpeg_quality={self.jpeg_quality!r}: must be in 1..100")

    def key(self) -> str:
        """Short hash identifying these options (cache sub-directory name)."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        return hashlib.sha1(blob).hexdigest()[:12]


@dataclasses.dataclass
class PreparedClip:
    """A prepared sample.

    Attributes:
      jpegs: one JPEG (bytes) per stored frame, length T.
      crop_boxes: float32 ``(T, 4)`` (x0, y0, x1, y1) source-pixel box each
        stored frame was cut from.
      person_boxes: float32 ``(T, 4)`` tight box of the person points in that
        frame (source pixels), NaN where there were none.
      frame_index: int32 ``(T,)`` source frame index of each stored frame.
      fallback: the full-frame centre square was used because no person
        points were available (only in crop_mode "person").
      crop_source: how the crop was chosen: ``"person"``, ``"center"``,
        ``"none"`` or ``"fallback:<reason>"`` (reason given by the caller,
        e.g. ``missing_list``, ``no_skeleton_file``, ``no_body``).
      source_width, source_height, source_frames, fps: of the decoded video.
      notes: small JSON-able dict the builder records with the sample (e.g.
        ghost bodies removed from the skeleton, a skeleton read error).
    """
    jpegs: list
    crop_boxes: np.ndarray
    person_boxes: np.ndarray
    frame_index: np.ndarray
    fallback: bool
    source_width: int
    source_height: int
    source_frames: int
    fps: float
    crop_source: str = "person"
    notes: dict = dataclasses.field(default_factory=dict)

    def save(self, path: str) -> None:
        """Atomically writes the clip to ``path`` (``.npz``, no pickles).

        Raises :class:`~data_pipelines.video_io.OutputWriteError` naming
        ``path`` if writing fails; no partial file is left behind."""
        lengths = np.array([len(j) for j in self.jpegs], dtype=np.int64)
        blob = np.frombuffer(b"".join(self.jpegs), dtype=np.uint8)
        meta = np.array([self.source_width, self.source_height, self.source_frames,
                         int(self.fallback)], dtype=np.int64)
        try:
            with atomic_open(path, "wb") as f:
                np.savez(f, blob=blob, lengths=lengths, crop_boxes=self.crop_boxes,
                         person_boxes=self.person_boxes, frame_index=self.frame_index,
                         meta=meta, fps=np.float64(self.fps),
                         crop_source=np.array(self.crop_source),
                         notes=np.array(json.dumps(self.notes, sort_keys=True)))
        except OSError as e:
            raise OutputWriteError(f"{path}: cannot write prepared sample "
                                   f"({type(e).__name__}: {e})") from None

    @classmethod
    def load(cls, path: str) -> "PreparedClip":
        with np.load(path, allow_pickle=False) as z:
            blob, lengths = z["blob"].tobytes(), z["lengths"]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            jpegs = [blob[offsets[i]:offsets[i + 1]] for i in range(len(lengths))]
            w, h, n, fb = (int(v) for v in z["meta"])
            notes = json.loads(str(z["notes"])) if "notes" in z.files else {}
            return cls(jpegs, z["crop_boxes"], z["person_boxes"], z["frame_index"],
                       bool(fb), w, h, n, float(z["fps"]), str(z["crop_source"]), notes)


def uniform_indices(n: int, k: int | None) -> np.ndarray:
    """``min(n, k)`` indices spread uniformly over ``range(n)`` (centred)."""
    if k is None or n <= k:
        return np.arange(n)
    return np.floor((np.arange(k) + 0.5) * n / k).astype(np.int64)


def _output_size(opts: PrepOptions, width: int, height: int) -> tuple[int, int]:
    if opts.crop_mode != "none":
        return opts.size, opts.size
    scale = opts.size / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def prepare_clip(video_file: str, points: Sequence[np.ndarray] | None,
                 opts: PrepOptions, display_name: str | None = None,
                 fallback_reason: str = "no_points",
                 expected_frames: int | None = None) -> PreparedClip:
    """Decodes ``video_file`` and produces a :class:`PreparedClip`.

    Args:
      video_file: local path of the video.
      points: for ``crop_mode="person"``: per source frame, float ``(P, 2)``
        pixel (x, y) points of the person(s); ``None`` or no points in any
        frame -> full-frame fallback. If the video has more frames than
        ``points``, the last box is reused; extra entries are ignored.
      opts: :class:`PrepOptions`.
      display_name: name used in error messages (default: ``video_file``).
      fallback_reason: recorded in ``crop_source`` when the fallback is used.
      expected_frames: frame count another source (the skeleton file) gives;
        decoding clearly fewer frames raises ``TruncatedVideoError``.

    Raises:
      data_pipelines.video_io.VideoDecodeError: unreadable video.
      data_pipelines.video_io.TruncatedVideoError: fewer than 90 % of the
        frames the container header or ``expected_frames`` claims.
    """
    with VideoReader(video_file, display_name) as reader:
        w, h = reader.width, reader.height
        out_w, out_h = _output_size(opts, w, h)
        fallback = False
        if opts.crop_mode == "person":
            res = crop_lib.person_boxes(points if points is not None else [], w, h, opts.crop)
            boxes, tight, fallback = res.boxes, res.tight, res.fallback
            if len(boxes) == 0:
                boxes = crop_lib.center_square(w, h)[None]
                tight = np.full((1, 4), np.nan, np.float32)
        elif opts.crop_mode == "center":
            boxes = crop_lib.center_square(w, h)[None]
            tight = np.full((1, 4), np.nan, np.float32)
        else:
            boxes = np.array([[0, 0, w, h]], np.float32)
            tight = np.full((1, 4), np.nan, np.float32)
        small, used_boxes, used_tight = [], [], []
        for t, frame in enumerate(reader.frames(expected_frames)):
            i = min(t, len(boxes) - 1)
            small.append(crop_lib.crop_and_resize(frame, boxes[i], out_w, out_h))
            used_boxes.append(boxes[i])
            used_tight.append(tight[i] if t < len(tight) else np.full(4, np.nan, np.float32))
        fps = reader.fps
    keep = uniform_indices(len(small), opts.max_frames)
    return PreparedClip(
        jpegs=[encode_jpeg(small[i], opts.jpeg_quality) for i in keep],
        crop_boxes=np.asarray(used_boxes, np.float32)[keep],
        person_boxes=np.asarray(used_tight, np.float32)[keep],
        frame_index=keep.astype(np.int32),
        fallback=fallback, source_width=w, source_height=h,
        source_frames=len(small), fps=fps,
        crop_source=(f"fallback:{fallback_reason}" if fallback
                     else "person" if opts.crop_mode == "person" else opts.crop_mode))
