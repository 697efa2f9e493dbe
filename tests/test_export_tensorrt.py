"""The TensorRT step: a clear failure naming what is missing plus the exact
trtexec command where TensorRT/GPU are absent (here), real build + FP16
parity where they exist (skipped here with the reason)."""
import numpy as np
import pytest

from export.tensorrt_engine import TensorRTUnavailable, build_engine, tensorrt_status, trtexec_command

MISSING = tensorrt_status()


def _tiny_onnx(tmp_path, dynamic=False):
    from export.onnx_jax2onnx import export_jax2onnx
    from jaxar.deploy import DeployModel
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config
    cfg = create_config("x3d_ugt_tiny").small()
    dm = DeployModel.from_variables(cfg, realistic_variables(cfg))
    path = tmp_path / "m.onnx"
    export_jax2onnx(dm.as_function(), (None if dynamic else 1, cfg.frames, 3, cfg.size, cfg.size), path)
    return path, dm


def test_trtexec_command_static_and_dynamic():
    static = trtexec_command("model.onnx", "model_fp16.plan", "fp16", (16, 3, 224, 224))
    assert static.startswith("/usr/src/tensorrt/bin/trtexec --onnx=model.onnx --saveEngine=model_fp16.plan")
    assert "--fp16" in static and "--timingCacheFile=timing.cache" in static and "Shapes" not in static
    dyn = trtexec_command("m.onnx", "m.plan", "int8", (16, 3, 224, 224), dynamic=True, batch=(1, 4, 8),
                          calib_cache="calibration.cache")
    for part in ("--minShapes=clip:1x16x3x224x224", "--optShapes=clip:4x16x3x224x224",
                 "--maxShapes=clip:8x16x3x224x224", "--int8", "--calib=calibration.cache"):
        assert part in dyn
    with pytest.raises(ValueError, match="precision"):
        trtexec_command("m.onnx", "m.plan", "fp8")


@pytest.mark.skipif(not MISSING, reason="TensorRT and a GPU are present; the failure path cannot be shown")
def test_build_engine_fails_clearly_without_tensorrt(tmp_path):
    onnx_path, _ = _tiny_onnx(tmp_path, dynamic=True)
    with pytest.raises(TensorRTUnavailable) as info:
        build_engine(onnx_path, tmp_path / "m_fp16.plan", "fp16", batch=(1, 2, 4))
    msg = str(info.value)
    assert "tensorrt" in msg.lower() and "missing" in msg
    assert "--minShapes=clip:1x4x3x32x32" in info.value.trtexec and "--fp16" in info.value.trtexec
    assert not (tmp_path / "m_fp16.plan").exists()


def test_build_engine_bad_input_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.onnx"):
        build_engine(tmp_path / "nothere.onnx", tmp_path / "x.plan")


@pytest.mark.skipif(bool(MISSING), reason="TensorRT execution needs TensorRT + a CUDA GPU: " + "; ".join(MISSING))
def test_tensorrt_fp16_engine_parity(tmp_path):
    from export.parity import compare
    from export.tensorrt_engine import TensorRTRunner
    onnx_path, dm = _tiny_onnx(tmp_path, dynamic=True)
    plan = build_engine(onnx_path, tmp_path / "m_fp16.plan", "fp16", batch=(1, 2, 4),
                        timing_cache=tmp_path / "timing.cache")
    assert (tmp_path / "timing.cache").stat().st_size > 0
    runner = TensorRTRunner(plan)
    assert runner.device_memory_bytes > 0
    x = np.random.default_rng(0).normal(size=(4, *dm.config.input_shape[:1], 3, 32, 32)).astype(np.float32)
    assert compare(np.asarray(dm(x)), runner(x), "fp16")["passed"]
