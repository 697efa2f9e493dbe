"""ONNX hygiene: checker, shape inference, simplification, opset pinning.

``finalize(model, path)`` is what every exporter's output goes through:

1. ``onnx.checker.check_model(full_check=True)`` (includes strict shape inference);
2. ``onnx.shape_inference.infer_shapes`` so the file carries value_info;
3. simplification with onnxslim (constant folding, dead-node and shape-op
   elimination; onnxsim is not a dependency);
4. the checker again on the result, and the opset asserted unchanged.

Raises ``ValueError`` naming the file when a check fails.
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnx import shape_inference

OPSET = 18   # TensorRT 10.3 parses <= 20, tf2onnx's optimizer <= 18; ReduceMean needs >= 18 here


def opset_of(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def check(model: onnx.ModelProto, what: str) -> onnx.ModelProto:
    """Checker (full) + shape inference; returns the inferred model."""
    try:
        onnx.checker.check_model(model, full_check=True)
        return shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # onnx raises several exception types
        raise ValueError(f"{what}: ONNX checker/shape inference failed: {e}") from e


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxslim simplification (constant folding, shape-op elimination)."""
    import onnxslim
    return onnxslim.slim(model)


def finalize(model: onnx.ModelProto, path: str | os.PathLike, do_simplify: bool = True,
             opset: int = OPSET) -> onnx.ModelProto:
    """Checks, infers shapes, simplifies and saves ``model`` to ``path``."""
    path = Path(path)
    if opset_of(model) != opset:
        raise ValueError(f"{path.name}: exported at opset {opset_of(model)}, expected {opset}")
    model = check(model, f"{path.name} (as exported)")
    if do_simplify:
        model = check(simplify(model), f"{path.name} (simplified)")
        if opset_of(model) != opset:
            raise ValueError(f"{path.name}: simplification changed the opset to {opset_of(model)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return model


def load_checked(path: str | os.PathLike) -> onnx.ModelProto:
    """Loads an ONNX file with a clear error if it is missing or invalid."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path))
    except Exception as e:
        raise ValueError(f"{path}: not a readable ONNX model ({e})") from e
    return check(model, str(path))
