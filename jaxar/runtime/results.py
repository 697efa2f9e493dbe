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

* error row (a video of a batch that could not be processed):
  ``{"video", "error": "<one-line message>"}``; the batch goes on.

The file is written to a hidden temporary file next to ``<out>``
(``.<name>.<random>.tmp``) as rows arrive and renamed to ``<out>`` when the
run finishes, so a file named ``<out>`` is always complete. A run that stops
early (an error, Ctrl-C on files) leaves ``<out>`` as it was and writes what
it had to ``<out>.partial``, ending with a row ``{"incomplete": true,
"reason": ..., "rows": N}``.
"""
from __future__ import annotations

import json
import os
import tempfile
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
    """Rows to a temporary file next to ``path``: :meth:`finish` renames it to
    ``path``, :meth:`abort` to ``<path>.partial`` with a closing
    ``"incomplete"`` row (see the module doc). Without a path, rows are
    printed to stdout as they come."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self.rows: list[dict] = []
        self._f = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                             dir=self.path.parent)
            self._f = os.fdopen(fd, "w", encoding="utf-8")

    @property
    def partial_path(self) -> Path | None:
        return self.path.with_name(self.path.name + ".partial") if self.path is not None else None

    def write(self, row: dict) -> None:
        line = json.dumps(row)
        if self._f is not None:
            self._f.write(line + "\n")
            self._f.flush()
        else:
            print(line, flush=True)
        self.rows.append(row)

    def _publish(self, target: Path) -> None:
        self._f.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)
        os.replace(self._tmp, target)

    def finish(self) -> None:
        """The run is complete: the rows become ``path``."""
        if self._f is not None and not self._f.closed:
            self._publish(self.path)

    def abort(self, reason: str) -> Path | None:
        """The run stopped early: rows so far + an ``incomplete`` row go to
        ``<path>.partial`` (nothing when no row was written); ``path`` is
        left untouched. Returns the partial file's path or ``None``."""
        if self._f is None or self._f.closed:
            return None
        # count the rows in the file itself: an interrupt (SIGINT/SIGTERM raise
        # KeyboardInterrupt between any two bytecodes) can fall between a row's
        # write and its bookkeeping, so len(self.rows) may be one short or long
        self._f.flush()
        with open(self._tmp, "rb") as f:
            n = sum(1 for _ in f)
        if n == 0:
            self._f.close()
            Path(self._tmp).unlink(missing_ok=True)
            return None
        self.write({"incomplete": True, "reason": reason, "rows": n})
        self._publish(self.partial_path)
        return self.partial_path

    def close(self) -> None:
        """Same as :meth:`finish` (kept for callers that only close)."""
        self.finish()
