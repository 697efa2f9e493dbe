"""Prediction with a compressed-domain model (CD-KD student, issue 19 item 6):
``jaxar.predict --checkpoint`` and the export bundle's ``runtime/run.py`` on an
MPEG-4 Part 2 file encoded here, the bundle's three-input contract, the
missing-PyAV error (import failure simulated in a subprocess), bad files, and
the TensorRT multi-input profile around the build (no TensorRT here).
Tiny: the small() edge student at 4 x 32^2, 5 classes, a 21-frame 48x40 video."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV (av==18.1.0, requirements.txt) reads compressed video")

from export.preprocess import synthetic_clips  # noqa: E402
from jaxar.runtime import compressed_clip as cc  # noqa: E402
from jaxar.runtime import compressed_video as cv  # noqa: E402
from tests.predict_fixtures import save_checkpoint  # noqa: E402

LABELS = ["a", "b", "c", "d", "e"]
FRAMES, SIZE, GOP = 4, 32, 6
ROOT = Path(__file__).resolve().parents[1]


def _encode(path: Path, n: int = 21, seed: int = 4) -> Path:
    frames = synthetic_clips(1, n, 48, seed=seed)[0][:, 4:44]          # 40 x 48 (H x W)
    path.write_bytes(cv.encode_mpeg4(np.ascontiguousarray(frames), gop=GOP, qscale=3, fps=8.0))
    return path


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_checkpoint
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config
    d = tmp_path_factory.mktemp("cdkd_predict")
    cfg = create_config("cdkd_mobilenetv2", num_classes=len(LABELS)).small(frames=FRAMES, size=SIZE,
                                                                          num_classes=len(LABELS))
    variables = realistic_variables(cfg, seed=3)
    save_checkpoint(d / "work", cfg, variables, step=5, labels=LABELS,
                    train_config={"data": {"source": "compressed_synthetic", "compressed_gop": GOP}},
                    clip_seconds=1.0, clip_source="test fixture: 8 frames at 8 fps")
    result = export(from_checkpoint(d / "work"), d / "export",
                    ExportOptions(routes=("jax2onnx",), savedmodel=False, num_clips=3, profile=False,
                                  simplify=False), log=lambda m: None)
    video = _encode(d / "clip.mp4")
    jax_rows = d / "jax.jsonl"
    from jaxar import predict
    assert predict.main([str(video), "--checkpoint", str(d / "work"), "--out", str(jax_rows), "--quiet"]) == 0
    return {"dir": d, "cfg": cfg, "variables": variables, "bundle": d / "export", "video": video,
            "result": result, "jax_rows": [json.loads(x) for x in jax_rows.read_text().splitlines()]}


def test_checkpoint_predict_rows_are_the_model_on_the_reader_clips(art):
    """Every window row's probabilities are the student's softmax on the clip the
    reader gives for that window's frames (the same windows as an RGB model)."""
    import jax
    from jaxar.runtime.sampling import plan_windows
    rows = art["jax_rows"]
    windows = plan_windows(21, 8.0, FRAMES, 1.0, 0.5)
    assert len(rows) == len(windows) + 1 == 6          # 4 grid windows + the tail window + summary
    spec = cc.CompressedInput(frames=FRAMES, size=SIZE, gop=GOP)
    model = art["cfg"].build()
    clips = [cc.read_clip(str(art["video"]), spec, indices=w.frames) for w in windows]
    x = {k: np.stack([c[k] for c in clips]) for k in ("iframe", "mv", "residual")}
    from jaxar.initialization import fast_compile_options
    fn = jax.jit(lambda v, x: jax.nn.softmax(model.apply(v, x)), compiler_options=fast_compile_options())
    probs = np.asarray(fn(art["variables"], x))                       # all windows in one call
    for row, w, p in zip(rows, windows, probs):
        assert row["frames"] == w.frames.tolist() and row["start_s"] == round(w.start_s, 4)
        assert row["top"][0]["index"] == int(np.argmax(p))
        for t in row["top"]:
            assert abs(t["prob"] - p[t["index"]]) <= 1e-5
    s = rows[-1]
    assert s["summary"] and s["input_domain"] == "compressed" and s["windows"] == 5
    assert s["frames_read"] == 21 and s["label"] in LABELS


