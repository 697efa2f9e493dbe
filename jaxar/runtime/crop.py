"""Crop boxes (centre square, full frame, person-centric from 2-D points) and cropping.

The one implementation used by dataset preparation, evaluation, ``jaxar.predict``
and the standalone runtime (numpy + OpenCV only).

Boxes are float ``(x0, y0, x1, y1)`` in source-frame pixel coordinates
(x to the right, y down; a pixel ``i`` covers ``[i, i+1)``), one per frame:
``(T, 4)`` float32.

Algorithm of :func:`person_boxes` (``CropOptions`` holds every knob):

1. Per frame, the tight box around all finite points (all joints of all
   tracked bodies); frames without points are *missing*.
2. If no frame has points, the sample falls back to the **full-frame centre
   square** (side ``min(W, H)``, centred) for every frame; the result says so
   (``fallback=True``) so callers can count it.
3. Missing frames take the box centre/size interpolated linearly in time
   from the neighbouring frames (held constant before the first / after the
   last frame with points).
4. ``box_mode="per_frame"``: the box centre and side are smoothed in time
   with a Gaussian of ``smooth_sigma`` frames (0 disables), then the side is
   raised where needed so that every frame's box still contains that frame's
   tight box. ``box_mode="per_clip"``: one box around the union of all tight
   boxes, identical in every frame.
5. Square side = ``(1 + 2 * padding) * max(width, height)`` of the (smoothed)
   tight box, at least ``min_side`` pixels.
6. ``out_of_frame="shift"`` moves a box that sticks out of the frame back
   inside (if the side exceeds ``min(W, H)`` it is shrunk to that first),
   keeping it square; ``out_of_frame="zero_pad"`` keeps it and the pixels
   outside the frame are black in :func:`crop_and_resize`.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import cv2
import numpy as np

BOX_MODES = ("per_frame", "per_clip")
OUT_OF_FRAME = ("shift", "zero_pad")


@dataclasses.dataclass(frozen=True)
class CropOptions:
    """Knobs of the person-centric crop (see module docstring)."""
    padding: float = 0.1          # fraction of the box's longer side added on each side
    smooth_sigma: float = 3.0     # Gaussian sigma in frames for per-frame boxes (0: none)
    box_mode: str = "per_frame"   # "per_frame" | "per_clip"
    out_of_frame: str = "shift"   # "shift" | "zero_pad"
    min_side: float = 32.0        # smallest square side in source pixels

    def __post_init__(self):
        if self.box_mode not in BOX_MODES:
            raise ValueError(f"box_mode={self.box_mode!r}: must be one of {BOX_MODES}")
        if self.out_of_frame not in OUT_OF_FRAME:
            raise ValueError(f"out_of_frame={self.out_of_frame!r}: must be one of {OUT_OF_FRAME}")
        if not self.padding >= 0:
            raise ValueError(f"padding={self.padding!r}: must be >= 0")
        if not self.smooth_sigma >= 0:
            raise ValueError(f"smooth_sigma={self.smooth_sigma!r}: must be >= 0")


@dataclasses.dataclass
class BoxResult:
    """Output of :func:`person_boxes`.

    Attributes:
      boxes: float32 ``(T, 4)`` square crop boxes ``(x0, y0, x1, y1)``.
      tight: float32 ``(T, 4)`` tight per-frame boxes around the points, NaN
        in frames without points (what the skeleton saw, before smoothing).
      fallback: True when no frame had points and ``boxes`` is the
        full-frame centre square.
    """
    boxes: np.ndarray
    tight: np.ndarray
    fallback: bool


def center_square(width: int, height: int) -> np.ndarray:
    """Centred square of side ``min(W, H)`` on whole pixels (offsets rounded
    down): the evaluation crop, ``--crop center`` and the person-crop fallback."""
    side = min(width, height)
    x0, y0 = (width - side) // 2, (height - side) // 2
    return np.array([x0, y0, x0 + side, y0 + side], dtype=np.float32)


def full_frame_box(width: int, height: int) -> np.ndarray:
    """The whole frame ``(0, 0, W, H)`` (``--crop full``: resized without keeping the aspect)."""
    return np.array([0, 0, width, height], dtype=np.float32)


def tight_boxes(points: Sequence[np.ndarray]) -> np.ndarray:
    """Per frame tight box around the finite rows of ``points[t]`` (``(P, 2)``);
    float64 ``(T, 4)``, NaN rows for frames without finite points."""
    out = np.full((len(points), 4), np.nan)
    for t, p in enumerate(points):
        p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
        p = p[np.isfinite(p).all(axis=1)]
        if len(p):
            out[t] = (p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max())
    return out


def _gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Smooths ``(T, C)`` along T with edge-replicated padding."""
    if sigma <= 0 or len(x) < 2:
        return x
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    padded = np.pad(x, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, c], k, mode="valid") for c in range(x.shape[1])], 1)


