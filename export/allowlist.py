"""Static validation of an ONNX graph against what TensorRT's ONNX parser takes.

Checks (each problem is one line naming the node):

* every op is in :data:`TRT_OPS` (onnx-tensorrt's supported-operator list for
  TensorRT 10.x, restricted to the ops an exported CNN can produce) and not in
  :data:`FORBIDDEN` (GatherND, Einsum and Range: supported on paper, but they
  only appear when an exporter fell back to index arithmetic or 3-D matmuls,
  and they block fusion);
* the ``axes`` (and Slice ``steps``, Pad ``pads``) inputs of Slice, Pad,
  Reduce*, Squeeze and Unsqueeze are initializers or Constant outputs
  (tensor-valued axes arrived only in TensorRT 10.3/10.4). Slice
  ``starts``/``ends`` may be computed: a dynamic-batch export derives the
  batch extent from ``Shape``, which TensorRT takes as a shape tensor;
* every Conv's ``group`` agrees with its weight (``C_in == W.shape[1] * group``);
* no float64 tensors (TensorRT has no double), opset within 13..20.

``strict_deploy=True`` additionally requires the deploy-form properties: at
most one Transpose (the deploy form's single frames-major -> channels-major
switch after the stem), no tensor of rank > 4 after the input, no grouped 3-D Conv.
"""
from __future__ import annotations

import onnx
from onnx import TensorProto, shape_inference

from export.group_fix import conv_group_mismatches

TRT_OPS = frozenset("""
Abs Add AveragePool BatchNormalization Cast Ceil Clip Concat Constant ConstantOfShape Conv
ConvTranspose Div Equal Erf Exp Expand Flatten Floor Gather Gemm GlobalAveragePool GlobalMaxPool
Greater HardSigmoid HardSwish Identity LeakyRelu Less Log MatMul Max MaxPool Mean Min Mul Neg Pad
Pow PRelu Reciprocal ReduceL2 ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum Relu Reshape
Resize Shape Sigmoid Slice Softmax Split Sqrt Squeeze Sub Sum Tanh Tile Transpose Unsqueeze Where
""".split())
FORBIDDEN = frozenset({"GatherND", "Einsum", "Range"})
STATIC_INPUTS = {              # op -> input indices that must be constant
    "Slice": (3, 4), "Pad": (1, 3), "Squeeze": (1,), "Unsqueeze": (1,),
    "ReduceMean": (1,), "ReduceSum": (1,), "ReduceMax": (1,), "ReduceMin": (1,),
    "ReduceProd": (1,), "ReduceL2": (1,),
}
OPSET_RANGE = (13, 20)


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def validate_for_tensorrt(model: onnx.ModelProto, strict_deploy: bool = False) -> list[str]:
    """Returns the list of problems (empty: the graph passes)."""
    problems: list[str] = []
    opset = _opset(model)
    if not OPSET_RANGE[0] <= opset <= OPSET_RANGE[1]:
        problems.append(f"opset {opset} outside TensorRT 10.3's parser range {OPSET_RANGE}")
    g = model.graph
    constants = {i.name for i in g.initializer}
    constants |= {o for n in g.node if n.op_type == "Constant" for o in n.output}
    for n in g.node:
        where = f"{n.op_type} {n.name!r}"
        if n.domain not in ("", "ai.onnx"):
            problems.append(f"{where}: custom domain {n.domain!r}")
        elif n.op_type in FORBIDDEN:
            problems.append(f"{where}: forbidden op")
        elif n.op_type not in TRT_OPS:
            problems.append(f"{where}: not in the TensorRT parser allow-list")
        for idx in STATIC_INPUTS.get(n.op_type, ()):
            if idx < len(n.input) and n.input[idx] and n.input[idx] not in constants:
                problems.append(f"{where}: input {idx} ({n.input[idx]!r}) is computed, "
                                "must be an initializer")
    for name, c_in, w_in, group in conv_group_mismatches(model):
        problems.append(f"Conv {name!r}: group {group} inconsistent with weight (C_in {c_in}, "
                        f"weight in-channels {w_in})")
    inferred = shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(g.output)
    for vi in infos + list(g.initializer):
        dtype = vi.data_type if isinstance(vi, TensorProto) else vi.type.tensor_type.elem_type
        if dtype == TensorProto.DOUBLE:
            problems.append(f"tensor {vi.name!r} is float64")
    if strict_deploy:
        problems += _deploy_form_problems(inferred)
    return problems


def _deploy_form_problems(model: onnx.ModelProto) -> list[str]:
    out = []
    inputs = {i.name for i in model.graph.input}
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in model.graph.value_info}
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    transposes = [n.name for n in model.graph.node if n.op_type == "Transpose"]
    if len(transposes) > 1:
        out.append(f"{len(transposes)} Transposes in a deploy-form graph (at most 1): {transposes[:5]}")
    for n in model.graph.node:
        for o in n.output:
            if ranks.get(o, 0) > 4 and not set(n.input) & inputs:
                out.append(f"{n.op_type} {n.name!r} makes a rank-{ranks[o]} tensor")
        if n.op_type == "Conv" and len(inits.get(n.input[1], [])) > 4:
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            if group > 1:
                out.append(f"Conv {n.name!r} is a grouped 3-D conv")
    return out


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    """``{op_type: count}``, most frequent first."""
    counts: dict[str, int] = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
