"""The deployment-profile harness, tested with ONNX Runtime (runtime-agnostic)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from export.deploy_profile import parse_tegrastats, profile_file
from export.plot import latency_plot

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dyn_onnx(tmp_path_factory):
    from export.onnx_jax2onnx import export_jax2onnx
    from jaxar.deploy import DeployModel
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config
    cfg = create_config("x3d_ugt_tiny").small()
    dm = DeployModel.from_variables(cfg, realistic_variables(cfg))
    path = tmp_path_factory.mktemp("prof") / "dyn.onnx"
    export_jax2onnx(dm.as_function(), (None, cfg.frames, 3, cfg.size, cfg.size), path)
    return path


def test_profile_with_onnxruntime(dyn_onnx, tmp_path):
    res = profile_file(dyn_onnx, batches=(1, 3), runs=5, warmup=1, threads=1)
    assert [b["batch"] for b in res["batches"]] == [1, 3]
    for b in res["batches"]:
        assert 0 < b["min_ms"] <= b["p50_ms"] <= b["p90_ms"] <= b["p99_ms"]
        assert b["throughput_clips_per_s"] > 0
    assert res["file_size_mb"] > 0 and res["peak_rss_mb"] > 10
    assert "tegrastats" in res            # "not available" here; power/RAM on a Jetson
    png = latency_plot([res], tmp_path / "lat.png")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_cli_json_plot_and_missing_file(dyn_onnx, tmp_path):
    out = tmp_path / "p.json"
    proc = subprocess.run([sys.executable, "-m", "export.deploy_profile", str(dyn_onnx), "--batch", "2",
                           "--runs", "3", "--json", str(out), "--plot", str(tmp_path / "p.png")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["batches"][0]["batch"] == 2 and (tmp_path / "p.png").is_file()
    bad = subprocess.run([sys.executable, "-m", "export.deploy_profile", str(tmp_path / "missing.onnx")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "missing.onnx" in bad.stderr


def test_parse_tegrastats_power_and_ram():
    lines = ["RAM 3153/7620MB (lfb 2x4MB) CPU [12%@1510] GR3D_FREQ 60% VDD_IN 16950mW/16950mW VDD_CPU_GPU_CV 7000mW/7000mW",
             "RAM 3160/7620MB (lfb 2x4MB) CPU [15%@1510] GR3D_FREQ 70% VDD_IN 17050mW/17000mW"]
    s = parse_tegrastats(lines)
    assert s["power_avg_w"] == pytest.approx(17.0) and s["tegrastats_ram_peak_mb"] == 3160
    assert parse_tegrastats(["garbage"]) == {}


class SumRunner:
    """A runner (see export.runtimes) with a static batch of 1 that sums each clip."""
    name, input_shape, path = "numpy-sum", (1, 2, 3, 4, 4), None

    def __call__(self, x):
        return x.reshape(len(x), -1).sum(-1, keepdims=True)


def test_static_batch_runner_skips_other_batches():
    from export.deploy_profile import profile_runner
    runner = SumRunner()
    res = profile_runner(runner, batches=(1, 4), runs=3, warmup=0)
    assert res["batches"][0]["p50_ms"] >= 0
    assert res["batches"][1] == {"batch": 4, "skipped": "static batch 1 model"}