def _fill_missing(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN rows of ``(T, C)`` (edges held)."""
    t = np.arange(len(values))
    ok = np.isfinite(values).all(axis=1)
    return np.stack([np.interp(t, t[ok], values[ok, c]) for c in range(values.shape[1])], 1)


def person_boxes(points: Sequence[np.ndarray], width: int, height: int,
                 options: CropOptions = CropOptions()) -> BoxResult:
    """Square person-centric crop boxes for a clip.

    Args:
      points: length-T sequence; ``points[t]`` float ``(P_t, 2)`` pixel (x, y)
        of everything to keep in frame t (e.g. colorX/colorY of all joints of
        all bodies), ``P_t`` may be 0.
      width, height: source frame size in pixels.
      options: :class:`CropOptions`.

    Returns:
      :class:`BoxResult` with ``boxes`` float32 ``(T, 4)``.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size {width}x{height}: must be positive")
    tight = tight_boxes(points)
    num = len(tight)
    if num == 0 or not np.isfinite(tight).all(axis=1).any():
        return BoxResult(np.tile(center_square(width, height), (num, 1)),
                         tight.astype(np.float32), True)
    ok = np.isfinite(tight).all(axis=1)
    if options.box_mode == "per_clip":
        x0, y0 = tight[ok, 0].min(), tight[ok, 1].min()
        x1, y1 = tight[ok, 2].max(), tight[ok, 3].max()
        cx, cy = np.full(num, (x0 + x1) / 2), np.full(num, (y0 + y1) / 2)
        side = np.full(num, max(x1 - x0, y1 - y0) * (1 + 2 * options.padding))
    else:
        centre = (tight[:, :2] + tight[:, 2:]) / 2
        extent = np.maximum(tight[:, 2] - tight[:, 0], tight[:, 3] - tight[:, 1])
        params = _fill_missing(np.column_stack([centre, extent]))
        params = _gaussian_smooth(params, options.smooth_sigma)
        cx, cy = params[:, 0], params[:, 1]
        side = params[:, 2] * (1 + 2 * options.padding)
        # Never cut a frame's own points: grow the side around the smoothed centre.
        need = np.zeros(num)
        need[ok] = 2 * np.abs(np.column_stack([
            tight[ok, 0] - cx[ok], tight[ok, 2] - cx[ok],
            tight[ok, 1] - cy[ok], tight[ok, 3] - cy[ok]])).max(axis=1)
        side = np.maximum(side, need)
    side = np.maximum(side, options.min_side)
    boxes = np.column_stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
    if options.out_of_frame == "shift":
        boxes = _shift_inside(boxes, width, height)
    return BoxResult(boxes.astype(np.float32), tight.astype(np.float32), False)


def _shift_inside(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Moves square boxes inside the frame (shrinking to min(W, H) if larger)."""
    side = np.minimum(boxes[:, 2] - boxes[:, 0], min(width, height))
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    x0 = np.clip(cx - side / 2, 0, width - side)
    y0 = np.clip(cy - side / 2, 0, height - side)
    return np.column_stack([x0, y0, x0 + side, y0 + side])


def crop_and_resize(frame: np.ndarray, box: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Crops ``box`` (float x0, y0, x1, y1; may extend beyond the frame, which is
    then zero-filled) from ``frame`` uint8 ``(H, W, 3)`` and resizes it to
    ``(out_h, out_w, 3)`` with area interpolation (linear when upsampling)."""
    h, w = frame.shape[:2]
    x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
    x1, y1 = max(int(np.ceil(box[2])), x0 + 1), max(int(np.ceil(box[3])), y0 + 1)
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        region = frame[y0:y1, x0:x1]
    else:
        region = np.zeros((y1 - y0, x1 - x0, frame.shape[2]), dtype=frame.dtype)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    shrink = region.shape[0] > out_h or region.shape[1] > out_w
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(region, (out_w, out_h), interpolation=interp)
