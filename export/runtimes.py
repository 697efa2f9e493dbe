"""Runtime adapters with one interface, for the parity report and the profiler.

A runner is a callable ``runner(x) -> logits`` on numpy float32 clips laid out
as its ``input_shape`` says (``(N, T, 3, H, W)`` for every RGB deploy artifact;
a dict ``{name: array}`` for a graph with several inputs, ``input_shapes``),
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
from typing import Mapping

import numpy as np


def ort_session(path: str | os.PathLike, threads: int | None = None,
                providers: list[str] | None = None):
    """The one ONNX Runtime session setup of the exporter: ``threads`` intra-op
    threads (one inter-op), quiet log, CPU unless ``providers`` says otherwise.
    ``FileNotFoundError`` names a missing file."""
    import onnxruntime as ort
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])


class OrtRunner:
    """ONNX Runtime on CPU (or the given providers), one or several named inputs.

    ``runner(x)``: ``x`` an array for a one-input graph, or a dict
    ``{name: array}`` with every input of the graph (e.g. the CD-KD student's
    ``iframe`` / ``mv`` / ``residual``). ``input_names`` / ``input_shapes``
    list them all; ``input_name`` / ``input_shape`` are the first one's.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None,
                 providers: list[str] | None = None, name: str | None = None):
        path = Path(path)
        self.session = ort_session(path, threads, providers)
        inputs = self.session.get_inputs()
        self.input_names = [i.name for i in inputs]
        self.input_shapes = {i.name: tuple(d if isinstance(d, int) else None for d in i.shape)
                             for i in inputs}
        self.input_name = self.input_names[0]
        self.input_shape = self.input_shapes[self.input_name]
        self.path = path
        self.name = name or f"ort:{path.name}"

    def __call__(self, x) -> np.ndarray:
        if isinstance(x, Mapping):
            missing = sorted(set(self.input_names) - set(x))
            if missing:
                raise ValueError(f"inputs lack {missing}; the graph takes {self.input_names}")
            feed = {n: np.ascontiguousarray(x[n], np.float32) for n in self.input_names}
        elif len(self.input_names) == 1:
            feed = {self.input_name: np.ascontiguousarray(x, np.float32)}
        else:
            raise ValueError(f"{self.path.name} takes {len(self.input_names)} inputs "
                             f"{self.input_names}: pass a dict of arrays")
        return self.session.run(None, feed)[0]


def batch_size(x) -> int:
    """Clips in ``x``: an array ``(N, ...)`` or a dict of such arrays (same N)."""
    return len(next(iter(x.values()))) if isinstance(x, Mapping) else len(x)


def take(x, sl):
    """``x[sl]`` along the batch axis, for an array or each array of a dict."""
    return {k: v[sl] for k, v in x.items()} if isinstance(x, Mapping) else x[sl]


def concat(parts: list):
    """Batch concatenation of arrays or of dicts of arrays."""
    if isinstance(parts[0], Mapping):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def static_batch(runner) -> int | None:
    b = runner.input_shape[0] if runner.input_shape else None
    return b if isinstance(b, int) else None


def run_batched(runner, x: np.ndarray, batch: int | None = None) -> np.ndarray:
    """Runs ``x`` (``(N, ...)``, or a dict of such arrays for a multi-input graph) through ``runner`` in chunks of its static batch
    (or ``batch`` when dynamic); pads the last chunk when the batch is static."""
    total = batch_size(x)
    b = static_batch(runner) or batch or total
    outs = []
    for i in range(0, total, b):
        chunk = take(x, slice(i, i + b))
        n = batch_size(chunk)
        if static_batch(runner) and n < b:
            chunk = concat([chunk] + [take(chunk, slice(n - 1, n))] * (b - n))
        outs.append(np.asarray(runner(chunk))[:n])
    return np.concatenate(outs)
