"""Every variant's deploy form exports through jax2onnx to an ONNX file that
passes the checker, the TensorRT allow-list (strict deploy form) and ONNX
Runtime parity against the JAX training form. Tiny shapes (T=4, 32x32,
narrow); the full TFLite route runs on the default in test_export_pipeline."""
import jax
import numpy as np
import onnx
import pytest

from export.allowlist import validate_for_tensorrt
from export.onnx_jax2onnx import export_jax2onnx
from export.parity import compare
from export.runtimes import OrtRunner
from jaxar.deploy import DeployModel
from jaxar.demo_variables import realistic_variables
from tests.model_fixtures import distinct_small_variants
from jaxar.registry import create_config, list_variants

# X3D-UGT and the X3D baselines (each with a small test config); TSM/ARC have their own tests.
X3D_VARIANTS = [v for v in list_variants() if v.startswith("x3d_")]


def _reference(cfg, variables, x_ntchw):
    fn = jax.jit(lambda v, x: cfg.build().apply(v, x, train=False))
    return np.asarray(fn(variables, np.transpose(x_ntchw, (0, 1, 3, 4, 2))))


@pytest.mark.parametrize("variant", distinct_small_variants(X3D_VARIANTS))
def test_variant_onnx_checker_allowlist_parity(variant, tmp_path):
    cfg = create_config(variant).small()
    variables = realistic_variables(cfg, seed=1)
    dm = DeployModel.from_variables(cfg, variables)
    path = tmp_path / f"{variant}.onnx"
    model = export_jax2onnx(dm.as_function(), (1, cfg.frames, 3, cfg.size, cfg.size), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    ops = [n.op_type for n in model.graph.node]
    assert {"GatherND", "Einsum", "Range"}.isdisjoint(ops) and ops.count("Transpose") == 1
    x = np.random.default_rng(2).normal(size=(3, cfg.frames, 3, cfg.size, cfg.size)).astype(np.float32)
    runner = OrtRunner(path)
    out = np.concatenate([runner(x[i:i + 1]) for i in range(len(x))])
    row = compare(_reference(cfg, variables, x), out)
    assert row["passed"], row


def test_dynamic_batch_export(tmp_path):
    """Dynamic batch through jax2onnx: one file serves batch 1 and batch 3."""
    cfg = create_config("x3d_ugt").small()
    variables = realistic_variables(cfg, seed=2)
    dm = DeployModel.from_variables(cfg, variables)
    path = tmp_path / "dyn.onnx"
    model = export_jax2onnx(dm.as_function(), (None, cfg.frames, 3, cfg.size, cfg.size), path)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    runner = OrtRunner(path)
    assert runner.input_shape[0] is None
    x = np.random.default_rng(3).normal(size=(3, cfg.frames, 3, cfg.size, cfg.size)).astype(np.float32)
    ref = _reference(cfg, variables, x)
    assert compare(ref, runner(x))["passed"]
    assert compare(ref[:1], runner(x[:1]))["passed"]
