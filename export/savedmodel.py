"""TF SavedModel via jax2tf (for TF Serving / TF users), and running it back.

Current jax2tf only has native serialization: the SavedModel holds one
``XlaCallModule`` op wrapping the StableHLO of ``fn``. TF runs it (the "TF"
leg of the parity report); tf2onnx cannot convert it directly, which is why
:mod:`export.onnx_tflite` goes through TFLite.

Signature ``serving_default``: input ``clip`` float32 with the given shape
(``None`` batch when dynamic), output ``logits`` float32 ``(N, classes)``.
TensorFlow is imported here only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    return tf


def write_savedmodel(fn: Callable, input_shape: Sequence[int | None], out_dir: str | os.PathLike) -> Path:
    """Converts ``fn`` with jax2tf and saves it; returns ``out_dir``."""
    tf = _tf()
    from jax.experimental import jax2tf
    dims = ["b" if d is None else str(d) for d in input_shape]
    poly = None if input_shape[0] is not None else ["(" + ", ".join(dims) + ")"]
    converted = jax2tf.convert(fn, polymorphic_shapes=poly, with_gradient=False)
    module = tf.Module()
    spec = tf.TensorSpec(list(input_shape), tf.float32, name="clip")
    module.serve = tf.function(lambda clip: {"logits": converted(clip)}, autograph=False,
                               input_signature=[spec])
    out_dir = Path(out_dir)
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})
    return out_dir


class SavedModelRunner:
    """Runs a SavedModel's ``serving_default`` on numpy clips."""
    name = "tf-savedmodel"

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not (path / "saved_model.pb").is_file():
            raise FileNotFoundError(f"not a SavedModel directory (no saved_model.pb): {path}")
        tf = _tf()
        self._tf = tf
        self.path = path
        self._fn = tf.saved_model.load(str(path)).signatures["serving_default"]
        self.input_shape = tuple(self._fn.structured_input_signature[1]["clip"].shape.as_list())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._fn(clip=self._tf.constant(np.asarray(x, np.float32)))["logits"].numpy()
