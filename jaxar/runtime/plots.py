"""Timeline image and annotated video, drawn with OpenCV only.

* :func:`timeline_png`: probabilities of the top classes (highest mean over
  the video) against window centre time, one coloured line per class, with a
  legend; PNG written atomically.
* :func:`render_video`: the source video re-encoded (``mp4v`` for ``.mp4``,
  ``MJPG`` for ``.avi``) with the label and probability of the window in
  effect drawn on each frame (the latest window that has ended by then; the
  first window before that).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127)]   # RGB


def _atomic_imwrite(path: Path, img_bgr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    if not cv2.imwrite(str(tmp), img_bgr):
        raise InputError(f"{path}: cannot write the image")
    os.replace(tmp, path)


def timeline_png(path: str | os.PathLike, times: np.ndarray, probs: np.ndarray, labels: list[str],
                 title: str, top: int = 5, width: int = 960, height: int = 420) -> None:
    """``times`` float ``(W,)`` seconds, ``probs`` ``(W, C)``; draws the ``top`` classes."""
    path = Path(path)
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top_m, bottom = 60, 220, 40, 45
    pw, ph = width - left - right, height - top_m - bottom
    cv2.rectangle(img, (left, top_m), (left + pw, top_m + ph), (0, 0, 0), 1)
    t0, t1 = float(times.min()), float(times.max())
    span = max(t1 - t0, 1e-6)
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = int(top_m + ph * (1 - v))
        cv2.line(img, (left, y), (left + pw, y), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.2f}", (8, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for v in np.linspace(t0, t1, 5):
        x = int(left + pw * (v - t0) / span)
        cv2.putText(img, f"{v:.1f}s", (x - 15, top_m + ph + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title[:90], (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    cv2.putText(img, "window centre time; y: probability", (left + pw // 2 - 120, height - 8),
                cv2.FONT_HERSHEY_SIMPLEX, 0.42, (80, 80, 80), 1)
    order = np.argsort(-probs.mean(axis=0))[:top]
    for n, c in enumerate(order):
        r, g, b = _COLOURS[n % len(_COLOURS)]
        pts = np.stack([left + pw * (times - t0) / span, top_m + ph * (1 - probs[:, c])], 1)
        pts = np.round(pts).astype(np.int32)
        if len(pts) == 1:
            cv2.circle(img, tuple(int(v) for v in pts[0]), 4, (b, g, r), -1)
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, (b, g, r), 2, cv2.LINE_AA)
        y = top_m + 15 + 20 * n
        cv2.line(img, (left + pw + 12, y - 4), (left + pw + 32, y - 4), (b, g, r), 3)
        cv2.putText(img, f"{labels[c][:18]} {probs[:, c].mean():.2f}", (left + pw + 38, y),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1)
    _atomic_imwrite(path, img)


def render_video(src: str, path: str | os.PathLike, ends_s: np.ndarray, labels_probs: list[tuple[str, float]],
                 fps: float) -> int:
    """Writes ``src`` with the current label drawn on it; returns frames written."""
    path = Path(path)
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise InputError(f"{src}: cannot reopen the video to render it")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    codec = "MJPG" if path.suffix.lower() == ".avi" else "mp4v"
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    if not out.isOpened():
        cap.release()
        raise InputError(f"{path}: OpenCV cannot write a {codec} video here")
    scale = max(0.4, h / 720)
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            t = (i + 1) / fps
            j = max(int(np.searchsorted(ends_s, t + 1e-9, side="right")) - 1, 0)
            label, prob = labels_probs[j]
            text = f"{label} {prob:.2f}"
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
            cv2.rectangle(frame, (5, 5), (15 + tw, 15 + th + 6), (0, 0, 0), -1)
            cv2.putText(frame, text, (10, 10 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)
            out.write(frame)
            i += 1
    finally:
        cap.release()
        out.release()
    os.replace(tmp, path)
    return i
