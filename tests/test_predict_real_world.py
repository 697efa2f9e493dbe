"""The application (``runtime/run.py``, the same code as ``jaxar.predict
--bundle``) on the real-world files of issue 21: a batch with bad files,
damaged H.264, files without a frame rate, variable frame rate, output
mistakes, an unsupported codec, aborted runs, URLs, and the smaller items
(GIF in directories, --recursive, distinct output names, the timeline)."""
import functools
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.predict_fixtures import make_onnx_bundle, write_video
from tests.video_files import (dropped_frames_pts, encode, encode_isolated, h264_with_bad_frames,
                               zero_avi_rates)

pytest.importorskip("av", reason="PyAV (pinned in requirements.txt) writes the H.264/VP9/AV1 test files")

RUN = Path(__file__).resolve().parents[1] / "jaxar" / "runtime" / "run.py"
PROG = "runtime/run.py: error: "


def run(*args, timeout=120):
    r = subprocess.run([sys.executable, str(RUN), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def rows(text_or_path):
    text = Path(text_or_path).read_text() if isinstance(text_or_path, Path) else text_or_path
    return [json.loads(x) for x in text.splitlines()]


def one_line_error(code, err, *needles):
    """Exit 2, the last line ``error: ...`` with ``needles``, the only line
    mentioning an error, no traceback, no FFmpeg log line (``[codec @ 0x...]``)."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert lines[-1].startswith(PROG) and len([x for x in lines if "error" in x]) == 1, err
    assert "Traceback" not in err and " @ 0x" not in err, err
    for n in needles:
        assert n in lines[-1], err
    return lines[-1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("realworld")
    bundle = make_onnx_bundle(d / "bundle")
    write_video(d / "long.avi", 30, fps=8.0)
    encode(d / "h264.mp4", n=40, fps=16, options={"bf": "2"})
    return d, bundle


# 1. one bad file does not stop a batch ---------------------------------------------------------

def test_batch_goes_past_bad_files_with_error_rows_and_a_count(env, tmp_path):
    d, bundle = env
    vids = tmp_path / "vids"
    vids.mkdir()
    (vids / "a_good.mp4").write_bytes((d / "h264.mp4").read_bytes())
    (vids / "b_zero.mp4").write_bytes(b"")
    encode(vids / "c_vp9.webm", codec="libvpx-vp9", n=24, fps=16)
    (vids / "d_text.mp4").write_text("this is not a video\n")
    out = tmp_path / "x.jsonl"
    code, _, err = run(vids, "--bundle", bundle, "--out", out)
    assert code == 1, err
    rs = rows(out)
    summaries = {Path(r["video"]).name: r for r in rs if r.get("summary")}
    errors = {Path(r["video"]).name: r["error"] for r in rs if "error" in r}
    assert set(summaries) == {"a_good.mp4", "c_vp9.webm"}
    assert summaries["a_good.mp4"]["frames_read"] == 40 and summaries["c_vp9.webm"]["frames_read"] == 24
    assert set(errors) == {"b_zero.mp4", "d_text.mp4"} and all("b_zero.mp4" in errors["b_zero.mp4"] for _ in [0])
    assert "OpenCV cannot open" in errors["d_text.mp4"]
    assert err.count("warning: ") >= 2 and "b_zero.mp4" in err and "d_text.mp4" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: 2 of 4 videos could not be processed"), err
    assert "Traceback" not in err


# 2. a frame that fails to decode is not the end --------------------------------------------------

def test_undecodable_frames_are_skipped_and_counted(env, tmp_path):
    d, bundle = env
    bad = h264_with_bad_frames(tmp_path, bad=(3, 7, 12))
    code, out, err = run(bad, "--bundle", bundle, "--render", tmp_path / "r.avi")
    assert code == 0, err
    cap = cv2.VideoCapture(str(tmp_path / "r.avi"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 48                                        # the rendered video keeps the whole time line
    rs = rows(out)
    s = rs[-1]
    assert s["frames_read"] == 45 and s["bad_frames"] == 3 and not s["truncated"], s
    assert "3 frame(s) could not be decoded (first: frame 3)" in err
    assert s["windows"] == 3                              # 48 frames at 24 fps: 0-1 s, 0.5-1.5 s, 1-2 s
    used = {f for r in rs[:-1] for f in r["frames"]}
    assert not used & {3, 7, 12}                          # the frame before stands in for a bad one


def test_frame_source_gives_bad_frames_their_slots(tmp_path):
    from jaxar.runtime import video  # noqa: F401  (FFmpeg quiet)
    from jaxar.runtime.frames import FrameSource
    bad = h264_with_bad_frames(tmp_path, bad=(3, 7, 12))
    cap = cv2.VideoCapture(str(bad))
    src = FrameSource(cap, 24.0, 48)
    got = [(slot, pos) for slot, pos, _ in src.read(lambda s, p: False)]
    cap.release()
    assert [s for s, _ in got] == [i for i in range(48) if i not in (3, 7, 12)]
    assert all(p == s for s, p in got) and src.bad_slots == [3, 7, 12] and not src.variable


# 3. a missing frame rate is not silently 25 fps ----------------------------------------------------

def test_a_file_without_a_frame_rate_asks_for_fps(env, tmp_path):
    d, bundle = env
    norate = zero_avi_rates(d / "long.avi", tmp_path / "norate.avi")
    assert cv2.VideoCapture(str(norate)).get(cv2.CAP_PROP_FPS) == 25.0      # what FFmpeg makes of it
    raw = encode(tmp_path / "raw.h264", fmt="h264", n=24, fps=8)
    for f in (norate, raw):
        code, _, err = run(f, "--bundle", bundle)
        one_line_error(code, err, f.name, "states no frame rate", "pass --fps")
    code, out, err = run(norate, "--bundle", bundle, "--fps", "8")
    assert code == 0, err
    rs = rows(out)
    assert rs[-1]["fps"] == 8.0 and rs[-1]["fps_source"] == "--fps" and rs[-1]["windows"] == 7
    assert (rs[0]["start_s"], rs[0]["end_s"], rs[-2]["end_s"]) == (0.0, 1.0, 3.75)


def test_fps_overrides_a_stated_rate_as_its_help_says(env):
    d, bundle = env
    r = subprocess.run([sys.executable, str(RUN), "--help"], capture_output=True, text=True)
    assert "overriding the rate and timestamps they state" in " ".join(r.stdout.split())
    code, out, err = run(d / "long.avi", "--bundle", bundle, "--fps", "16", "--quiet")
    assert code == 0, err
    rs = rows(out)
    assert rs[-1]["fps"] == 16.0 and rs[-2]["end_s"] == 30 / 16         # 30 frames at 16 fps: 1.875 s


def test_a_stated_rate_that_disagrees_with_the_timestamps_is_reported(env, tmp_path):
    d, bundle = env
    import fractions

    import av
    path = tmp_path / "disagree.mkv"                        # header: 30 fps; frames 40 ms apart (25 fps)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.time_base = fractions.Fraction(1, 1000)
        for t in range(40):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 5 * t, np.uint8), format="rgb24")
            f.pts, f.time_base = 40 * t, fractions.Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    assert cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FPS) == 30.0
    code, out, err = run(path, "--bundle", bundle)
    assert code == 0, err
    s = rows(out)[-1]
    assert s["timestamps_fps"] == pytest.approx(25.0, abs=0.5) and s["duration_s"] == pytest.approx(1.6, abs=0.05)
    assert not s["truncated"] and rows(out)[-2]["end_s"] == pytest.approx(1.6, abs=0.05)
    assert "states 30 fps, but its 40 frames span 1.600 s" in err


def test_an_avi_header_with_two_rates_is_reported(env, tmp_path):
    d, bundle = env
    import struct
    data = bytearray((d / "long.avi").read_bytes())
    i = data.find(b"avih")
    struct.pack_into("<I", data, i + 8, 33333)                # avih: 30 fps; the stream header says 8
    (tmp_path / "two.avi").write_bytes(bytes(data))
    code, out, err = run(tmp_path / "two.avi", "--bundle", bundle)
    assert code == 0, err
    assert rows(out)[-1]["fps"] == 8.0 and "the AVI header states two frame rates (30.000 fps" in err


# 4. variable frame rate: frames placed by their timestamps -----------------------------------------

def test_variable_frame_rate_windows_cover_the_right_seconds(env, tmp_path):
    d, bundle = env
    pts = dropped_frames_pts(90, 0.65, seed=2)             # 30 fps time line, 35 % of the frames dropped
    vfr = encode(tmp_path / "phone.mp4", n=len(pts), fps=30, pts=pts)
    code, out, err = run(vfr, "--bundle", bundle)
    assert code == 0, err
    rs = rows(out)
    s = rs[-1]
    gap = max(np.diff(pts)) / 30
    for r in rs[:-1]:
        true = np.array([pts[f] / 30 for f in r["frames"]])
        t = len(true)
        instants = r["start_s"] + (np.arange(t) + 0.5) * (r["end_s"] - r["start_s"]) / t
        assert np.all(true <= instants + 1e-6), (r, true)            # the frame on screen then ...
        assert np.all(instants - true < gap + 1e-6), (r, true)       # ... shown since at most one gap
    assert rs[-2]["end_s"] == pytest.approx(3.0, abs=0.1)            # the last window ends with the video
    assert s["variable_frame_rate"] and s["frames_read"] == len(pts)
    assert rs[-2]["end_s"] == pytest.approx(s["duration_s"], abs=1e-3)


# 5. output mistakes: before any video is read, one line, no stray files -----------------------------

@pytest.mark.parametrize("flag,value,needle", [
    ("--out", "{d}", "is a directory"),
    ("--out", "{d}/text.avi/x.jsonl", "is not a directory"),
    ("--timeline", "{d}/t.svg", "unsupported image type .svg"),
    ("--timeline", "{d}/t.pdf", "unsupported image type .pdf"),
    ("--timeline", "{d}/t", "unsupported image type (no extension)"),
    ("--render", "{d}/r.gif", "unsupported video type .gif"),
    ("--render", "{d}/r", "unsupported video type (no extension)"),
])
def test_output_mistakes_are_one_line_errors_before_any_video(env, tmp_path, flag, value, needle):
    d, bundle = env
    (tmp_path / "text.avi").write_text("not a video")      # would fail if it were read first
    before = set(os.listdir(tmp_path))
    code, _, err = run(tmp_path / "text.avi", "--bundle", bundle, flag, value.format(d=tmp_path))
    one_line_error(code, err, flag, needle)
    assert len(err.strip().splitlines()) == 1                        # before the model or any video
    assert set(os.listdir(tmp_path)) == before                       # nothing written, no temp files


def test_listed_timeline_and_render_types_are_written(env, tmp_path):
    d, bundle = env
    code, _, err = run(d / "long.avi", "--bundle", bundle, "--quiet", "--timeline", tmp_path / "t.jpg",
                       "--render", tmp_path / "r.mkv", "--out", tmp_path / "o.jsonl")
    assert code == 0, err
    assert cv2.imread(str(tmp_path / "t.jpg")) is not None
    cap = cv2.VideoCapture(str(tmp_path / "r.mkv"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 30
    assert sorted(os.listdir(tmp_path)) == ["o.jsonl", "r.mkv", "t.jpg"]


# 6. an unsupported codec is named -----------------------------------------------------------------

def test_unsupported_codec_is_named_and_ffmpeg_log_kept_out(env, tmp_path):
    d, bundle = env
    av1 = encode_isolated(tmp_path / "av1.mp4", codec="libsvtav1", n=10, fps=10)
    probe = cv2.VideoCapture(str(av1))
    if probe.read()[0]:
        pytest.skip("this OpenCV build decodes AV1; the case needs a codec it cannot decode")
    code, _, err = run(av1, "--bundle", bundle)
    one_line_error(code, err, "av1.mp4", "AV01 (AV1)", "cannot decode")


# 7. aborted runs never leave a normal-looking results file ------------------------------------------

def test_failed_single_video_leaves_the_old_out_untouched(env, tmp_path):
    d, bundle = env
    (tmp_path / "text.avi").write_text("not a video")
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    code, _, err = run(tmp_path / "text.avi", "--bundle", bundle, "--out", out)
    one_line_error(code, err, "text.avi")
    assert out.read_text() == "previous results\n" and sorted(os.listdir(tmp_path)) == ["out.jsonl", "text.avi"]


def test_interrupted_file_run_leaves_a_marked_partial_file(tmp_path):
    bundle = make_onnx_bundle(tmp_path / "slow", frames=4, size=64, convs=6, channels=48)
    video = write_video(tmp_path / "v.avi", 2400, fps=8.0)             # 5 minutes: 2399 windows
    out = tmp_path / "out.jsonl"
    p = subprocess.Popen([sys.executable, str(RUN), video, "--bundle", bundle, "--out", out, "--stride", "0.125"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        tmps = [f for f in tmp_path.iterdir() if f.name.startswith(".out.jsonl.")]
        if tmps and tmps[0].stat().st_size > 0:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run ended before it could be interrupted"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert not out.exists()
    part = rows(tmp_path / "out.jsonl.partial")
    assert part[-1] == {"incomplete": True, "reason": "interrupted", "rows": len(part) - 1}
    assert len(part) >= 2 and all("window" in r for r in part[:-1])
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".")] == []


# 8. URLs ------------------------------------------------------------------------------------------

@pytest.fixture()
def http_dir(tmp_path):
    """A local HTTP server (127.0.0.1, a thread) over ``tmp_path/www``; stopped after the test."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield www, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_inputs_are_read_like_files(env, http_dir):
    d, bundle = env
    www, base = http_dir
    (www / "clip.mp4").write_bytes((d / "h264.mp4").read_bytes())
    code, local, err = run(d / "h264.mp4", "--bundle", bundle, "--quiet")
    assert code == 0, err
    url = f"{base}/clip.mp4"
    code, out, err = run(url, "--bundle", bundle, "--quiet")
    assert code == 0, err
    rs, ref = rows(out), rows(local)
    assert all(r["video"] == url for r in rs) and rs[-1]["mode"] == "file"
    assert [(r["start_s"], r["frames"], r["top"]) for r in rs[:-1]] == \
           [(r["start_s"], r["frames"], r["top"]) for r in ref[:-1]]
    code, out, err = run("--url", url, "--bundle", bundle)
    assert code == 0, err
    assert "read as a file" in err
    assert [r["frames"] for r in rows(out)[:-1]] == [r["frames"] for r in ref[:-1]]   # every window
    code, out, err = run("--url", url, "--realtime", "--bundle", bundle)             # paced: 2.5 s
    assert code == 0, err
    s = rows(out)[-1]
    assert "paced at its frame rate" in err and s["mode"] == "realtime" and s["frames_captured"] == 40
    assert s["seconds"] >= 2.0                                                       # not faster than real time


# 9. directories, names, timeline ------------------------------------------------------------------

def test_directories_gif_recursive_and_distinct_output_names(env, tmp_path):
    d, bundle = env
    vids = tmp_path / "vids"
    (vids / "sub").mkdir(parents=True)
    encode(vids / "anim.gif", codec="gif", n=12, fps=8, pix_fmt="rgb8")
    (vids / "clip.mp4").write_bytes((d / "h264.mp4").read_bytes())
    encode(vids / "clip.mov", n=20, fps=16)
    write_video(vids / "sub" / "deep.avi", 12, fps=8.0)
    code, out, err = run(vids, "--bundle", bundle, "--quiet")
    assert code == 0, err
    names = {Path(r["video"]).name for r in rows(out) if r.get("summary")}
    assert names == {"anim.gif", "clip.mp4", "clip.mov"}
    code, out, err = run(vids, "--bundle", bundle, "--quiet", "--recursive",
                         "--timeline", tmp_path / "t.png", "--render", tmp_path / "r.mp4")
    assert code == 0, err
    assert {Path(r["video"]).name for r in rows(out) if r.get("summary")} == names | {"deep.avi"}
    written = sorted(f.name for f in tmp_path.iterdir() if f.is_file())
    assert written == ["r_anim.mp4", "r_clip_mov.mp4", "r_clip_mp4.mp4", "r_deep.mp4",
                       "t_anim.png", "t_clip_mov.png", "t_clip_mp4.png", "t_deep.png"]


def test_per_video_names_are_distinct():
    from jaxar.runtime.outputs import per_video_names
    vids = ["a/clip.mp4", "a/clip.mov", "b/clip.mp4", "c/other.avi", "http://h/x/clip.mp4?s=1"]
    names = per_video_names(vids)
    assert len(set(names)) == len(names) and names[3] == "other"
    assert per_video_names(["x/one.mp4", "x/two.mp4"]) == ["one", "two"]


def test_timeline_draws_every_window_winner_and_aggregates_long_videos(tmp_path):
    from jaxar.runtime.plots import timeline_png, timeline_series
    labels = [f"c{i}" for i in range(8)]
    probs = np.full((20, 8), 0.02)
    probs[:, :5] += np.linspace(0.3, 0.1, 5)             # five classes with high means, class 0 wins ...
    probs[7, 7] = 0.9                                    # ... except window 7: class 7 (lowest mean)
    probs /= probs.sum(1, keepdims=True)
    times = np.arange(20) * 0.5
    _, _, win, classes, bin_s = timeline_series(times, probs, top=5)
    assert 7 in classes and classes[0] == 0 and bin_s is None and win[7] == 7
    long = np.random.default_rng(0).dirichlet(np.ones(8), 1200)          # 10 min at a 0.5 s stride
    t, p, w, classes, bin_s = timeline_series(np.arange(1200) * 0.5, long)
    assert len(t) <= 400 and bin_s == pytest.approx(599.5 / 400) and p.shape == (len(t), 8)
    assert set(np.argmax(long, 1)) <= set(classes.tolist())
    timeline_png(tmp_path / "long.png", np.arange(1200) * 0.5, long, labels, "ten minutes")
    img = cv2.imread(str(tmp_path / "long.png"))
    assert img is not None and img.shape[0] >= 60 + 20 * 8
