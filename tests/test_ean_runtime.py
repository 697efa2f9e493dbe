"""EAN models exported to a bundle run through ``runtime/run.py`` on a
generated video: RGB+LMC (small(): 4 segments x 5 adjacent frames) and RGB
(4 segments x 1 frame), both at 32^2. The runtime, ``jaxar.predict --bundle``
and ``jaxar.predict --checkpoint`` (JAX) pick the same frames (segment runs,
segment-major) and agree on the probabilities; the bundle records the
model's sampling. Marked slow like tests/test_predict_bundle.py (an export
per variant: about 40 s of CPU each)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from jaxar.runtime import sampling
from jaxar.runtime.segments import SegmentSpec
from tests.predict_fixtures import save_checkpoint, write_video

LABELS = ["a", "b", "c", "d", "e"]
WINDOW_S = 3.0


def _checkpoint(workdir, cfg, variables):
    return save_checkpoint(workdir, cfg, variables, step=3, labels=LABELS,
                           train_config={"data": {"source": "synthetic"}},
                           clip_seconds=WINDOW_S, clip_source="test fixture")


@pytest.fixture(scope="module", params=["ean_r50_lmc", "ean_r50"])
def artifacts(tmp_path_factory, request):
    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_checkpoint
    from jaxar.registry import create_config
    from tests.ean_fixtures import perturbed_variables
    d = tmp_path_factory.mktemp("ean_bundle")
    cfg = create_config(request.param).small(size=32, lmc_patch=16)   # 4 segments x L frames, 32^2, 5 classes
    run = 5 if request.param == "ean_r50_lmc" else 1
    assert cfg.clip_sampling == SegmentSpec(4, run)
    work = _checkpoint(d / "work", cfg, perturbed_variables(cfg, seed=2))
    bundle = d / "export"
    export(from_checkpoint(work), bundle, ExportOptions(routes=("jax2onnx",), savedmodel=False, num_clips=1,
                                                        xla_clips=1, profile=False, tensorrt=False,
                                                        simplify=False, overwrite=True),
           log=lambda m: None)
    video = write_video(d / "clip.avi", 45, width=96, height=72, fps=8.0, seed=4)
    return d, work, bundle, video, SegmentSpec(4, run)


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


@pytest.mark.slow
def test_bundle_records_the_sampling(artifacts):
    from jaxar.model_record import read_record
    _, _, bundle, _, spec = artifacts
    want = spec.to_json()
    assert json.loads((bundle / "preprocessing.json").read_text())["sampling"] == want
    assert json.loads((bundle / "record.json").read_text())["sampling"] == want
    assert json.loads((bundle / "metadata.json").read_text())["sampling"] == want
    assert read_record(bundle).config.clip_sampling == spec


@pytest.mark.slow
@pytest.mark.parametrize("whole", [False, True])
def test_runtime_predict_bundle_and_jax_pick_the_same_runs(artifacts, tmp_path, whole):
    from jaxar import predict
    _, work, bundle, video, spec = artifacts
    extra = ["--whole-video"] if whole else []
    out_rt = tmp_path / "rt.jsonl"
    r = subprocess.run([sys.executable, str(bundle / "runtime" / "run.py"), str(video), "--out", str(out_rt),
                        "--quiet", *extra], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out_b, out_j = tmp_path / "b.jsonl", tmp_path / "j.jsonl"
    assert predict.main([str(video), "--bundle", str(bundle), "--out", str(out_b), "--quiet", *extra]) == 0
    assert predict.main([str(video), "--checkpoint", str(work), "--out", str(out_j), "--quiet", *extra]) == 0
    rt, b, j = _rows(out_rt), _rows(out_b), _rows(out_j)
    plan = [sampling.Window(0, 0, 45, np.arange(0), 8.0)] if whole else \
        sampling.plan_windows(45, 8.0, spec, WINDOW_S, WINDOW_S / 2)
    assert len(rt) == len(b) == len(j) == len(plan) + 1
    for k, w in enumerate(plan):
        want = w.first + sampling.window_indices(w.stop - w.first, spec)
        for rows in (rt, b, j):
            assert rows[k]["frames"] == want.tolist()
            assert rows[k].get("segment_frames", 1) == spec.segment_frames
            assert (rows[k]["start_s"], rows[k]["end_s"]) == (w.first / 8.0, w.stop / 8.0)
        assert rt[k]["top"] == b[k]["top"]                                   # same runtime, same bytes
        pr = {t["index"]: t["prob"] for t in rt[k]["top"]}
        pj = {t["index"]: t["prob"] for t in j[k]["top"]}
        assert pr.keys() == pj.keys() and max(abs(pr[i] - pj[i]) for i in pr) <= 1e-4
        assert rt[k]["top"][0]["index"] == j[k]["top"][0]["index"]
    assert max(t["prob"] for t in rt[0]["top"]) > 0.3                       # not a flat output
    assert rt[-1]["summary"] and rt[-1]["label"] == j[-1]["label"]
    assert rt[-1].get("whole_video", False) is whole


@pytest.mark.slow
def test_whole_video_argument_errors(artifacts):
    from jaxar import predict
    _, _, bundle, video, _ = artifacts
    assert predict.main([str(video), "--bundle", str(bundle), "--whole-video", "--window", "2"]) == 2
    assert predict.main(["--camera", "0", "--bundle", str(bundle), "--whole-video"]) == 2
