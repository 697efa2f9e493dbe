"""ONNX export of a deploy form with several named inputs (e.g. the CD-KD
student's ``iframe`` / ``mv`` / ``residual`` clips), via jax2onnx.

``export_jax2onnx_inputs(fn, input_shapes, path)``: ``fn`` takes a dict of
arrays keyed like ``input_shapes`` (``{name: shape}``, channels-first clips;
a ``None`` first dimension makes the batch dynamic, named ``batch``) and
returns logits. The graph has one input per key, in ``input_shapes``' order,
and one output ``logits``; it goes through :func:`export.onnx_check.finalize`
like every export. :class:`MultiInputOrtRunner` runs such a file in ONNX
Runtime on a dict of numpy arrays.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import onnx

from export.onnx_check import OPSET, finalize


def export_jax2onnx_inputs(fn: Callable[[dict], object], input_shapes: Mapping[str, Sequence[int | None]],
                           path: str | os.PathLike, simplify: bool = True,
                           opset: int = OPSET) -> onnx.ModelProto:
    import jax2onnx
    if not input_shapes:
        raise ValueError("input_shapes is empty: name at least one input")
    logging.getLogger("onnx_ir").setLevel(logging.ERROR)
    names = list(input_shapes)
    shapes = [tuple("batch" if d is None else d for d in input_shapes[n]) for n in names]

    def positional(*arrays):
        return fn(dict(zip(names, arrays)))

    model = jax2onnx.to_onnx(positional, shapes, opset=opset, model_name="jaxar_multi_input",
                             input_names=names, output_names=["logits"])
    return finalize(model, path, do_simplify=simplify, opset=opset)


class MultiInputOrtRunner:
    """ONNX Runtime on CPU for a graph with named inputs: ``runner({name: array}) -> logits``."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        import onnxruntime as ort
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = sorted(set(self.input_names) - set(inputs))
        if missing:
            raise ValueError(f"inputs lack {missing}; the graph takes {self.input_names}")
        feed = {n: np.ascontiguousarray(inputs[n], np.float32) for n in self.input_names}
        return self.session.run(None, feed)[0]
