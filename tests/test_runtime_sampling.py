"""Frame sampling, sliding windows and the shared preprocessing (no JAX)."""
import subprocess
import sys

import numpy as np
import pytest

from jaxar.runtime import sampling
from jaxar.runtime.boxes import fixed
from jaxar.runtime.clips import FileClips
from jaxar.runtime.preprocess import DEFAULT_MEAN, DEFAULT_STD, normalise
from jaxar.runtime.video import open_file
from tests.predict_fixtures import write_video


def test_frame_indices_centre_of_segments_and_repeats_when_short():
    np.testing.assert_array_equal(sampling.frame_indices(16, 4, 0.5), [2, 6, 10, 14])
    np.testing.assert_array_equal(sampling.frame_indices(3, 8, 0.5), [0, 0, 0, 1, 1, 2, 2, 2])
    with pytest.raises(ValueError):
        sampling.frame_indices(0, 4, 0.5)


def test_plan_windows_grid_tail_and_short():
    ws = sampling.plan_windows(30, 10.0, 4, window_s=1.0, stride_s=0.5)
    assert [(w.first, w.stop) for w in ws] == [(0, 10), (5, 15), (10, 20), (15, 25), (20, 30)]
    ws = sampling.plan_windows(33, 10.0, 4, window_s=1.0, stride_s=0.5)
    assert [(w.first, w.stop) for w in ws][-2:] == [(20, 30), (23, 33)]     # tail aligned to the end
    np.testing.assert_array_equal(ws[0].frames, [1, 3, 6, 8])
    assert ws[-1].start_s == pytest.approx(2.3) and ws[-1].end_s == pytest.approx(3.3)
    (short,) = sampling.plan_windows(3, 10.0, 4, window_s=1.0, stride_s=0.5)
    assert short.short and short.repeated and (short.first, short.stop) == (0, 3)
    np.testing.assert_array_equal(short.frames, [0, 1, 1, 2])
    # stride shorter than one frame: no duplicate windows
    ws = sampling.plan_windows(12, 10.0, 4, window_s=1.0, stride_s=0.01)
    assert [w.first for w in ws] == [0, 1, 2]


@pytest.mark.parametrize("n,window,stride", [(30, 1.0, 0.5), (33, 1.0, 0.7), (7, 1.0, 0.5), (8, 1.0, 0.5),
                                             (40, 0.5, 1.3)])
def test_streaming_windows_equal_the_plan_and_the_frames(tmp_path, n, window, stride):
    path = write_video(tmp_path / "v.avi", n, fps=8.0)
    with open_file(path) as cap:
        frames = []
        while (f := cap.read()) is not None:
            frames.append(f)
    with open_file(path) as cap:
        got = list(FileClips(cap, fixed("full", 64, 48), 4, 16, window, stride))
    plan = sampling.plan_windows(n, 8.0, 4, window, stride)
    assert [(w.first, w.stop, w.short) for w, _ in got] == [(w.first, w.stop, w.short) for w in plan]
    import cv2
    for (w, clip), p in zip(got, plan):
        np.testing.assert_array_equal(w.frames, p.frames)
        want = np.stack([cv2.cvtColor(cv2.resize(frames[i], (16, 16), interpolation=cv2.INTER_AREA),
                                      cv2.COLOR_BGR2RGB) for i in p.frames])
        np.testing.assert_array_equal(clip, want)


def test_eval_pipeline_and_predict_path_give_the_same_tensors(tmp_path):
    """The same decoded frames through the evaluation input pipeline and
    through the predict path (window sampling, centre crop, resize, normalise)."""
    from data_pipelines.clip_config import ClipConfig
    from data_pipelines.input_pipeline import numpy_batches
    path = write_video(tmp_path / "v.avi", 24, width=80, height=60, fps=8.0)
    with open_file(path) as cap:
        import cv2
        decoded = []
        while (f := cap.read()) is not None:
            decoded.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
    decoded = np.stack(decoded)                              # (24, 60, 80, 3) RGB
    cfg = ClipConfig(num_frames=8, size=32)
    batch = next(numpy_batches(decoded[None], np.zeros(1, np.int64), 1, train=False, clip=cfg, prefetch=0))
    # predict path: one window covering the whole video (window = 24 frames / 8 fps)
    with open_file(path) as cap:
        (w, clip), = list(FileClips(cap, fixed("center", 80, 60), 8, 32, window_s=3.0, stride_s=3.0))
    x = normalise(clip[None], DEFAULT_MEAN, DEFAULT_STD)
    np.testing.assert_array_equal(w.frames, sampling.frame_indices(24, 8, 0.5))
    grey = 1.0 / (255 * 0.225)                                # one grey level after normalisation
    assert np.abs(x - batch["video"]).max() <= grey + 1e-6
    assert x.shape == batch["video"].shape == (1, 8, 32, 32, 3)


