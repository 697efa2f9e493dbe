"""A dynamic-batch INT8 export without TensorRT: real calibration clips are
required and stored, the device-side calibration step is written (never a
reference to a calibration cache that does not exist), and the profile
covers only batch sizes inside the exported range."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from export.preprocess import synthetic_clips
from export.tensorrt_engine import tensorrt_status

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("int8")
    clips = synthetic_clips(3, 4, 32, seed=9)
    np.save(tmp / "calib.npy", clips)
    out = tmp / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "export.to_trt", "--variant", "x3d_ugt_tiny", "--frames", "4", "--size", "32",
         "--num-classes", "5", "--num-clips", "3", "--routes", "jax2onnx", "--no-savedmodel",
         "--dynamic-batch", "--batch", "2", "--max-batch", "4", "--profile-runs", "2",
         "--precision", "int8", "--calib-clips", str(tmp / "calib.npy"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, clips


def test_profiled_batches_are_inside_the_dynamic_range(int8_export):
    out, _ = int8_export
    prof = json.loads((out / "profile.json").read_text())["profiles"]
    assert [b["batch"] for b in prof[0]["batches"]] == [1, 2, 4]
    assert all("p50_ms" in b for b in prof[0]["batches"])
    assert json.loads((out / "manifest.json").read_text())["tensorrt"]["profile"] == [1, 2, 4]


def test_int8_stores_real_clips_and_a_device_side_calibration_step(int8_export):
    if not tensorrt_status():
        pytest.skip("TensorRT is installed here: the INT8 engine was calibrated and built instead")
    out, clips = int8_export
    np.testing.assert_array_equal(np.load(out / "calibration_clips.npy"), clips)
    script = (out / "build_engine.sh").read_text()
    assert "export/calibrate.py" in script
    assert not (out / "calibration.cache").exists()
    assert not [line for line in script.splitlines() if "--calib=" in line and not line.startswith("#")]
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["tensorrt"]["calibration"] == {"file": "calibration_clips.npy", "clips": 3}
    assert "calibration_clips.npy" in doc["files"]
    proc = subprocess.run([sys.executable, "-m", "export.calibrate", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "missing" in proc.stderr and "tensorrt" in proc.stderr.lower()


def test_int8_needs_enough_real_clips(tmp_path):
    np.save(tmp_path / "one.npy", synthetic_clips(1, 4, 32))
    proc = subprocess.run(
        [sys.executable, "-m", "export.to_trt", "--variant", "x3d_ugt_tiny", "--frames", "4", "--size", "32",
         "--routes", "jax2onnx", "--no-savedmodel", "--no-profile", "--batch", "2", "--precision", "int8",
         "--calib-clips", str(tmp_path / "one.npy"), "--out", str(tmp_path / "o")],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 2 and "--calib-clips" in proc.stderr and "at least one batch of 2" in proc.stderr
    assert not (tmp_path / "o").exists()
