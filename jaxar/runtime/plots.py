"""Timeline image and annotated video, drawn with OpenCV only.

* :func:`timeline_png`: probabilities against window centre time, one
  coloured line per class, with a legend: every class that wins a window,
  then the highest means up to ``top`` lines; a strip under the title shows
  the winning class of each window. A long video (more windows than
  ``max_points``) is aggregated into equal time bins (mean probability per
  bin; the strip shows the class winning most windows of the bin) and the
  title says so. Written atomically (any type ``cv2.imwrite`` knows from the
  extension: .png, .jpg, .bmp, .webp).
* :func:`render_video`: the source video re-encoded (``mp4v`` for ``.mp4``,
  ``.m4v``, ``.mov``, ``.mkv``; ``MJPG`` for ``.avi``) with the label and
  probability of the window in effect drawn on each frame (the latest window
  that has ended by then; the first window before that), frames read and
  placed in time like the windows (:class:`.frames.FrameSource`) and written
  on the constant-rate grid (output frame ``k`` = the frame on screen at
  ``k / fps``: a variable-rate video keeps its duration, a bad frame's slot
  shows the frame before); the temporary file is removed on every exit path.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .frames import FrameSource
from .outputs import RENDER_CODECS

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127)]   # RGB


def _atomic_imwrite(path: Path, img_bgr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    if not cv2.imwrite(str(tmp), img_bgr):
        raise InputError(f"{path}: cannot write the image")
    os.replace(tmp, path)


def timeline_series(times: np.ndarray, probs: np.ndarray, top: int = 5, max_points: int = 400):
    """What :func:`timeline_png` draws: ``(times (P,), probs (P, C), winners
    (P,) int, classes (K,) int, bin_s or None)``. ``classes``: every class
    that wins a window (by how many it wins), then the highest means until
    there are ``top``; with more than ``max_points`` windows, equal time bins
    of the mean probability (``bin_s`` their width) and the most frequent
    winner per bin."""
    times, probs = np.asarray(times, np.float64), np.asarray(probs, np.float64)
    win = np.argmax(probs, axis=1)
    wins = np.bincount(win, minlength=probs.shape[1])
    classes = [int(c) for c in np.argsort(-wins, kind="stable") if wins[c] > 0]
    for c in np.argsort(-probs.mean(axis=0), kind="stable"):
        if len(classes) >= max(top, len(set(classes))):
            break
        if int(c) not in classes:
            classes.append(int(c))
    bin_s = None
    if len(times) > max_points:
        edges = np.linspace(times.min(), times.max(), max_points + 1)
        which = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, max_points - 1)
        keep = np.unique(which)
        probs = np.stack([probs[which == b].mean(axis=0) for b in keep])
        win = np.array([np.bincount(win[which == b]).argmax() for b in keep])
        times = (edges[keep] + edges[keep + 1]) / 2
        bin_s = float(edges[1] - edges[0])
    return times, probs, win, np.array(classes, np.int64), bin_s


def timeline_png(path: str | os.PathLike, times: np.ndarray, probs: np.ndarray, labels: list[str],
                 title: str, top: int = 5, width: int = 960, height: int = 420,
                 max_points: int = 400) -> None:
    """``times`` float ``(W,)`` seconds, ``probs`` ``(W, C)``; draws the classes
    :func:`timeline_series` picks (every window winner, then the highest means)."""
    path = Path(path)
    times, probs, win, order, bin_s = timeline_series(times, probs, top, max_points)
    if bin_s is not None:
        title = f"{title} (mean over {bin_s:.1f} s bins)"
    rows = max(len(order), 1)
    height = max(height, 60 + 20 * rows)
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
    colour = {int(c): _COLOURS[n % len(_COLOURS)] for n, c in enumerate(order)}
    xs = np.round(left + pw * (times - t0) / span).astype(int)
    for n, (x, c) in enumerate(zip(xs, win)):       # winner strip above the plot
        x1 = xs[n + 1] if n + 1 < len(xs) else left + pw
        r, g, b = colour.get(int(c), (0, 0, 0))
        cv2.rectangle(img, (int(x), top_m - 8), (max(int(x1), int(x) + 1), top_m - 2), (b, g, r), -1)
    for n, c in enumerate(order):
        r, g, b = colour[int(c)]
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
                 fps: float, use_timestamps: bool = True) -> int:
    """Writes ``src`` with the current label drawn on it; returns frames written.
    Frames are placed in time as the windows were (``fps``, ``use_timestamps``)."""
    path = Path(path)
    codec = RENDER_CODECS.get(path.suffix.lower())
    if codec is None:
        raise InputError(f"--render {path}: unsupported video type {path.suffix or '(no extension)'}")
    cap = cv2.VideoCapture(str(src))
    if not cap.isOpened():
        raise InputError(f"{src}: cannot reopen the video to render it")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    header = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
    if not out.isOpened():
        cap.release()
        out.release()
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: OpenCV cannot write a {codec} video here")
    scale = max(0.4, h / 720)
    i = 0
    done = False

    def emit(frame):
        nonlocal i
        t = (i + 1) / fps
        j = max(int(np.searchsorted(ends_s, t + 1e-9, side="right")) - 1, 0)
        label, prob = labels_probs[j]
        text = f"{label} {prob:.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        frame = frame.copy()
        cv2.rectangle(frame, (5, 5), (15 + tw, 15 + th + 6), (0, 0, 0), -1)
        cv2.putText(frame, text, (10, 10 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)
        out.write(frame)
        i += 1

    try:      # written on the constant-rate grid: output frame k = the frame on screen at k / fps
        src = FrameSource(cap, fps, header, use_timestamps)
        held = None
        for _, pos, frame in src:
            while i + 1e-9 < pos:
                emit(held if held is not None else frame)
            held = frame
        while held is not None and i + 1e-9 < src.end_position:
            emit(held)
        done = True
    finally:
        cap.release()
        out.release()
        if not done:
            tmp.unlink(missing_ok=True)
    os.replace(tmp, path)
    return i
