"""The exported bundle's runtime in a fresh virtual environment (numpy,
OpenCV, ONNX Runtime only) gives the rows of ``jaxar.predict --checkpoint``."""
import json
import re
import subprocess
import venv
from pathlib import Path

import pytest

from tests.predict_fixtures import make_bundle, make_checkpoint, write_video

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_DEPS = ("numpy", "opencv-python-headless", "onnxruntime")


def _pins() -> list[str]:
    text = (ROOT / "requirements.txt").read_text()
    pins = []
    for name in RUNTIME_DEPS:
        m = re.search(rf"^{re.escape(name)}==(\S+)$", text, re.M | re.I)
        assert m, f"{name} is not pinned in requirements.txt"
        pins.append(f"{name}=={m.group(1)}")
    return pins


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    d = tmp_path_factory.mktemp("bundle")
    work = make_checkpoint(d / "work")
    bundle = make_bundle(work, d / "export")
    video = write_video(d / "clip.avi", 21, width=80, height=60, fps=8.0, seed=5)
    return d, work, bundle, video


@pytest.mark.slow
def test_export_writes_runtime_and_metadata(artifacts):
    _, _, bundle, _ = artifacts
    assert (bundle / "runtime" / "run.py").is_file() and (bundle / "runtime" / "app.py").is_file()
    meta = json.loads((bundle / "metadata.json").read_text())
    assert meta["window_seconds"] == 1.0 and "training clip duration" in meta["window_source"]
    assert (meta["frames"], meta["size"]) == (4, 32)


@pytest.mark.slow
def test_fresh_venv_runtime_rows_equal_jax_checkpoint_rows(artifacts, tmp_path):
    d, work, bundle, video = artifacts
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *_pins()],
                       capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        pytest.skip(f"cannot install {', '.join(_pins())} from the package index here: "
                    f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    probe = subprocess.run([str(py), "-c", "import jax"], capture_output=True)
    assert probe.returncode != 0, "the fresh environment must not contain JAX"
    out_rt = tmp_path / "runtime.jsonl"
    r = subprocess.run([str(py), str(bundle / "runtime" / "run.py"), str(video), "--out", str(out_rt), "--topk", "5"],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out_jax = tmp_path / "jax.jsonl"
    from jaxar import predict
    assert predict.main([str(video), "--checkpoint", str(work), "--out", str(out_jax), "--topk", "5", "--quiet"]) == 0
    a = [json.loads(x) for x in out_rt.read_text().splitlines()]
    b = [json.loads(x) for x in out_jax.read_text().splitlines()]
    assert len(a) == len(b) == 6          # 21 frames at 8 fps: 4 grid windows + the tail window + summary
    for ra, rb in zip(a[:-1], b[:-1]):
        assert (ra["window"], ra["start_s"], ra["end_s"], ra["frames"]) == \
               (rb["window"], rb["start_s"], rb["end_s"], rb["frames"])
        assert ra["top"][0]["index"] == rb["top"][0]["index"]
        pa = {t["index"]: t["prob"] for t in ra["top"]}
        pb = {t["index"]: t["prob"] for t in rb["top"]}
        assert pa.keys() == pb.keys() and max(abs(pa[k] - pb[k]) for k in pa) <= 1e-4
    assert a[-1]["label"] == b[-1]["label"] and abs(a[-1]["mean_prob"] - b[-1]["mean_prob"]) <= 1e-4