def test_bundle_records_the_three_input_contract(art):
    b = art["bundle"]
    assert art["result"]["parity"]["passed"] and art["result"]["input_domain"] == "compressed"
    prep = json.loads((b / "preprocessing.json").read_text())
    assert prep["input_domain"] == "compressed" and prep["input_names"] == ["iframe", "mv", "residual"]
    assert prep["input_shapes"]["mv"] == [1, FRAMES, 2, SIZE, SIZE]
    assert prep["compressed"]["gop"] == GOP and prep["compressed"]["accumulate"] is True
    rec = json.loads((b / "record.json").read_text())
    assert rec["input"] == {"domain": "compressed", "layout": "NTCHW", "inputs": {
        "iframe": ["N", FRAMES, 3, SIZE, SIZE], "mv": ["N", FRAMES, 2, SIZE, SIZE],
        "residual": ["N", FRAMES, 3, SIZE, SIZE]}}
    man = json.loads((b / "manifest.json").read_text())
    assert man["input"]["names"] == ["iframe", "mv", "residual"] and "savedmodel" in man["skipped"]
    import onnx
    assert [i.name for i in onnx.load(str(b / "model.onnx")).graph.input] == ["iframe", "mv", "residual"]
    assert (b / "runtime" / "compressed_predict.py").is_file() and (b / "runtime" / "compressed_video.py").is_file()
    from export.tensorrt_engine import tensorrt_status
    trt = art["result"]["tensorrt"]
    if tensorrt_status():               # no TensorRT / GPU here: the engine is built on the device
        assert not trt["built"] and trt["missing"] and (b / "build_engine.sh").is_file()
        assert "--onnx=model.onnx --saveEngine=model_fp16.plan" in (b / "build_engine.sh").read_text()
    else:
        assert trt["built"] and (b / "model_fp16.plan").is_file()


