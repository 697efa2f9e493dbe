"""ONNX export of a deploy form with several named inputs (e.g. the CD-KD
student's ``iframe`` / ``mv`` / ``residual`` clips), via jax2onnx.

``export_jax2onnx_inputs(fn, input_shapes, path)``: ``fn`` takes a dict of
arrays keyed like ``input_shapes`` (``{name: shape}``, channels-first clips;
a ``None`` first dimension makes the batch dynamic, named ``batch``) and
returns logits. The graph has one input per key, in ``input_shapes``' order,
and one output ``logits``; it goes through :func:`export.onnx_check.finalize`
like every export. :class:`export.runtimes.OrtRunner` runs such a file in
ONNX Runtime on a dict of numpy arrays.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Mapping, Sequence

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
