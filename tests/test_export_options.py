"""Export settings and decisions that need no model run: option checks, the
profiled batch sizes, the default-route rule, the INT8 device step, the
TensorRT version message, and the parity CLI's errors naming the file it reads."""
import json
import sys
import types

import numpy as np
import pytest

from export.options import ExportOptions
from export.pipeline import pick_default


@pytest.mark.parametrize("kw, batches, trt", [
    ({}, (1,), (1, 1, 1)),
    ({"batch": 2}, (2,), (2, 2, 2)),
    ({"dynamic_batch": True, "max_batch": 4}, (1, 4), (1, 1, 4)),
    ({"dynamic_batch": True, "batch": 2, "max_batch": 4}, (1, 2, 4), (1, 2, 4)),
])
def test_profiled_batches_stay_inside_the_exported_range(kw, batches, trt):
    opts = ExportOptions(**kw)
    assert opts.profile_batches == batches and opts.trt_profile == trt
    lo, _, hi = opts.trt_profile
    assert all(lo <= b <= hi for b in opts.profile_batches)


@pytest.mark.parametrize("kw, message", [
    ({"batch": 3, "max_batch": 2}, "--batch 3 is larger than --max-batch 2"),
    ({"precision": "int8"}, "--precision int8 needs --calib-clips"),
    ({"calib_clips": "c.npy"}, "--calib-clips is only used with --precision int8"),
    ({"routes": ("tflite",), "savedmodel": False}, "--no-savedmodel"),
    ({"routes": ("magic",)}, "--routes"),
    ({"layout": "diagonal"}, "--layout"),
    ({"num_clips": 0}, "--num-clips"),
])
def test_bad_options_name_the_flag(kw, message):
    with pytest.raises(ValueError, match=message.replace("-", r"\-")):
        ExportOptions(**kw)


def _info(problems=()):
    return {"allowlist_problems": list(problems)}


def _report(**passed):
    return {"runtimes": {f"ort:model.{r}.onnx": {"passed": ok} for r, ok in passed.items()}}


def test_default_route_is_a_fixed_preference_not_a_timing():
    both = {"jax2onnx": {**_info(), "file": "model.jax2onnx.onnx", "ort_p50_ms": 9.0},
            "tflite": {**_info(), "file": "model.tflite.onnx", "ort_p50_ms": 1.0}}
    assert pick_default(both, _report(jax2onnx=True, tflite=True)) == "jax2onnx"
    assert pick_default(both, _report(jax2onnx=False, tflite=True)) == "tflite"
    both["jax2onnx"]["allowlist_problems"] = ["Einsum 'e': forbidden op"]
    assert pick_default(both, _report(jax2onnx=True, tflite=True)) == "tflite"
    assert pick_default(both, _report(jax2onnx=True, tflite=False)) is None
    only = {"tflite": {**_info(), "file": "model.tflite.onnx"}}
    assert pick_default(only, _report(tflite=True)) == "tflite"


def test_int8_script_calibrates_on_device_and_never_names_a_missing_cache():
    from export.tensorrt_engine import build_script, trtexec_command
    fp16 = build_script(trtexec_command("model.onnx", "model_fp16.plan", "fp16"), "fp16")
    assert "trtexec --onnx=model.onnx --saveEngine=model_fp16.plan" in fp16 and "JetPack 6.1/6.2" in fp16
    int8 = build_script("", "int8")
    assert "export/calibrate.py" in int8 and "--calib=" not in int8.replace("# trtexec ... --int8 --fp16 "
                                                                             "--calib=calibration.cache", "")


def test_build_engine_without_cache_offers_no_trtexec_calib(tmp_path):
    from export.tensorrt_engine import TensorRTUnavailable, build_engine, tensorrt_status
    if not tensorrt_status():
        pytest.skip("TensorRT is installed here: the engine would be built instead")
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph([helper.make_node("Relu", ["clip"], ["logits"])], "g",
                          [helper.make_tensor_value_info("clip", TensorProto.FLOAT, [1, 2, 3, 8, 8])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2, 3, 8, 8])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]), str(tmp_path / "m.onnx"))
    x = np.zeros((1, 2, 3, 8, 8), np.float32)
    with pytest.raises(TensorRTUnavailable) as info:
        build_engine(tmp_path / "m.onnx", tmp_path / "m.plan", "int8", calib_clips=x,
                     calib_cache=tmp_path / "calibration.cache")
    assert info.value.trtexec == "" and "--calib" not in str(info.value)


def test_calibration_normalisation_matches_the_export_contract():
    from export.calibrate import normalise
    from export.preprocess import preprocess, spec, synthetic_clips
    raw = synthetic_clips(2, 3, 16, seed=1)
    np.testing.assert_allclose(normalise(raw, spec(3, 16, 1)), preprocess(raw), rtol=1e-6)


def test_tensorrt_8_is_reported_with_the_jetpack_upgrade(monkeypatch):
    from export.tensorrt_engine import tensorrt_status
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="8.6.2"))
    text = " ".join(tensorrt_status())
    assert "8.6.2" in text and "opset <= 17" in text and "JetPack 6.1/6.2" in text


def test_parity_cli_names_the_file_it_cannot_read(tmp_path, capsys):
    from export import parity
    from jaxar.model_record import ModelRecord, write_record
    from jaxar.registry import create_config
    for missing in ("nothere", ""):
        d = tmp_path / (missing or "empty")
        if not missing:
            d.mkdir()
        with pytest.raises(SystemExit) as info:
            parity.main([str(d)])
        assert info.value.code == 2
        assert (str(d) if missing else str(d / "manifest.json")) in capsys.readouterr().err
    d = tmp_path / "export"
    cfg = create_config("x3d_ugt_tiny").small()
    write_record(ModelRecord(cfg, {"params": {"w": np.zeros(2, np.float32)}}), d)
    (d / "manifest.json").write_text(json.dumps({"files": {}}))
    (d / "jax_variables.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SystemExit):
        parity.main([str(d)])
    assert str(d / "jax_variables.npz") in capsys.readouterr().err
    (d / "config.json").write_text("{ not json")
    with pytest.raises(SystemExit):
        parity.main([str(d)])
    assert str(d / "config.json") in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["channels-major", "frames-major"])
def test_layout_reaches_the_deploy_form(layout, tmp_path):
    from export.pipeline import Context, fold_deploy_form
    from jaxar.model_record import ModelRecord
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config
    cfg = create_config("x3d_ugt_tiny").small()
    ctx = Context(ExportOptions(layout=layout), ModelRecord(cfg, realistic_variables(cfg)), tmp_path,
                  lambda msg: None)
    assert fold_deploy_form(ctx, {})["deploy"].layout == layout
