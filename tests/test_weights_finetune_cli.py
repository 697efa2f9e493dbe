"""Fine-tuning from the CLI: ``python -m jaxar.train --config experiments/finetune_tiny.py
--config.init.checkpoint=FILE --config.init.freeze_backbone=true`` with a
torchvision-format ResNet file of another class count (7, the model has 4)
re-initialises the head and says so, trains 6 steps on the synthetic set, and
ends with the imported backbone and BN statistics exactly as in the file.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow      # a training run in a subprocess


def test_cli_fine_tunes_a_torchvision_file_with_a_new_head(tmp_path):
    torch = pytest.importorskip("torch", reason="writing the .pth source file needs PyTorch (test-only)")
    from tests import weights_torch_nets as tn
    from jaxar.checkpoint import restore_inference
    torch.manual_seed(0)
    net = tn.randomise(tn.TSMResNet("basic", (1, 1), (8, 16), 8, num_classes=7, frames=4), 0)
    src = tmp_path / "resnet_7cls.pth"
    torch.save(net.state_dict(), src)
    work = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    r = subprocess.run([sys.executable, "-m", "jaxar.train", "--config", "experiments/finetune_tiny.py",
                        f"--config.init.checkpoint={src}", "--config.init.freeze_backbone=true",
                        "--workdir", str(work)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "format torchvision (auto-detected) -> tsm_resnet" in r.stderr
    assert "classifier re-initialised: the file has 7 classes, the model 4" in r.stderr
    assert (work / "init_from.txt").is_file() and (work / "results.json").is_file()
    bundle = restore_inference(work)
    assert bundle.step == 6
    p, s = bundle.variables["params"], bundle.variables["batch_stats"]
    np.testing.assert_array_equal(p["stem"]["kernel"], net.conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(p["stage2"]["block0"]["downsample"]["kernel"],
                                  net.layer2[0].downsample[0].weight.detach().numpy()[:, :, 0, 0].T)
    np.testing.assert_array_equal(s["stage1"]["block0"]["bn2"]["mean"], net.layer1[0].bn2.running_mean.numpy())
    assert p["head"]["fc"]["kernel"].shape == (16, 4)
