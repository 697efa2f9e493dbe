"""Copies the device runtime into an export bundle and writes its metadata.

``write_runtime(out_dir, source)`` puts a copy of :mod:`jaxar.runtime` at
``<out_dir>/runtime/`` (entry point ``runtime/run.py``; numpy + OpenCV +
ONNX Runtime or TensorRT only) and writes ``<out_dir>/metadata.json``::

    {"window_seconds": training clip duration or null,
     "window_source": how it was obtained,
     "frames": T, "size": S, "num_classes": C, "origin": ..., "step": ...,
     "crop": "center", "runtime": "runtime/run.py"}

The window comes from the checkpoint's meta (``clip_seconds``, recorded by
the training loop from the data source); a random-init ``--variant`` export
has none, and the runtime then asks for ``--window``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

RUNTIME_DIR = Path(__file__).resolve().parents[1] / "jaxar" / "runtime"


def _clip_seconds(source) -> tuple[float | None, str]:
    origin = getattr(source, "origin", "") or ""
    if not origin.startswith("checkpoint:"):
        return None, f"not recorded ({origin.split(' ')[0] or 'unknown origin'} has no training data)"
    from jaxar.checkpoint import read_meta, resolve_checkpoint
    from jaxar.predict import clip_seconds_from_meta
    return clip_seconds_from_meta(read_meta(resolve_checkpoint(origin[len("checkpoint:"):])))


def write_runtime(out_dir: str | os.PathLike, source) -> dict:
    """Copies ``jaxar/runtime`` to ``out_dir/runtime`` and writes ``metadata.json``;
    returns the metadata."""
    out = Path(out_dir)
    target = out / "runtime"
    tmp = out / ".runtime.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(RUNTIME_DIR, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    seconds, how = _clip_seconds(source)
    cfg = source.config
    meta = {"window_seconds": seconds, "window_source": how, "frames": cfg.frames, "size": cfg.size,
            "num_classes": cfg.num_classes, "origin": source.origin, "step": source.step,
            "crop": "center", "runtime": "runtime/run.py"}
    tmp_meta = out / ".metadata.json.tmp"
    tmp_meta.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp_meta, out / "metadata.json")
    return meta
