"""Live mode: a file played with --realtime through the capture thread and
ring buffer, with inference slower than capture."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.predict_fixtures import make_onnx_bundle, write_video
from tests.test_predict_cli import RUN


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    # 6 conv layers of 48 channels at 64x64 (tens of ms or more per window)
    bundle = make_onnx_bundle(d / "bundle", frames=4, size=64, convs=6, channels=48)
    return d, bundle, None


def _infer_ms(bundle) -> float:
    from jaxar.runtime.backends import OrtBackend
    b = OrtBackend(bundle / "model.onnx", threads=1)
    x = np.zeros((1, 4, 3, 64, 64), np.float32)
    b(x)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        b(x)
        times.append(1000 * (time.perf_counter() - t0))
    return float(np.median(times))


def test_realtime_slow_inference_drops_frames_with_bounded_latency(slow):
    """Capture runs ~3x faster than inference (frame rate chosen from the
    measured model time); windows span 2 frames, so frames are dropped too."""
    d, bundle, _ = slow
    t_inf = _infer_ms(bundle)
    fps = float(np.clip(3000.0 / t_inf, 30, 300))
    video = write_video(d / "fast.avi", int(3 * fps), width=96, height=64, fps=fps)
    window, stride = 2.0 / fps, 1.0 / fps
    out = d / "live.jsonl"
    r = subprocess.run([sys.executable, str(RUN), video, "--bundle", bundle, "--realtime", "--window", f"{window:.5f}",
                        "--stride", f"{stride:.5f}", "--out", out, "--threads", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    summary, windows = rows[-1], rows[:-1]
    assert summary["summary"] and summary["live"] and summary["frames_captured"] == int(3 * fps)
    assert summary["capture_fps"] > 0.7 * fps               # capture is not held up by inference
    infer = summary["infer_ms_p50"]
    assert infer > 1000 * stride, f"inference ({infer} ms) must be slower than capture ({1000 / fps:.0f} ms/frame)"
    # windows due while inference was busy are dropped, not queued, and so are
    # the frames no window saw
    assert summary["windows_dropped"] > 0 and summary["frames_dropped"] > 0
    lat = np.array([w["latency_ms"] for w in windows])
    assert len(lat) == summary["windows"] >= 3
    # bounded: about one inference + one stride + one frame, never growing with the stream
    bound = 3 * infer + 2000 * stride + 150
    assert lat.max() < bound, (lat, bound)
    assert lat[-len(lat) // 3:].mean() < 2 * lat[:len(lat) // 3].mean() + 100
    starts = [w["start_s"] for w in windows]
    assert starts == sorted(starts)
    assert "capture" in r.stderr and "latency p50" in r.stderr


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig,preexec,times", [(signal.SIGINT, None, 1), (signal.SIGINT, _ignore_sigint, 1),
                                               (signal.SIGTERM, None, 1), (signal.SIGINT, None, 3)],
                         ids=["ctrl-c", "ctrl-c-started-with-sigint-ignored", "sigterm", "ctrl-c-thrice"])
def test_ctrl_c_writes_results_and_summary_and_exits_0(slow, sig, preexec, times):
    """Started with SIGINT ignored (a background job of a non-interactive shell)
    Python installs no KeyboardInterrupt handler; the live app installs its own.
    Repeated Ctrl-C while the run is stopping must not lose the summary row."""
    d, bundle, _ = slow
    video = write_video(d / "long.avi", 1800, width=96, height=64, fps=30.0)    # 60 s at --realtime
    out = d / "int.jsonl"
    p = subprocess.Popen([sys.executable, str(RUN), video, "--bundle", bundle, "--realtime", "--window",
                          "0.5", "--stride", "0.25", "--out", out], stderr=subprocess.PIPE, text=True,
                         preexec_fn=preexec)
    def rows_started():                    # the results stream to a hidden temporary file next to --out
        return any(t.read_text().strip() for t in d.glob(".int.jsonl.*.tmp"))
    deadline = time.time() + 120           # the live loop is running once a window row is written
    while time.time() < deadline and p.poll() is None and not rows_started():
        time.sleep(0.1)
    assert p.poll() is None, "the live run ended before it could be interrupted"
    time.sleep(0.5)
    for _ in range(times):
        p.send_signal(sig)
        time.sleep(0.02)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[-1]["summary"] and rows[-1]["interrupted"], (rows[-1], err)
    assert rows[-1]["windows"] == len(rows) - 1 >= 1
    assert rows[-1]["frames_captured"] < 1800               # stopped early, not at the end of the file
    assert "Traceback" not in err
