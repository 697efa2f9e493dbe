"""The bundle runner (runtime/run.py) end to end on real videos and a real
ONNX Runtime model: rows, summaries, timeline, render, bad input."""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.predict_fixtures import LABELS, make_onnx_bundle, write_video

RUN = Path(__file__).resolve().parents[1] / "jaxar" / "runtime" / "run.py"


def run(*args, cwd=None, timeout=120):
    r = subprocess.run([sys.executable, str(RUN), *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict")
    bundle = make_onnx_bundle(d / "bundle")
    write_video(d / "long.avi", 30, fps=8.0)
    write_video(d / "short.avi", 3, fps=8.0, seed=1)
    return d, bundle


def rows(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_rows_and_summary_for_a_directory_of_videos(env):
    d, bundle = env
    vids = d / "vids"
    vids.mkdir()
    shutil.copy(d / "long.avi", vids / "a.avi")
    shutil.copy(d / "short.avi", vids / "b.avi")
    (vids / "notes.txt").write_text("not a video")
    out = d / "out.jsonl"
    code, _, err = run(vids, "--bundle", bundle, "--out", out, "--topk", "3")
    assert code == 0, err
    rs = rows(out)
    a = [r for r in rs if r["video"].endswith("a.avi")]
    b = [r for r in rs if r["video"].endswith("b.avi")]
    assert [r["window"] for r in a[:-1]] == list(range(7))                 # 30 frames, 1 s window, 0.5 s stride
    assert a[0]["start_s"] == 0.0 and a[0]["end_s"] == 1.0 and a[0]["frames"] == [1, 3, 5, 7]
    assert a[-2]["start_s"] == 2.75 and a[-2]["end_s"] == 3.75             # tail window ends with the video
    for r in a[:-1] + b[:-1]:
        probs = [t["prob"] for t in r["top"]]
        assert len(r["top"]) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-5
        assert {t["label"] for t in r["top"]} <= set(LABELS)
        assert all(LABELS[t["index"]] == t["label"] for t in r["top"])
    summary = a[-1]
    assert summary["summary"] and summary["windows"] == 7 and summary["frames_read"] == 30
    assert summary["label"] in LABELS and 0 < summary["mean_prob"] <= 1
    assert b[0]["short"] and b[0]["frames"] == [0, 1, 1, 2] and "shorter than one window" in b[0]["note"]
    assert "1 of 4 sampled frames are repeats" in b[0]["note"]
    assert b[-1]["windows"] == 1 and not list(d.glob(".out.jsonl.*"))      # the temporary file was renamed


def test_summary_is_the_highest_mean_probability(env):
    d, bundle = env
    code, out, err = run(d / "long.avi", "--bundle", bundle, "--topk", "5", "--quiet")
    assert code == 0, err
    rs = [json.loads(x) for x in out.splitlines()]
    probs = np.zeros((len(rs) - 1, len(LABELS)))
    for i, r in enumerate(rs[:-1]):
        for t in r["top"]:
            probs[i, t["index"]] = t["prob"]
    mean = probs.mean(0)
    assert rs[-1]["index"] == int(np.argmax(mean)) and rs[-1]["mean_prob"] == pytest.approx(mean.max(), abs=1e-5)


def test_timeline_png_and_render_mp4_are_valid(env):
    d, bundle = env
    code, _, err = run(d / "long.avi", "--bundle", bundle, "--out", d / "t.jsonl",
                       "--timeline", d / "t.png", "--render", d / "r.mp4")
    assert code == 0, err
    img = cv2.imread(str(d / "t.png"))
    assert img is not None and img.shape[0] > 200 and len(np.unique(img.reshape(-1, 3), axis=0)) > 4
    cap = cv2.VideoCapture(str(d / "r.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 30 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 64


def test_boxes_file_and_crop_modes_change_the_input(env):
    d, bundle = env
    boxes = d / "boxes.csv"
    boxes.write_text("frame,x0,y0,x1,y1\n" + "".join(f"{t},2,2,20,20\n" for t in range(30)))
    results = {}
    for name, extra in (("center", []), ("full", ["--crop", "full"]), ("boxes", ["--boxes", boxes])):
        code, out, err = run(d / "long.avi", "--bundle", bundle, "--quiet", *extra)
        assert code == 0, err
        rs = [json.loads(x) for x in out.splitlines()]
        assert rs[-1]["crop"] == name
        results[name] = rs[0]["top"][0]["prob"]
    assert len(set(results.values())) == 3


def test_truncated_video_is_processed_with_a_warning(env, tmp_path):
    d, bundle = env
    src = write_video(tmp_path / "full.avi", 40, fps=8.0)
    data = src.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:int(len(data) * 0.6)])
    code, out, err = run(cut, "--bundle", bundle)
    assert code == 0, err
    rs = [json.loads(x) for x in out.splitlines()]
    n = rs[-1]["frames_read"]
    assert rs[-1]["truncated"] and 0 < n < 40
    assert f"read {n} of the 40 frames" in err and "Traceback" not in err


def _no_frames_video(path: Path) -> Path:
    """An AVI container with a video stream and no frame in it."""
    cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 8.0, (64, 48)).release()
    return path


def _corrupt_video(path: Path) -> Path:
    data = write_video(path.with_name("tmp_full.avi"), 20).read_bytes()
    path.write_bytes(data[:data.find(b"00dc") + 200])      # header + part of the first frame
    return path


BAD = {
    "missing video": (lambda d, b: [d / "nope.mp4", "--bundle", b], "nope.mp4: video file not found"),
    "unreadable video": (lambda d, b: [d / "text.avi", "--bundle", b], "text.avi: OpenCV cannot open"),
    "no decodable frames": (lambda d, b: [_no_frames_video(d / "empty.avi"), "--bundle", b],
                            "empty.avi: no decodable frame"),
    "corrupt video": (lambda d, b: [_corrupt_video(d / "corrupt.avi"), "--bundle", b],
                      "corrupt.avi: OpenCV cannot open this video"),
    "camera": (lambda d, b: ["--camera", "97", "--bundle", b], "camera 97: cannot be opened"),
    "url": (lambda d, b: ["--url", "rtsp://127.0.0.1:9/none", "--timeout", "2", "--bundle", b],
            "rtsp://127.0.0.1:9/none: cannot open the stream within 2 s"),
    "no labels": (lambda d, b: [d / "long.avi", "--bundle", d / "nolabels"], "labels.json: missing"),
    "no preprocessing": (lambda d, b: [d / "long.avi", "--bundle", d / "noprep"], "preprocessing.json: missing"),
    "boxes count": (lambda d, b: [d / "long.avi", "--bundle", b, "--boxes", d / "few.json"],
                    "few.json: boxes for 3 frames, but the video has 30 frames"),
    "window": (lambda d, b: [d / "long.avi", "--bundle", b, "--window", "0"], "--window 0: must be > 0"),
    "stride": (lambda d, b: [d / "long.avi", "--bundle", b, "--stride", "-1"], "--stride -1: must be > 0"),
    "no input": (lambda d, b: ["--bundle", b], "no input"),
    "no window known": (lambda d, b: [d / "long.avi", "--bundle", d / "nowindow"], "pass --window"),
    "tensorrt without engine": (lambda d, b: [d / "long.avi", "--bundle", b, "--backend", "tensorrt"],
                                "no TensorRT engine (model_*.plan)"),
    "tensorrt not importable": (lambda d, b: [d / "long.avi", "--bundle", d / "withplan", "--backend", "tensorrt"],
                                "TensorRT is not installed here"),
    "bad skeleton": (lambda d, b: [d / "long.avi", "--bundle", b, "--skeleton", d / "text.avi"], "--skeleton"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2(env, case):
    d, bundle = env
    if not (d / "nolabels").exists():
        (d / "text.avi").write_text("this is not a video\n")
        (d / "few.json").write_text("[null, null, null]")
        for name, drop in (("nolabels", "labels.json"), ("noprep", "preprocessing.json")):
            shutil.copytree(bundle, d / name)
            (d / name / drop).unlink()
        make_onnx_bundle(d / "nowindow", window_s=None)
        shutil.copytree(bundle, d / "withplan")
        (d / "withplan" / "model_fp16.plan").write_bytes(b"not an engine")
    if case == "tensorrt not importable" and importlib.util.find_spec("tensorrt"):
        pytest.skip("TensorRT is installed here; this case checks the message where it is not")
    args, message = BAD[case]
    code, out, err = run(*args(d, bundle))
    lines = err.strip().splitlines()
    assert code == 2, err
    assert lines[-1].startswith("runtime/run.py: error: ") and message in lines[-1], err
    assert "Traceback" not in err and len([x for x in lines if "error" in x]) == 1


@pytest.mark.parametrize("args,message", [
    (["--checkpoint", "{d}/nope"], "--checkpoint {d}/nope: does not exist"),
    (["--checkpoint", "{d}", "--bundle", "{b}"], "exactly one of --checkpoint"),
    (["--bundle", "{b}", "--backend", "jax"], "--backend jax needs --checkpoint"),
    (["--checkpoint", "{d}", "--backend", "onnxruntime"], "a checkpoint runs with JAX"),
])
def test_jaxar_predict_model_arguments(env, args, message):
    d, bundle = env
    fmt = [a.format(d=d, b=bundle) for a in args]
    r = subprocess.run([sys.executable, "-m", "jaxar.predict", str(d / "long.avi"), *fmt],
                       capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and last.startswith("python -m jaxar.predict: error: "), r.stderr
    assert message.format(d=d) in last and "Traceback" not in r.stderr


def test_jaxar_predict_bundle_rows_equal_the_bundle_runner(env):
    d, bundle = env
    r = subprocess.run([sys.executable, "-m", "jaxar.predict", str(d / "long.avi"), "--bundle", str(bundle),
                        "--quiet"], capture_output=True, text=True, timeout=300,
                       cwd=Path(__file__).resolve().parents[1])
    code, out, err = run(d / "long.avi", "--bundle", bundle, "--quiet")
    assert r.returncode == code == 0, r.stderr + err
    assert r.stdout == out and len(out.splitlines()) == 8


def test_demo_video_has_the_clips_and_their_labels(tmp_path):
    from data_pipelines import synthetic
    from jaxar.demo_video import write_demo_video
    truth = write_demo_video(tmp_path / "demo.avi", clips=3)
    assert [t["start_s"] for t in truth] == [0.0, 1.0, 2.0] and truth[-1]["end_s"] == 3.0
    assert len({t["label"] for t in truth}) == 3 and {t["label"] for t in truth} <= set(synthetic.CLASS_NAMES)
    assert json.loads((tmp_path / "demo.labels.json").read_text()) == truth
    cap = cv2.VideoCapture(str(tmp_path / "demo.avi"))
    assert cap.get(cv2.CAP_PROP_FPS) == 8.0 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 128
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 24
