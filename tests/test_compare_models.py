"""benchmarks/compare_models.py helpers: the FP16-weight ONNX copy, the table, CLI errors."""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from benchmarks.compare_models import fp16_weights, full_size_variants, to_markdown
from tests.conftest import ROOT


def _matmul_model(w):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, w.shape[0]])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, w.shape[1]])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_fp16_weights_halves_the_file_and_keeps_the_function():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 32)).astype(np.float32)
    model = _matmul_model(w)
    half = fp16_weights(model)
    onnx.checker.check_model(half, full_check=True)
    assert [i.data_type for i in half.graph.initializer] == [TensorProto.FLOAT16]
    assert half.graph.node[0].op_type == "Cast"
    assert len(half.SerializeToString()) < 0.6 * len(model.SerializeToString())
    x = rng.normal(size=(1, 64)).astype(np.float32)
    ref, out = _run(model, x), _run(half, x)
    np.testing.assert_allclose(out, x @ w.astype(np.float16).astype(np.float32), rtol=1e-5, atol=1e-5)
    assert 0 < np.abs(out - ref).max() < 1e-2          # rounded weights, FP32 compute


def test_table_lists_rows_errors_and_skips():
    meta = {"date": "d", "machine": "m", "onnxruntime": "v", "threads": 2, "runs": 5, "runs8": 1,
            "num_classes": 60}
    rows = [{"model": "a", "input": "4x8x8", "params": 2_500_000, "macs": 1.5e9, "ort_b1_p50_ms": 12.34,
             "trt": "skipped: no GPU", "settings": {"date": "d", "runs": 10, "runs8": 3, "threads": 2}},
            {"model": "b", "error": "ValueError: boom"}]
    md = to_markdown(rows, meta)
    assert "| a | 4x8x8 | 2.500 | 1.500 | - |" in md and "| 12.3 |" in md
    assert "- b: ValueError: boom" in md and "- skipped: no GPU" in md
    assert "a: measured in an earlier run" in md


def test_full_size_variants_leave_out_tiny_ones():
    names = full_size_variants()
    assert {"x3d_ugt", "x3d_xs", "x3d_s", "x3d_m"} <= set(names)
    assert not any(n.endswith("_tiny") for n in names)


def test_cli_rejects_unknown_variant():
    out = subprocess.run([sys.executable, "benchmarks/compare_models.py", "--variants", "x3d_nope"],
                         cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))   # as after `pip install -e .`
    assert out.returncode == 2 and "x3d_nope" in out.stderr.splitlines()[-1]


def test_demo_variables_cover_every_full_size_family():
    """compare_models exports each model with realistic_variables: every
    family's parameter names get a value, and the BN affines / ARC matrices
    are moved off their initial values (else BN folding goes untested)."""
    import jax
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config, model_family

    narrow = {}                                      # same parameter names, fast to trace
    for name in full_size_variants():
        narrow.setdefault(model_family(create_config(name)), create_config(name).small())
    assert {"x3d_ugt", "x3d", "tsm_resnet", "tsm_mobilenetv2", "arc_tsm_resnet"} <= set(narrow)
    for family, cfg in sorted(narrow.items()):
        leaves = {jax.tree_util.keystr(p): np.asarray(v)
                  for p, v in jax.tree_util.tree_leaves_with_path(realistic_variables(cfg))}
        scales = [v for k, v in leaves.items() if k.endswith("['scale']")]
        assert scales and all(np.all(v != 1.0) for v in scales), family
        arc = [v for k, v in leaves.items() if k.endswith(("['embed']", "['fusion']"))]
        assert (len(arc) > 0) == (family == "arc_tsm_resnet"), family
        assert all(np.abs(v).max() > 0 for v in arc), family
