"""End to end: ``python export/to_trt.py`` on the tiny default model, for real
(jax2tf, TF, TFLite, tf2onnx, jax2onnx, onnxslim, onnxruntime); then the
artifacts are inspected, and a second export into the same directory must
replace the first one completely. Tiny shapes: T=4, 32x32, narrow widths."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from export import manifest
from export.allowlist import validate_for_tensorrt
from export.runtimes import OrtRunner

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow      # exports through TF/TFLite and ONNX in subprocesses


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_export")
    proc = subprocess.run(
        [sys.executable, "-m", "export.to_trt", "--variant", "x3d_ugt_tiny", "--frames", "4", "--size", "32",
         "--num-classes", "7", "--num-clips", "6", "--profile-runs", "5", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_all_artifacts_written(export_dir):
    out, _ = export_dir
    for name in ("saved_model/saved_model.pb", "model.onnx", "model.jax2onnx.onnx", "model.tflite.onnx",
                 "parity.json", "parity.md", "profile.json", "latency.png", "labels.json",
                 "preprocessing.json", "manifest.json", "build_engine.sh", "config.json",
                 "jax_variables.npz", "record.json"):
        assert (out / name).is_file(), name
    assert manifest.verify(out) == []
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["versions"]["onnx"] and doc["opset"] == 18 and doc["parity_passed"]
    assert json.loads((out / "labels.json").read_text()) == [f"class_{i}" for i in range(7)]
    spec = json.loads((out / "preprocessing.json").read_text())
    assert spec["input_shape"] == [1, 4, 3, 32, 32] and len(spec["mean"]) == 3


def test_both_onnx_pass_checker_allowlist_and_parity(export_dir):
    out, _ = export_dir
    report = json.loads((out / "parity.json").read_text())
    assert report["passed"]
    for name in ("model.jax2onnx.onnx", "model.tflite.onnx"):
        model = onnx.load(str(out / name))
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version == 18
        assert validate_for_tensorrt(model, strict_deploy=True) == []
        row = report["runtimes"][f"ort:{name}"]
        assert row["passed"] and row["max_abs_err"] < 1e-4 and row["top1_agreement"] == 1.0
    assert report["runtimes"]["tf-savedmodel"]["passed"]


def test_tensorrt_step_stops_clearly_with_trtexec_command(export_dir):
    out, stdout = export_dir
    from export.tensorrt_engine import tensorrt_status
    if not tensorrt_status():
        pytest.skip("TensorRT is installed here; the engine was built instead")
    assert "TensorRT engine NOT built here" in stdout
    cmd = (out / "build_engine.sh").read_text()
    assert "trtexec --onnx=model.onnx --saveEngine=model_fp16.plan" in cmd and "--fp16" in cmd


def test_profile_and_standalone_parity(export_dir, tmp_path):
    first, _ = export_dir
    out = tmp_path / "copy"                  # parity.py rewrites parity.json: keep the fixture's own
    shutil.copytree(first, out)
    prof = json.loads((out / "profile.json").read_text())["profiles"]
    assert {p["runtime"] for p in prof} == {"ort:model.jax2onnx.onnx", "ort:model.tflite.onnx"}
    b = prof[0]["batches"][0]
    assert b["batch"] == 1 and 0 < b["p50_ms"] <= b["p90_ms"] <= b["p99_ms"] and prof[0]["peak_rss_mb"] > 0
    proc = subprocess.run([sys.executable, "-m", "export.parity", str(out), "--num-clips", "3"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ort:model.onnx" in proc.stdout and "PASS" in proc.stdout


def test_default_onnx_runs_on_real_preprocessed_clip(export_dir):
    out, _ = export_dir
    from export.preprocess import preprocess, synthetic_clips
    x = preprocess(synthetic_clips(1, 4, 32, seed=5))
    logits = OrtRunner(out / "model.onnx")(x)
    assert logits.shape == (1, 7) and np.all(np.isfinite(logits))


@pytest.mark.parametrize("args, message", [
    (["--variant", "nope", "--out", "x"], "unknown model variant"),
    (["--checkpoint", "/nonexistent/run", "--out", "x"], "/nonexistent/run"),
    (["--variant", "x3d_ugt_tiny", "--out", "x", "--batch", "0"], "--batch must be a positive integer"),
    (["--variant", "x3d_ugt_tiny", "--out", "x", "--routes", "onnxmagic"], "--routes"),
    (["--variant", "x3d_ugt_tiny", "--out", "x", "--clips", "/no/clips.npy"], "/no/clips.npy"),
])
def test_cli_bad_arguments_name_the_argument(args, message, tmp_path):
    args = [a if a != "x" else str(tmp_path / "o") for a in args]
    proc = subprocess.run([sys.executable, "-m", "export.to_trt", *args, "--no-profile"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert message in proc.stderr


def test_cli_checkpoint_that_is_not_a_checkpoint_is_clear(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "export.to_trt", "--checkpoint", str(tmp_path),
                           "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert str(tmp_path) in proc.stderr and "no checkpoint found" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_progress_per_step_and_savedmodel_on_fewer_clips(export_dir):
    out, stdout = export_dir
    steps = [line for line in stdout.splitlines() if line.startswith("[export ") and line.endswith("...")]
    assert len(steps) >= 10 and steps[0].startswith("[export 1/") and "done (" in stdout
    rows = json.loads((out / "parity.json").read_text())["runtimes"]
    assert rows["tf-savedmodel"]["n"] == rows["jax-deploy-form"]["n"] == 2
    assert rows["ort:model.jax2onnx.onnx"]["n"] == 6
    assert "impl=shifted" in stdout            # the reference runs in the fast CPU formulation


def test_default_onnx_is_the_preferred_route_with_timings_reported(export_dir):
    out, _ = export_dir
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["default_route"] == "jax2onnx" and doc["route_preference"] == ["jax2onnx", "tflite"]
    assert (out / "model.onnx").read_bytes() == (out / "model.jax2onnx.onnx").read_bytes()
    assert set(doc["ort_p50_ms_by_batch"]) == {"jax2onnx", "tflite"}
    assert all(v["1"] > 0 for v in doc["ort_p50_ms_by_batch"].values())
    assert doc["layout"] == "channels-major"


def test_second_export_into_same_dir_refused_then_replaces_everything(export_dir, tmp_path):
    first, _ = export_dir
    out = tmp_path / "again"
    shutil.copytree(first, out)
    args = [sys.executable, "-m", "export.to_trt", "--variant", "x3d_ugt_tiny", "--frames", "2", "--size", "32",
            "--num-classes", "7", "--num-clips", "3", "--routes", "jax2onnx", "--no-savedmodel",
            "--no-profile", "--out", str(out)]
    refused = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr and str(out) in refused.stderr
    assert manifest.verify(out) == []                       # untouched
    proc = subprocess.run(args + ["--overwrite"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not (out / "model.tflite.onnx").exists() and not (out / "saved_model").exists()
    listed = set(json.loads((out / "manifest.json").read_text())["files"])
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert listed == on_disk and manifest.verify(out) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no build leftovers
    par = subprocess.run([sys.executable, "-m", "export.parity", str(out), "--num-clips", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert par.returncode == 0, par.stderr[-2000:]
    assert "ort:model.onnx" in par.stdout and "tflite" not in par.stdout
