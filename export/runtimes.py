"""Runtime adapters with one interface, for the parity report and the profiler.

A runner is a callable ``runner(x) -> logits`` on numpy float32 clips laid out
as its ``input_shape`` says (``(N, T, 3, H, W)`` for every deploy artifact),
with attributes:

* ``name`` -- the label in reports (``jax``, ``tf-savedmodel``, ``ort:<file>``, ``tensorrt-fp16``...);
* ``input_shape`` -- the model input shape, ``None`` for a dynamic dimension;
* ``path`` -- the artifact (for file size), or None;
* optionally ``device_memory_bytes`` (TensorRT execution context).

Runners whose model has a static batch are fed one batch-sized chunk at a time
by :func:`run_batched`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class OrtRunner:
    """ONNX Runtime on CPU (or the given providers)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None,
                 providers: list[str] | None = None, name: str | None = None):
        import onnxruntime as ort
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.path = path
        self.name = name or f"ort:{path.name}"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: np.ascontiguousarray(x, np.float32)})[0]


def static_batch(runner) -> int | None:
    b = runner.input_shape[0] if runner.input_shape else None
    return b if isinstance(b, int) else None


def run_batched(runner, x: np.ndarray, batch: int | None = None) -> np.ndarray:
    """Runs ``x`` (``(N, ...)``) through ``runner`` in chunks of its static batch
    (or ``batch`` when dynamic); pads the last chunk when the batch is static."""
    b = static_batch(runner) or batch or len(x)
    outs = []
    for i in range(0, len(x), b):
        chunk = x[i:i + b]
        n = len(chunk)
        if static_batch(runner) and n < b:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], b - n, axis=0)])
        outs.append(np.asarray(runner(chunk))[:n])
    return np.concatenate(outs)
