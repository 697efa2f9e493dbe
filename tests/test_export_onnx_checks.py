"""The TensorRT allow-list and the Conv-group post-pass, on hand-built ONNX graphs."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.allowlist import op_histogram, validate_for_tensorrt
from export.group_fix import conv_group_mismatches, fix_conv_groups


def _model(nodes, inputs, outputs, inits=(), opset=18):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 9
    return m


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _depthwise3d_model(c=4, group=1):
    w = np.random.default_rng(0).normal(size=(c, 1, 3, 1, 1)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="dw3d", group=group, pads=[1, 0, 0, 1, 0, 0])
    return _model([node], [_vi("x", [1, c, 5, 2, 2])], [_vi("y", [1, c, 5, 2, 2])],
                  [numpy_helper.from_array(w, "w")]), w


def test_group_post_pass_repairs_depthwise_conv3d():
    model, w = _depthwise3d_model(group=1)
    assert conv_group_mismatches(model) == [("dw3d", 4, 1, 1)]
    x = np.random.default_rng(1).normal(size=(1, 4, 5, 2, 2)).astype(np.float32)
    with pytest.raises(Exception, match="group"):      # what onnxruntime says before the fix
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    fixed, log = fix_conv_groups(model)
    assert len(log) == 1 and "group 1 -> 4" in log[0]
    assert conv_group_mismatches(fixed) == []
    y = ort.InferenceSession(fixed.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0), (0, 0)))
    ref = sum(w[:, 0, j, 0, 0][None, :, None, None, None] * xp[:, :, j:j + 5] for j in range(3))
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_group_post_pass_refuses_impossible_group():
    w = np.zeros((6, 4, 1, 1), np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", group=1)
    m = _model([node], [_vi("x", [1, 6, 2, 2])], [_vi("y", [1, 6, 2, 2])], [numpy_helper.from_array(w, "w")])
    with pytest.raises(ValueError, match="not a multiple"):
        fix_conv_groups(m)


def test_allowlist_accepts_clean_graph_and_counts_ops():
    w = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "w")
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("ReduceMean", ["r", "axes"], ["y"], name="mean", keepdims=0)]
    m = _model(nodes, [_vi("x", [1, 3, 4, 4])], [_vi("y", [1, 2])], [w, axes])
    assert validate_for_tensorrt(m, strict_deploy=True) == []
    assert op_histogram(m) == {"Conv": 1, "ReduceMean": 1, "Relu": 1}


@pytest.mark.parametrize("case", ["gathernd", "einsum", "computed_axes", "bad_group", "opset", "transpose"])
def test_allowlist_flags_problems(case):
    x = _vi("x", [2, 3, 4, 4])
    if case == "gathernd":
        idx = numpy_helper.from_array(np.zeros((1, 1), np.int64), "i")
        m = _model([helper.make_node("GatherND", ["x", "i"], ["y"], name="g")], [x], [_vi("y", None)], [idx])
        expect = "GatherND"
    elif case == "einsum":
        m = _model([helper.make_node("Einsum", ["x", "x"], ["y"], name="e", equation="nchw,nchw->nc")],
                   [x], [_vi("y", None)])
        expect = "Einsum"
    elif case == "computed_axes":
        nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
                 helper.make_node("ReduceMean", ["x", "s"], ["y"], name="rm")]
        m = _model(nodes, [x], [_vi("y", None)])
        expect = "must be an initializer"
    elif case == "bad_group":
        w = numpy_helper.from_array(np.ones((3, 1, 3, 3), np.float32), "w")
        m = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="dw", group=1, pads=[1, 1, 1, 1])],
                   [x], [_vi("y", None)], [w])
        expect = "group 1 inconsistent"
    elif case == "opset":
        m = _model([helper.make_node("Relu", ["x"], ["y"], name="r")], [x], [_vi("y", None)], opset=21)
        expect = "opset 21"
    else:
        nodes = [helper.make_node("Transpose", ["x"], ["t1"], name="t1", perm=[0, 2, 3, 1]),
                 helper.make_node("Transpose", ["t1"], ["y"], name="t2", perm=[0, 3, 1, 2])]
        m = _model(nodes, [x], [_vi("y", None)])
        expect = "2 Transposes"
        assert validate_for_tensorrt(m) == []          # allowed by TensorRT, not by the deploy form
    problems = validate_for_tensorrt(m, strict_deploy=True)
    assert any(expect in p for p in problems), problems