def test_bundle_runtime_gives_the_checkpoint_rows(art, tmp_path):
    out = tmp_path / "rt.jsonl"
    # run.py as a script in a fresh interpreter, which must not load JAX or jaxar on the way
    code = ("import runpy, sys\n"
            f"sys.argv = ['run.py', {str(art['video'])!r}, '--out', {str(out)!r}]\n"
            "rc = 0\n"
            "try:\n"
            f"    runpy.run_path({str(art['bundle'] / 'runtime' / 'run.py')!r}, run_name='__main__')\n"
            "except SystemExit as e:\n"
            "    rc = e.code\n"
            "loaded = sorted(m for m in ('jax', 'jaxar', 'flax', 'tensorflow') if m in sys.modules)\n"
            "print('loaded:', loaded, 'av' in sys.modules, file=sys.stderr)\n"
            "sys.exit(rc if not loaded else 3)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "loaded: [] True" in r.stderr               # PyAV read the file; no JAX, jaxar, TF
    assert "compressed-domain input" in r.stderr
    a = [json.loads(x) for x in out.read_text().splitlines()]
    b = art["jax_rows"]
    assert len(a) == len(b)
    for ra, rb in zip(a[:-1], b[:-1]):
        assert (ra["window"], ra["frames"], ra["start_s"], ra["end_s"]) == \
               (rb["window"], rb["frames"], rb["start_s"], rb["end_s"])
        assert ra["top"][0]["index"] == rb["top"][0]["index"]
        pa = {t["index"]: t["prob"] for t in ra["top"]}
        pb = {t["index"]: t["prob"] for t in rb["top"]}
        assert pa.keys() == pb.keys() and max(abs(pa[k] - pb[k]) for k in pa) <= 1e-4
    assert a[-1]["label"] == b[-1]["label"] and abs(a[-1]["mean_prob"] - b[-1]["mean_prob"]) <= 1e-4


def test_missing_pyav_is_one_clear_error(art, tmp_path):
    """The real error path: ``import av`` fails in the runtime's process."""
    code = ("import runpy, sys; sys.modules['av'] = None; "
            f"sys.argv = ['run.py', {str(art['video'])!r}, '--out', {str(tmp_path / 'o.jsonl')!r}]; "
            f"runpy.run_path({str(art['bundle'] / 'runtime' / 'run.py')!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "needs PyAV, an optional dependency of the runtime: pip install av==18.1.0" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o.jsonl").exists()


def _bundle_run(art, *args) -> tuple[int, str]:
    import contextlib
    import io
    from jaxar import predict
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = predict.main([*args, "--bundle", str(art["bundle"]), "--quiet"])
    return code, err.getvalue()


def _h264(path: Path) -> Path:
    frames = synthetic_clips(1, 12, 48, seed=1)[0]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=8)
        s.width = s.height = 48
        s.pix_fmt = "yuv420p"
        s.codec_context.options = {"bf": "2", "preset": "ultrafast"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_bad_files_unsupported_codecs_and_reencode(art, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    code, err = _bundle_run(art, str(text), "--out", str(tmp_path / "t.jsonl"))
    assert code == 2 and "notes.mp4: cannot parse the container" in err
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(art["video"].read_bytes()[:900])
    code, err = _bundle_run(art, str(cut), "--out", str(tmp_path / "c.jsonl"))
    assert code == 2 and "cut.mp4" in err and not (tmp_path / "c.jsonl").exists()
    h264 = _h264(tmp_path / "h264.mp4")
    code, err = _bundle_run(art, str(h264), "--out", str(tmp_path / "h.jsonl"))
    assert code == 2 and "codec 'h264'" in err and "re-encode" in err and "--reencode" in err
    out = tmp_path / "r.jsonl"
    code, err = _bundle_run(art, str(h264), "--reencode", "--out", str(out))
    assert code == 0, err
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[-1]["reencoded"].startswith("MPEG-4 Part 2, GOP 6") and rows[-1]["windows"] == len(rows) - 1
    # a batch: the bad file gets an error row, the good one its rows, exit 1
    out = tmp_path / "batch.jsonl"
    code, err = _bundle_run(art, str(text), str(art["video"]), "--out", str(out))
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert code == 1 and "cannot parse the container" in rows[0]["error"] and rows[-1]["windows"] == 5


def test_flags_a_compressed_model_cannot_honour(art, tmp_path):
    code, err = _bundle_run(art, "--camera", "0")
    assert code == 2 and "--camera: a compressed-domain model reads video files" in err
    boxes = tmp_path / "b.json"
    boxes.write_text("[]")
    code, err = _bundle_run(art, str(art["video"]), "--boxes", str(boxes))
    assert code == 2 and "--boxes: per-frame person crops are not supported" in err
    from tests.predict_fixtures import make_onnx_bundle, write_video
    rgb = make_onnx_bundle(tmp_path / "rgb")
    from jaxar import predict
    assert predict.main([str(write_video(tmp_path / "v.avi", 9)), "--bundle", str(rgb), "--reencode",
                         "--quiet"]) == 2


def test_streaming_windows_equal_one_read_per_window(art):
    """iter_windows (one decode, frames dropped when no window needs them)
    gives each window exactly read_clip's arrays."""
    from jaxar.runtime.sampling import plan_windows
    spec = cc.CompressedInput(frames=FRAMES, size=SIZE, gop=GOP, accumulate=False)
    windows = [w.frames for w in plan_windows(21, 8.0, FRAMES, 1.0, 0.5)][::-1]     # any order
    got = dict(cc.iter_windows(str(art["video"]), windows, spec))
    assert sorted(got) == list(range(len(windows)))
    for k, idx in enumerate(windows):
        ref = cc.read_clip(str(art["video"]), spec, indices=idx)
        for key in cc.KEYS:
            np.testing.assert_array_equal(got[k][key], ref[key])


def _dynamic_three_input_onnx(path: Path) -> Path:
    """A tiny real graph with the student's three dynamic-batch inputs."""
    import onnx
    from onnx import TensorProto, helper
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", FRAMES, c, SIZE, SIZE])
           for n, c in (("iframe", 3), ("mv", 2), ("residual", 3))]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 8])
    nodes = [helper.make_node("Concat", ["iframe", "mv", "residual"], ["cat"], axis=2),
             helper.make_node("Flatten", ["cat"], ["flat"], axis=1),
             helper.make_node("Slice", ["flat", "starts", "ends", "axes"], ["logits"])]
    inits = [helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in
             (("starts", 0), ("ends", 8), ("axes", 1))]
    model = helper.make_model(helper.make_graph(nodes, "three", ins, [out], inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_tensorrt_profile_per_input_and_clear_failure(art, tmp_path):
    from export.tensorrt_engine import (TensorRTUnavailable, build_engine, onnx_inputs, profile_shapes,
                                        tensorrt_status, trtexec_command)
    onnx_path = art["bundle"] / "model.onnx"
    inputs = onnx_inputs(onnx_path)
    assert inputs == {"iframe": [1, FRAMES, 3, SIZE, SIZE], "mv": [1, FRAMES, 2, SIZE, SIZE],
                      "residual": [1, FRAMES, 3, SIZE, SIZE]}
    assert profile_shapes(inputs, (1, 2, 4))["mv"] == ((1, FRAMES, 2, SIZE, SIZE),) * 3   # static batch
    dyn = {k: [None, *s[1:]] for k, s in inputs.items()}
    prof = profile_shapes(dyn, (1, 2, 4))
    assert prof["residual"] == ((1, 4, 3, 32, 32), (2, 4, 3, 32, 32), (4, 4, 3, 32, 32))
    with pytest.raises(ValueError, match="disagree on a dynamic batch"):
        profile_shapes({**dyn, "mv": inputs["mv"]}, (1, 2, 4))
    cmd = trtexec_command("m.onnx", "m.plan", "fp16", dynamic=True, batch=(1, 2, 4),
                          inputs={k: s[1:] for k, s in inputs.items()})
    assert "--minShapes=iframe:1x4x3x32x32,mv:1x4x2x32x32,residual:1x4x3x32x32" in cmd
    assert "--maxShapes=iframe:4x4x3x32x32,mv:4x4x2x32x32,residual:4x4x3x32x32" in cmd
    with pytest.raises(ValueError, match="INT8 calibration is implemented for one-input graphs"):
        build_engine(onnx_path, tmp_path / "m.plan", "int8")
    from export.compressed_export import check_options
    from export.options import ExportOptions
    with pytest.raises(ValueError, match="--precision int8"):
        check_options(ExportOptions(precision="int8", calib_clips="x.npy"))
    if not tensorrt_status():
        pytest.skip("TensorRT and a GPU exist here: the engine build is exercised by test_export_tensorrt")
    # here: no TensorRT / GPU; the clear error names what is missing and the multi-input trtexec line
    with pytest.raises(TensorRTUnavailable, match="missing") as e:
        build_engine(onnx_path, tmp_path / "m.plan", "fp16")
    assert e.value.missing and "iframe:" not in e.value.trtexec      # static batch: no shape flags
    assert e.value.trtexec.startswith("/usr/src/tensorrt/bin/trtexec --onnx=model.onnx")
    dyn_path = _dynamic_three_input_onnx(tmp_path / "dyn.onnx")
    with pytest.raises(TensorRTUnavailable) as e:
        build_engine(dyn_path, tmp_path / "dyn.plan", "fp16", batch=(1, 2, 4))
    assert "--optShapes=iframe:2x4x3x32x32,mv:2x4x2x32x32,residual:2x4x3x32x32" in e.value.trtexec


def test_parity_rerun_from_the_bundle_alone(art, tmp_path):
    import shutil
    from export.parity import rerun_parity
    b = tmp_path / "copy"
    shutil.copytree(art["bundle"], b)
    report = rerun_parity(b, num_clips=2, log=lambda m: None)
    assert report["passed"] and "MPEG-4 Part 2" in report["inputs"]
    assert set(report["runtimes"]) == {"jax-deploy-form", "ort:model.jax2onnx.onnx", "ort:model.onnx"}
    with pytest.raises(ValueError, match="--clips holds RGB clips"):
        rerun_parity(b, clips="x.npy", log=lambda m: None)


def test_record_input_signature_of_an_rgb_model():
    from jaxar.model_record import input_signature
    from jaxar.registry import create_config
    cfg = create_config("x3d_ugt_tiny", num_classes=3).replace(frames=4, size=32)
    assert input_signature(cfg) == {"domain": "rgb", "layout": "NTCHW", "inputs": {"clip": ["N", 4, 3, 32, 32]}}


def test_checkpoint_without_pyav_and_timeline_render_outputs(art, tmp_path, monkeypatch, capsys):
    from jaxar import predict
    code, err = _bundle_run(art, str(art["video"]), "--timeline", str(tmp_path / "t.png"),
                            "--render", str(tmp_path / "r.mp4"), "--out", str(tmp_path / "o.jsonl"))
    assert code == 0, err
    assert (tmp_path / "t.png").stat().st_size > 1000 and (tmp_path / "r.mp4").stat().st_size > 1000
    monkeypatch.setitem(sys.modules, "av", None)          # `import av` now fails in this process
    assert predict.main([str(art["video"]), "--checkpoint", str(art["dir"] / "work"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error: --checkpoint" in err and "needs PyAV, an optional dependency of the runtime" in err
