"""Post-pass for the TFLite -> tf2onnx route: make Conv ``group`` agree with its weights.

A grouped (depthwise) 3-D conv survives TFLite only as a Flex ``Conv3D``;
tf2onnx turns it into an ONNX ``Conv`` with ``group = 1`` although its weight
is ``(C_out, C_in / C_in, k...)``: onnxruntime then fails with "Input
channels C is not equal to kernel channels * group". After shape inference
the input channel count is known, and ``group = C_in / W.shape[1]`` is the
only value that is consistent with the weight. This pass sets it (and refuses
when ``C_in`` is not a multiple of ``W.shape[1]``).

Works on any Conv whose weight is an initializer and whose input has a known
channel dimension (axis 1, ONNX's NC... layout).
"""
from __future__ import annotations

import onnx
from onnx import shape_inference


def _channel_dims(model: onnx.ModelProto) -> dict[str, int]:
    dims: dict[str, int] = {}
    g = model.graph
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        shape = vi.type.tensor_type.shape
        if len(shape.dim) >= 2 and shape.dim[1].HasField("dim_value"):
            dims[vi.name] = shape.dim[1].dim_value
    return dims


def conv_group_mismatches(model: onnx.ModelProto) -> list[tuple[str, int, int, int]]:
    """``(node name, C_in, W.shape[1], group)`` for every Conv whose group
    attribute disagrees with ``C_in / W.shape[1]`` (after shape inference)."""
    inferred = shape_inference.infer_shapes(model)
    dims = _channel_dims(inferred)
    inits = {i.name: i for i in model.graph.initializer}
    bad = []
    for node in model.graph.node:
        if node.op_type != "Conv" or node.input[1] not in inits or node.input[0] not in dims:
            continue
        w_in = list(inits[node.input[1]].dims)[1]
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if dims[node.input[0]] != w_in * group:
            bad.append((node.name, dims[node.input[0]], w_in, group))
    return bad


def fix_conv_groups(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """Returns ``(model, log)`` with every inconsistent Conv ``group`` repaired in place."""
    log = []
    by_name = {n.name: n for n in model.graph.node}
    for name, c_in, w_in, group in conv_group_mismatches(model):
        if c_in % w_in:
            raise ValueError(f"Conv {name!r}: input has {c_in} channels, not a multiple of the "
                             f"weight's {w_in} input channels; no group value fits")
        node = by_name[name]
        new = c_in // w_in
        for a in list(node.attribute):
            if a.name == "group":
                node.attribute.remove(a)
        node.attribute.append(onnx.helper.make_attribute("group", new))
        log.append(f"{name}: group {group} -> {new} (C_in {c_in}, weight in-channels {w_in})")
    return model, log
