"""Copies the device runtime into an export bundle and writes its metadata.

``write_runtime(out_dir, source)`` puts a copy of :mod:`jaxar.runtime` at
``<out_dir>/runtime/`` (entry point ``runtime/run.py``; numpy + OpenCV +
ONNX Runtime or TensorRT only) and writes ``<out_dir>/metadata.json``::

    {"window_seconds": training clip duration or null,
     "window_source": how it was obtained,
     "frames": T, "size": S, "num_classes": C, "origin": ..., "step": ...,
     "crop": "center", "runtime": "runtime/run.py",
     "sampling": {"segments": N, "segment_frames": L}}   # the model's clip_sampling (as preprocessing.json)

The window comes from the model record (:meth:`jaxar.model_record.ModelRecord.clip_seconds`:
the checkpoint meta's ``clip_seconds``, recorded by the training loop from the
data source); a random-init ``--variant`` export has none, and the runtime then
asks for ``--window``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from jaxar.model_record import ModelRecord
from jaxar.runtime.files import atomic_write_json

RUNTIME_DIR = Path(__file__).resolve().parents[1] / "jaxar" / "runtime"


def write_runtime(out_dir: str | os.PathLike, record: ModelRecord) -> dict:
    """Copies ``jaxar/runtime`` to ``out_dir/runtime`` and writes ``metadata.json``
    for the model ``record``; returns the metadata."""
    out = Path(out_dir)
    target = out / "runtime"
    tmp = out / ".runtime.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(RUNTIME_DIR, tmp, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    seconds, how = record.clip_seconds()
    cfg = record.config
    meta = {"window_seconds": seconds, "window_source": how, "frames": cfg.frames, "size": cfg.size,
            "num_classes": cfg.num_classes, "origin": record.origin, "step": record.step,
            "crop": "center", "runtime": "runtime/run.py", "sampling": cfg.clip_sampling.to_json()}
    atomic_write_json(out / "metadata.json", meta)
    return meta
