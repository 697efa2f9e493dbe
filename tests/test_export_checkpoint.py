"""A real Orbax checkpoint written by jaxar.checkpoint (the training issue's
format) goes through ``export_all`` to a parity-checked ONNX; labels come
from the checkpoint's class names."""
import json

import numpy as np
import pytest

ckpt = pytest.importorskip("jaxar.checkpoint", reason="jaxar.checkpoint not in this checkout")


def test_checkpoint_to_parity_checked_onnx(tmp_path):
    from export.pipeline import export_all
    from export.sources import from_checkpoint
    from export.demo_variables import realistic_variables, small_config
    from jaxar.registry import create_config

    cfg = small_config(create_config("x3d_ugt"), num_classes=3)
    variables = {k: {kk: vv for kk, vv in v.items()} for k, v in realistic_variables(cfg, seed=4).items()}
    saver = ckpt.Checkpointer(tmp_path / "run", async_save=False)
    meta = {"step": 12, "model_config": ckpt.model_config_to_json(cfg), "class_names": ["wave", "sit", "fall"]}
    saver.save(12, {"params": variables["params"], "batch_stats": variables["batch_stats"],
                    "step": np.int32(12)}, meta)
    saver.wait()
    saver.close()

    source = from_checkpoint(tmp_path / "run")
    assert source.step == 12 and source.config == cfg
    out = tmp_path / "export"
    result = export_all(source, out, routes=("jax2onnx",), savedmodel=False, num_clips=4,
                        profile=False, tensorrt=False, log=lambda m: None)
    assert result["parity"]["passed"]
    assert json.loads((out / "labels.json").read_text()) == ["wave", "sit", "fall"]
    assert json.loads((out / "manifest.json").read_text())["step"] == 12
    assert (out / "model.onnx").is_file()
