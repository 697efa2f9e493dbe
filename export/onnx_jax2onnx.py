"""ONNX via jax2onnx (direct JAX -> ONNX, no TensorFlow).

``export_jax2onnx(fn, input_shape, path)`` traces ``fn`` (weights closed
over become initializers) at opset 18 and passes the result through
:func:`export.onnx_check.finalize`. A ``None`` or string first dimension in
``input_shape`` makes the batch dynamic (named ``batch``).

The graph has one input ``clip`` and one output ``logits``.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Sequence

import onnx

from export.onnx_check import OPSET, finalize


def export_jax2onnx(fn: Callable, input_shape: Sequence[int | str | None], path: str | os.PathLike,
                    simplify: bool = True, opset: int = OPSET) -> onnx.ModelProto:
    import jax2onnx
    logging.getLogger("onnx_ir").setLevel(logging.ERROR)    # noisy "value type not known" lines
    shape = tuple("batch" if d is None else d for d in input_shape)
    model = jax2onnx.to_onnx(fn, [shape], opset=opset, model_name="x3d_ugt",
                             input_names=["clip"], output_names=["logits"])
    return finalize(model, path, do_simplify=simplify, opset=opset)
