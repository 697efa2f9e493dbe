"""Probabilities, JSON Lines rows and per-video summaries.

Rows (one JSON object per line):

* window row: ``{"video", "window", "start_s", "end_s", "frames": [source
  frame indices], "top": [{"label", "index", "prob"}, ...]}`` -- ``top`` has
  ``topk`` entries sorted by probability (softmax over all classes); a
  single window over a video shorter than one window adds ``"short": true``
  and a ``"note"`` saying how many of its frames are repeats. Live rows add
  ``"latency_ms"`` (capture of the window's last frame -> its label).
* summary row (after a video's windows): ``{"video", "summary": true,
  "windows", "label", "index", "mean_prob", "frames_read", ...}`` -- the label
  with the highest probability averaged over all windows, and that mean.

The file is written to ``<out>.tmp`` as rows arrive and renamed to ``<out>``
when closed, so a finished file is always complete.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float64 for stable small probabilities."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def top_entries(probs: np.ndarray, labels: list[str], k: int) -> list[dict]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": labels[i], "index": int(i), "prob": round(float(probs[i]), 6)} for i in order]


def window_row(video: str, window, probs: np.ndarray, labels: list[str], k: int,
               num_frames: int) -> dict:
    row = {"video": video, "window": int(window.index), "start_s": round(window.start_s, 4),
           "end_s": round(window.end_s, 4), "frames": [int(f) for f in window.frames],
           "top": top_entries(probs, labels, k)}
    if getattr(window, "short", False):
        repeats = num_frames - len(set(row["frames"]))
        row["short"] = True
        row["note"] = (f"video ({window.stop} frames, {window.end_s:.2f} s) is shorter than one window: "
                       f"one window over the whole video; {repeats} of {num_frames} sampled frames "
                       "are repeats, as in training")
    return row


def summary_row(video: str, probs: list[np.ndarray], labels: list[str], **extra) -> dict:
    row = {"video": video, "summary": True, "windows": len(probs)}
    if probs:
        mean = np.mean(np.stack(probs), axis=0)
        i = int(np.argmax(mean))
        row.update(label=labels[i], index=i, mean_prob=round(float(mean[i]), 6))
    else:
        row.update(label=None, index=None, mean_prob=None)
    row.update(extra)
    return row


class JsonlWriter:
    """Appends rows to ``<path>.tmp``; :meth:`close` renames it to ``path``.
    Without a path, rows are printed to stdout as they come."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self.rows: list[dict] = []
        self._f = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = self.path.with_name(self.path.name + ".tmp")
            self._f = open(self._tmp, "w")

    def write(self, row: dict) -> None:
        self.rows.append(row)
        if self._f is not None:
            self._f.write(json.dumps(row) + "\n")
            self._f.flush()
        else:
            print(json.dumps(row), flush=True)

    def close(self) -> None:
        if self._f is not None and not self._f.closed:
            self._f.close()
            os.replace(self._tmp, self.path)
