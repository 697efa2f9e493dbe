"""ONNX via jax2tf SavedModel -> TFLite -> tf2onnx (+ Conv-group post-pass).

tf2onnx cannot read the ``XlaCallModule`` op of a current jax2tf SavedModel,
but TFLite's converter lowers its StableHLO to TFLite builtins, which tf2onnx
reads. Steps:

1. ``tf.lite.TFLiteConverter.from_saved_model`` with TFLITE_BUILTINS and
   SELECT_TF_OPS (ops with no builtin -- e.g. a grouped Conv3D -- become Flex ops);
2. ``tf2onnx.convert.from_tflite`` at opset 18;
3. :func:`export.group_fix.fix_conv_groups` (tf2onnx emits Flex grouped convs
   with ``group=1``), then :func:`export.onnx_check.finalize`.

The deploy form needs no Flex op; the post-pass then finds nothing to do.
The input/output are renamed ``clip`` / ``logits`` like the other route.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import onnx

from export.group_fix import fix_conv_groups
from export.onnx_check import OPSET, finalize


def savedmodel_to_tflite(saved_model: str | os.PathLike, tflite_path: str | os.PathLike) -> Path:
    from export.savedmodel import _tf
    tf = _tf()
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    tflite_path = Path(tflite_path)
    tflite_path.write_bytes(conv.convert())
    return tflite_path


def _rename_io(model: onnx.ModelProto) -> onnx.ModelProto:
    g = model.graph
    renames = {g.input[0].name: "clip", g.output[0].name: "logits"}
    for n in g.node:
        n.input[:] = [renames.get(i, i) for i in n.input]
        n.output[:] = [renames.get(o, o) for o in n.output]
    g.input[0].name, g.output[0].name = "clip", "logits"
    return model


def export_via_tflite(saved_model: str | os.PathLike, path: str | os.PathLike,
                      simplify: bool = True, opset: int = OPSET,
                      keep_tflite: str | os.PathLike | None = None) -> tuple[onnx.ModelProto, list[str]]:
    """SavedModel -> ONNX at ``path``; returns ``(model, post-pass log)``."""
    import tf2onnx
    with tempfile.TemporaryDirectory() as tmp:
        tfl = savedmodel_to_tflite(saved_model, keep_tflite or Path(tmp) / "model.tflite")
        model, _ = tf2onnx.convert.from_tflite(str(tfl), opset=opset)
    model = _rename_io(model)
    model, log = fix_conv_groups(model)
    return finalize(model, path, do_simplify=simplify, opset=opset), log
