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


def simplify(model: onnx.ModelProto, log=None) -> onnx.ModelProto:
    """onnxslim (constant folding, shape-op elimination); if its result does not
    pass the checker -- onnxslim 0.1.98 drops producers in some dynamic-batch
    jax2onnx graphs -- ONNX Runtime's basic-level offline optimizer instead
    (constant folding, redundant-node elimination; standard ONNX ops only)."""
    import onnxslim
    try:
        slim = toposort(onnxslim.slim(model))
        onnx.checker.check_model(slim, full_check=True)
        return slim
    except Exception as e:
        if log:
            log(f"onnxslim result invalid ({str(e).splitlines()[0][:120]}); using onnxruntime's optimizer")
    return ort_basic_optimize(model)


def ort_basic_optimize(model: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX Runtime offline graph optimization at ORT_ENABLE_BASIC, saved as ONNX."""
    import tempfile

    import onnxruntime as ort
    with tempfile.TemporaryDirectory() as tmp:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        out = onnx.load(opts.optimized_model_filepath)
    del out.opset_import[:]
    out.opset_import.extend(model.opset_import)
    return out


def toposort(model: onnx.ModelProto) -> onnx.ModelProto:
    """Reorders ``model.graph.node`` so every input is produced before use (stable)."""
    g = model.graph
    ready = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
    pending, ordered = list(g.node), []
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            missing = sorted({i for n in rest for i in n.input if i not in ready})[:5]
            raise ValueError(f"graph has a cycle or undefined inputs: {missing}")
        pending = rest
    del g.node[:]
    g.node.extend(ordered)
    return model


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
