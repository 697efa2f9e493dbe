"""Per-frame crop boxes for a video: centre square, full frame, a boxes file
from any person detector, or an NTU ``.skeleton`` file.

Boxes files (``--boxes FILE``), coordinates in source-video pixels
(``x0, y0`` top-left, ``x1, y1`` bottom-right, x to the right, y down):

* **JSON**: a list with exactly one entry per video frame, or an object
  ``{"boxes": [...]}`` holding that list. Each entry is ``null`` / ``[]``
  (nobody detected in that frame), one box ``[x0, y0, x1, y1]``, or a list of
  boxes ``[[x0, y0, x1, y1], ...]`` (several people: their union is kept).
* **CSV**: a header line naming at least the columns ``frame,x0,y0,x1,y1``
  (other columns, e.g. ``score`` or ``track``, are allowed and not used),
  then one row per detection; ``frame`` is the 0-based frame index; several
  rows with the same frame are united; frames without rows have nobody. An
  optional first line ``# frames: N`` states the video's frame count.

The JSON list length (or the CSV ``# frames`` count, or the largest CSV frame
index + 1) must match the decoded video's frame count; a mismatch is an
error naming the file and both counts. Detector boxes and skeleton joints
feed the same person-centric crop as the training data
(:func:`.crop.person_boxes`: smoothed over time, padded, square, kept in the
frame; frames without a person are interpolated; no person at all falls back
to the centre square). A skeleton whose frame count differs from the video's
is handled as in dataset preparation: extra skeleton frames are ignored and
the last box is reused for extra video frames.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from . import crop as crop_lib
from .errors import InputError

CROP_MODES = ("center", "full")


class FrameBoxes:
    """Box per source frame: ``box(i)`` float32 ``(4,)``.

    Attributes: ``kind`` (``center``, ``full``, ``boxes``, ``skeleton``),
    ``count`` (frames the file describes, ``None`` for center/full),
    ``strict`` (the video must have exactly ``count`` frames), ``fallback``
    (person crop had no person in any frame: centre square used).
    """

    def __init__(self, kind: str, width: int, height: int, boxes: np.ndarray | None = None,
                 strict: bool = False, source: str = "", fallback: bool = False):
        self.kind, self.width, self.height = kind, width, height
        self.boxes, self.strict, self.source, self.fallback = boxes, strict, source, fallback
        self.count = None if boxes is None else len(boxes)
        if kind == "center":
            self._fixed = crop_lib.center_square(width, height)
        elif kind == "full":
            self._fixed = crop_lib.full_frame_box(width, height)
        else:
            self._fixed = None

    def box(self, i: int) -> np.ndarray:
        if self._fixed is not None:
            return self._fixed
        return self.boxes[min(i, len(self.boxes) - 1)]

    def check_count(self, num_frames: int, exact: bool = True) -> None:
        """Raises :class:`InputError` when a strict file does not match the video.
        ``exact=False``: only check that the file does not describe fewer frames
        than ``num_frames`` (used with the container's claimed count)."""
        if not self.strict or self.count is None:
            return
        bad = self.count != num_frames if exact else self.count < num_frames
        if bad:
            raise InputError(f"{self.source}: boxes for {self.count} frames, but the video has "
                             f"{num_frames} frames; the file must have one entry per video frame")


def fixed(mode: str, width: int, height: int) -> FrameBoxes:
    if mode not in CROP_MODES:
        raise InputError(f"--crop {mode!r}: must be one of {', '.join(CROP_MODES)}")
    return FrameBoxes(mode, width, height)


def _as_boxes(entry, where: str) -> np.ndarray:
    """JSON entry -> float64 ``(K, 4)``."""
    if entry is None:
        return np.zeros((0, 4))
    try:
        arr = np.asarray(entry, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError(f"{where}: expected null, [x0, y0, x1, y1] or a list of such boxes") from None
    if arr.size == 0:
        return np.zeros((0, 4))
    arr = arr.reshape(-1, arr.shape[-1]) if arr.ndim >= 1 else arr
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{where}: expected null, [x0, y0, x1, y1] or a list of such boxes")
    return arr


def _check_values(arr: np.ndarray, where: str) -> None:
    if arr.size and (not np.isfinite(arr).all() or (arr[:, 2] < arr[:, 0]).any()
                     or (arr[:, 3] < arr[:, 1]).any()):
        raise InputError(f"{where}: boxes must be finite with x1 >= x0 and y1 >= y0")


def read_boxes_file(path: str | Path) -> list[np.ndarray]:
    """Per-frame detections from a JSON or CSV boxes file (see module doc):
    a list (one entry per frame) of float64 ``(K, 4)`` arrays."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--boxes {path}: file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--boxes {path}: cannot read it as text ({e})") from None
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped[:1] in "[{":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"--boxes {path}: invalid JSON (line {e.lineno}: {e.msg})") from None
        if isinstance(doc, dict):
            if "boxes" not in doc:
                raise InputError(f"--boxes {path}: JSON object without a 'boxes' list")
            doc = doc["boxes"]
        if not isinstance(doc, list):
            raise InputError(f"--boxes {path}: expected a list with one entry per frame")
        frames = [_as_boxes(e, f"--boxes {path}, frame {i}") for i, e in enumerate(doc)]
        for i, f in enumerate(frames):
            _check_values(f, f"--boxes {path}, frame {i}")
        return frames
    return _read_csv(path, text)


def _read_csv(path: Path, text: str) -> list[np.ndarray]:
    lines = text.splitlines()
    declared = None
    if lines and lines[0].startswith("#"):
        head = lines.pop(0).lstrip("#").strip()
        key, _, value = head.partition(":")
        if key.strip() != "frames" or not value.strip().isdigit():
            raise InputError(f"--boxes {path}, line 1: expected '# frames: N', got {head!r}")
        declared = int(value)
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    need = ("frame", "x0", "y0", "x1", "y1")
    if reader.fieldnames is None or any(c not in [f.strip() for f in reader.fieldnames] for c in need):
        raise InputError(f"--boxes {path}: CSV header must name the columns {','.join(need)} "
                         f"(got {reader.fieldnames})")
    rows: dict[int, list] = {}
    first_line = 2 if declared is not None else 1
    for n, row in enumerate(reader, start=first_line + 1):
        row = {k.strip(): v for k, v in row.items() if k is not None}
        try:
            f = int(row["frame"])
            box = [float(row[c]) for c in need[1:]]
        except (TypeError, ValueError):
            raise InputError(f"--boxes {path}, line {n}: frame must be an integer and "
                             "x0,y0,x1,y1 numbers") from None
        if f < 0:
            raise InputError(f"--boxes {path}, line {n}: frame {f} < 0")
        _check_values(np.array([box]), f"--boxes {path}, line {n}")
        rows.setdefault(f, []).append(box)
    count = declared if declared is not None else (max(rows) + 1 if rows else 0)
    if rows and max(rows) >= count:
        raise InputError(f"--boxes {path}: frame {max(rows)} is beyond the declared {count} frames")
    return [np.array(rows[i], np.float64) if i in rows else np.zeros((0, 4)) for i in range(count)]


def from_detections(frames: list[np.ndarray], width: int, height: int, source: str,
                    options: crop_lib.CropOptions = crop_lib.CropOptions()) -> FrameBoxes:
    """Person crop from per-frame detector boxes (corners become the points)."""
    points = [np.concatenate([f[:, [0, 1]], f[:, [2, 3]]]) if len(f) else np.zeros((0, 2))
              for f in frames]
    res = crop_lib.person_boxes(points, width, height, options)
    return FrameBoxes("boxes", width, height, res.boxes, strict=True, source=f"--boxes {source}",
                      fallback=res.fallback)


def from_skeleton(path: str | Path, width: int, height: int,
                  options: crop_lib.CropOptions = crop_lib.CropOptions()) -> FrameBoxes:
    """The training data's person crop from an NTU ``.skeleton`` file."""
    from .ghost_bodies import filter_ghost_bodies
    from .skeleton import SkeletonFormatError, read_skeleton
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--skeleton {path}: file not found")
    try:
        seq = read_skeleton(path)
    except SkeletonFormatError as e:
        raise InputError(f"--skeleton {e}") from None
    if seq.num_frames == 0:
        raise InputError(f"--skeleton {path}: the file has no frames")
    seq, _ = filter_ghost_bodies(seq)          # the same bodies the training crop kept
    res = crop_lib.person_boxes(seq.color_points(), width, height, options)
    return FrameBoxes("skeleton", width, height, res.boxes, strict=False, source=f"--skeleton {path}",
                      fallback=res.fallback)