def test_runtime_imports_only_numpy_and_opencv(tmp_path):
    """The copied folder imports as a top-level package without jax/tf/jaxar."""
    import shutil
    from pathlib import Path
    import jaxar.runtime
    shutil.copytree(Path(jaxar.runtime.__file__).parent, tmp_path / "runtime")
    code = ("import sys, runtime.app, runtime.run, runtime.live; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('jax', 'jaxlib', 'tensorflow', 'flax', 'jaxar', 'data_pipelines', 'export', 'torch')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_tfds_eval_path_equals_predict_path_on_the_same_frames():
    """The tf.data evaluation clip (stored JPEG frames) equals the predict
    path on the same decoded frames."""
    tf = pytest.importorskip("tensorflow")
    import cv2
    from data_pipelines.clip_config import ClipConfig
    from data_pipelines.input_pipeline import _make_clip
    from data_pipelines.video_io import decode_jpeg, encode_jpeg
    from jaxar.runtime.clips import prepare_frame
    rng = np.random.default_rng(1)
    stored = [cv2.GaussianBlur(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), (5, 5), 2) for _ in range(13)]
    jpegs = [encode_jpeg(f) for f in stored]
    cfg = ClipConfig(num_frames=4, size=24)
    got = _make_clip(tf, tf.constant(jpegs), cfg, False, tf.constant([0, 0], tf.int64), 0).numpy()
    decoded = [cv2.cvtColor(decode_jpeg(j), cv2.COLOR_RGB2BGR) for j in jpegs]   # as OpenCV reads video
    box = fixed("center", 64, 48).box(0)
    clip = np.stack([prepare_frame(decoded[i], box, 24) for i in sampling.frame_indices(13, 4, 0.5)])
    assert np.abs(normalise(clip, DEFAULT_MEAN, DEFAULT_STD) - got).max() <= 1.0 / (255 * 0.225) + 1e-6


def test_truncated_video_windows_use_the_decodable_frames(tmp_path):
    """The container claims more frames than decode: the tail window is formed
    from the frames that exist (re-reading frames the reader skipped)."""
    import cv2
    data = write_video(tmp_path / "full.avi", 60, fps=8.0).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:int(len(data) * 0.55)])
    with open_file(cut) as cap:
        assert cap.header_frames == 60
        frames = []
        while (f := cap.read()) is not None:
            frames.append(f)
    n = len(frames)
    warnings = []
    with open_file(cut) as cap:
        clips = FileClips(cap, fixed("full", 64, 48), 4, 16, 1.0, 0.5, warn=warnings.append)
        got = list(clips)
    assert clips.truncated and clips.frames_read == n and f"read {n} of the 60 frames" in warnings[0]
    plan = sampling.plan_windows(n, 8.0, 4, 1.0, 0.5)
    assert [(w.first, w.stop) for w, _ in got] == [(w.first, w.stop) for w in plan]
    w, clip = got[-1]
    want = np.stack([cv2.cvtColor(cv2.resize(frames[i], (16, 16), interpolation=cv2.INTER_AREA),
                                  cv2.COLOR_BGR2RGB) for i in w.frames])
    np.testing.assert_array_equal(clip, want)


@pytest.mark.parametrize("n,fps,window,stride", [(30, 10.0, 1.0, 0.5), (33, 10.0, 1.0, 0.5), (3, 10.0, 1.0, 0.5),
                                                 (12, 10.0, 1.0, 0.01), (61, 30.0, 2.0, 1.0), (21, 8.0, 1.0, 0.5)])
def test_timed_windows_equal_frame_count_windows_at_a_constant_rate(n, fps, window, stride):
    a = sampling.plan_windows(n, fps, 4, window, stride)
    b = sampling.plan_timed_windows(np.arange(n), np.arange(n, dtype=float), float(n), fps, 4, window, stride)
    assert [(w.first, w.stop, w.frames.tolist(), w.short, w.start_s, w.end_s) for w in a] == \
           [(w.first, w.stop, w.frames.tolist(), w.short, w.start_s, w.end_s) for w in b]


def test_on_screen_takes_the_last_frame_at_or_before_each_instant():
    pos = np.array([0.0, 1.0, 2.0, 5.0, 6.0])            # frames 3 and 4 of the time line were dropped
    assert sampling.on_screen(pos, [0.0, 0.5, 2.0, 2.9, 4.99, 5.0, 9.0, -1.0]).tolist() == [0, 0, 2, 2, 2, 3, 4, 0]
    assert sampling.on_screen(np.arange(8.0), (np.arange(4) + 0.5) * 8 / 4).tolist() == [1, 3, 5, 7]
