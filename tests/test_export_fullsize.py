"""The one full-size export: default x3d_ugt at 1x16x224x224 through jax2onnx,
checked, allow-listed, and compared with JAX on one clip."""
import pytest

from export.allowlist import validate_for_tensorrt
from export.onnx_jax2onnx import export_jax2onnx
from export.parity import compare
from export.preprocess import preprocess, synthetic_clips
from export.reference import jax_reference
from export.runtimes import OrtRunner
from jaxar.model_record import ModelRecord
from jaxar.deploy import DeployModel
from jaxar.demo_variables import realistic_variables
from jaxar.registry import create_config

pytestmark = pytest.mark.slow


def test_full_size_default_export(tmp_path):
    cfg = create_config("x3d_ugt")
    assert (cfg.frames, cfg.size, cfg.num_classes) == (16, 224, 60)
    variables = realistic_variables(cfg)
    dm = DeployModel.from_variables(cfg, variables)
    assert 900_000 < dm.num_params < 962_900      # BN folded away, TAda beta folded in
    path = tmp_path / "x3d_ugt.onnx"
    model = export_jax2onnx(dm.as_function(), (1, 16, 3, 224, 224), path)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    x = preprocess(synthetic_clips(1, 16, 224))
    out = OrtRunner(path, threads=2)(x)
    row = compare(jax_reference(ModelRecord(cfg, variables), x), out)
    assert row["passed"], row
    # float32 weights: 0.96 M folded parameters + depthwise kernels repeated over the 16 frames
    assert path.stat().st_size < 12e6
