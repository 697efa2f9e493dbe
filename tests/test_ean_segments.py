"""TSN segment sampling (jaxar/runtime/segments.py), the one rule behind the
training sources, jaxar.predict and the bundle runtime: runs of adjacent
frames inside their groups in training (new draws every epoch, exact on
resume), centred at evaluation, short videos repeat frames; frames with
distinct values prove which ones every path picked. No JAX here."""
import cv2
import numpy as np
import pytest

from jaxar.runtime import sampling
from jaxar.runtime.boxes import fixed
from jaxar.runtime.clips import FileClips
from jaxar.runtime.segments import (SegmentSpec, indices_at, segment_indices, segment_positions,
                                    segment_starts)
from jaxar.runtime.video import open_file


@pytest.mark.parametrize("num_frames,segments,run", [(120, 8, 1), (120, 8, 5), (43, 8, 5), (9, 8, 1),
                                                     (20, 4, 5)])
def test_train_runs_stay_in_their_group_and_vary(num_frames, segments, run):
    rng = np.random.default_rng(0)
    m = num_frames - run + 1                                    # possible run starts
    lo = np.floor(np.arange(segments) * m / segments)
    hi = np.arange(1, segments + 1) * m / segments
    seen = set()
    draws = []
    for _ in range(300):
        idx = segment_indices(num_frames, segments, run, "train", rng).reshape(segments, run)
        assert idx.min() >= 0 and idx.max() < num_frames
        assert (np.diff(idx, axis=1) == 1).all()                # adjacent frames
        starts = idx[:, 0]
        assert ((starts >= lo) & (starts < hi)).all(), starts   # inside its own group
        seen.update(starts.tolist())
        draws.append(tuple(starts))
    assert seen == set(range(m))                                # every start is reachable
    assert len(set(draws)) > 1


def test_eval_is_the_centre_and_one_frame_per_segment_is_the_old_uniform_rule():
    np.testing.assert_array_equal(segment_starts(80, 8, 1, "eval"), [5, 15, 25, 35, 45, 55, 65, 75])
    idx = segment_indices(100, 8, 5, "eval").reshape(8, 5)
    tick = (100 - 5 + 1) / 8                                    # 12 starts per group
    np.testing.assert_array_equal(idx[:, 0], (tick / 2 + tick * np.arange(8)).astype(int))
    np.testing.assert_array_equal(idx[0], [6, 7, 8, 9, 10])
    rng = np.random.default_rng(3)
    for n, t in [(16, 4), (3, 8), (47, 16), (1, 4), (100, 7)]:
        off = rng.random(t)
        want = np.minimum(np.floor((np.arange(t) + off) * n / t).astype(np.int64), n - 1)
        np.testing.assert_array_equal(indices_at(n, t, 1, off), want)
        np.testing.assert_array_equal(sampling.frame_indices(n, t, off), want)


def test_short_videos_repeat_frames_by_the_documented_rule():
    # fewer frames than segments x run (but >= run): groups share starts, runs stay adjacent
    idx = segment_indices(12, 4, 5, "eval").reshape(4, 5)
    np.testing.assert_array_equal(idx[:, 0], [1, 3, 5, 7])
    assert (np.diff(idx, axis=1) == 1).all() and idx.max() == 11
    # fewer starts than segments: starts repeat, non-decreasing
    np.testing.assert_array_equal(segment_starts(6, 4, 5, "eval"), [0, 0, 1, 1])
    # shorter than one run: each run is the whole video, its last frame repeated
    idx = segment_indices(3, 4, 5, "eval").reshape(4, 5)
    np.testing.assert_array_equal(idx, np.tile([0, 1, 2, 2, 2], (4, 1)))
    idx = segment_indices(3, 4, 5, "train", np.random.default_rng(0)).reshape(4, 5)
    np.testing.assert_array_equal(idx, np.tile([0, 1, 2, 2, 2], (4, 1)))
    np.testing.assert_array_equal(segment_indices(1, 8, 1, "eval"), np.zeros(8))


@pytest.mark.parametrize("args,message", [((0, 8), "span of 0"), ((10, 8, 1, "test"), "mode"),
                                          ((10, 8, 1, "train"), "rng"), ((10, 0), "positive")])
def test_bad_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        segment_indices(*args)


def test_segment_spec_json_old_records_and_errors():
    assert SegmentSpec.from_json(None, 8) == SegmentSpec(8, 1)          # older records: uniform
    assert SegmentSpec.from_json({"segments": 4, "segment_frames": 5}, 20) == SegmentSpec(4, 5)
    assert SegmentSpec(4, 5).to_json() == {"segments": 4, "segment_frames": 5}
    with pytest.raises(ValueError, match="x.json: 4 segments x 5 frames = 20, but the model takes 16"):
        SegmentSpec.from_json({"segments": 4, "segment_frames": 5}, 16, where="x.json")
    with pytest.raises(ValueError, match="y.json"):
        SegmentSpec.from_json({"segment_frames": 5}, 20, where="y.json")


def test_time_line_instants_pick_the_index_rule_on_a_constant_rate_video():
    for span, spec in [(40, SegmentSpec(4, 5)), (13, SegmentSpec(4, 5)), (3, SegmentSpec(4, 5)),
                       (24, SegmentSpec(8, 1)), (7, SegmentSpec(8, 1))]:
        picked = sampling.on_screen(np.arange(span), segment_positions(span, spec.segments,
                                                                       spec.segment_frames))
        np.testing.assert_array_equal(picked, segment_indices(span, spec.segments, spec.segment_frames))
        w = sampling.timed_window(0, 0.0, float(span), np.arange(span), np.arange(span, dtype=float),
                                  8.0, spec)
        np.testing.assert_array_equal(w.frames, picked)


# ------------------------------------------------------------------ training sources

def _numbered_video(n, size=8):
    """uint8 (n, S, S, 3): frame k is filled with value 3 * k (distinct, survives resize)."""
    return np.repeat((3 * np.arange(n, dtype=np.uint8))[:, None, None, None], size, 1) \
        .repeat(size, 2).repeat(3, 3)


def _picked(clips):
    """Frame numbers of uint8 clips (..., T, S, S, 3) made from :func:`_numbered_video`."""
    return (np.asarray(clips)[..., 0, 0, 0].astype(int)) // 3


def test_memory_pipeline_segments_train_eval_epochs_and_resume():
    """The in-memory pipeline (the synthetic source): train runs inside their
    groups, new draws each epoch, the same draws on resume; eval the centre."""
    from data_pipelines.clip_config import ClipConfig
    from data_pipelines.input_pipeline import numpy_batches
    n, videos = 43, np.stack([_numbered_video(43)] * 2)
    cfg = ClipConfig(num_frames=20, size=8, segment_frames=5, area_range=(1.0, 1.0),
                     aspect_range=(1.0, 1.0), normalize=False)
    it = numpy_batches(videos, np.arange(2), 1, train=True, clip=cfg, seed=5, prefetch=0)
    picks = [_picked(next(it)["video"])[0] for _ in range(8)]      # 4 epochs of 2 examples
    m = n - 5 + 1
    for p in picks:
        runs = p.reshape(4, 5)
        assert (np.diff(runs, axis=1) == 1).all()
        assert ((runs[:, 0] >= np.floor(np.arange(4) * m / 4)) & (runs[:, 0] < np.arange(1, 5) * m / 4)).all()
    assert len({tuple(p) for p in picks}) == len(picks)             # new draws every epoch
    resumed = numpy_batches(videos, np.arange(2), 1, train=True, clip=cfg, seed=5, start_step=5, prefetch=0)
    for p in picks[5:]:
        np.testing.assert_array_equal(_picked(next(resumed)["video"])[0], p)
    ev = next(numpy_batches(videos, np.arange(2), 1, train=False, clip=cfg, prefetch=0))
    np.testing.assert_array_equal(_picked(ev["video"])[0], segment_indices(n, 4, 5, "eval"))


def test_tfds_pipeline_segments_train_and_eval():
    """The tf.data path (every prepared TFDS dataset: NTU RGB+D, video folders,
    synthetic_actions) on stored JPEG frames of distinct grey levels."""
    tf = pytest.importorskip("tensorflow")
    from data_pipelines.clip_config import ClipConfig
    from data_pipelines.input_pipeline import _make_clip
    from data_pipelines.video_io import encode_jpeg
    n = 30
    grey = np.repeat((8 * np.arange(n, dtype=np.uint8))[:, None, None, None], 16, 1).repeat(16, 2).repeat(3, 3)
    jpegs = tf.constant([encode_jpeg(f) for f in grey])
    cfg = ClipConfig(num_frames=20, size=16, segment_frames=5, area_range=(1.0, 1.0),
                     aspect_range=(1.0, 1.0), normalize=False)

    def picked(clip):
        return np.rint((np.asarray(clip)[:, 8, 8, 0] + 3.0) / 8.0).astype(int)   # JPEG: -4..+3 levels
    ev = picked(_make_clip(tf, jpegs, cfg, False, tf.constant([0, 0], tf.int64), 0))
    np.testing.assert_array_equal(ev, segment_indices(n, 4, 5, "eval"))
    m = n - 5 + 1
    draws = set()
    for pos in range(6):
        key = tf.random.experimental.stateless_fold_in(tf.constant([1, 0], tf.int64), pos)
        runs = picked(_make_clip(tf, jpegs, cfg, True, key, 0)).reshape(4, 5)
        assert (np.diff(runs, axis=1) == 1).all()
        assert ((runs[:, 0] >= np.floor(np.arange(4) * m / 4)) & (runs[:, 0] < np.arange(1, 5) * m / 4)).all()
        draws.add(tuple(runs[:, 0]))
    assert len(draws) > 1


def test_training_sources_take_the_model_sampling():
    """``clip_config`` of the training loop carries the model's segment_frames
    (synthetic and TFDS sources both build their clips from it); the synthetic
    source refuses videos too short for LMC's runs and its eval clips are the
    centred runs of the rendered videos."""
    import ml_collections

    from data_pipelines import synthetic
    from jaxar.registry import create_config
    from jaxar.runtime.preprocess import normalise
    from jaxar.train.data import build_source, clip_config
    lmc = create_config("ean_r50_lmc").small()
    assert lmc.clip_sampling == SegmentSpec(4, 5) and create_config("ean_r50").small().clip_sampling == \
        SegmentSpec(4, 1) and create_config("x3d_ugt_tiny").clip_sampling.segment_frames == 1
    spec = ml_collections.ConfigDict(dict(source="synthetic", synthetic_frames=24, synthetic_size=64,
                                          synthetic_train=2, synthetic_test=2, crop_area=(1.0, 1.0),
                                          flip=False, num_eval_clips=1))
    assert clip_config(spec, lmc).segment_frames == 5 and clip_config(spec, lmc, False).segments == 4
    src = build_source(spec, lmc, host_batch=2)
    batch = next(iter(src.eval_batches()))
    videos, _ = synthetic.generate(2, frames=24, size=64, seed=synthetic.TEST_SEED, num_classes=5)
    want = normalise(videos[:, segment_indices(24, 4, 5, "eval")])
    np.testing.assert_allclose(batch["video"], want, atol=1e-5)
    spec.synthetic_frames = 16
    with pytest.raises(ValueError, match="synthetic_frames=16 .* 4 segments x 5 adjacent frames = 20"):
        build_source(spec, lmc, host_batch=2)


def test_tfds_source_on_a_prepared_video_folder_takes_the_runs(tmp_path):
    """The training loop's ``tfds`` source (NTU RGB+D and video folders alike)
    on a prepared video folder whose frame k is grey 8 * k: evaluation clips are
    the centred runs, training clips random runs inside their groups. (MJPG and
    the stored JPEGs darken flat grey by 2-4 levels, hence the rounding.)"""
    tfds = pytest.importorskip("tensorflow_datasets")
    import data_pipelines  # noqa: F401  (registers the builders)
    from data_pipelines.builders.video_folder import VideoFolder
    from data_pipelines.video_io import write_video
    from jaxar.registry import create_config
    from jaxar.runtime.preprocess import DEFAULT_MEAN, DEFAULT_STD
    from jaxar.train.config import default_config
    from jaxar.train.data import build_source
    n = 30
    frames = np.repeat((8 * np.arange(n, dtype=np.uint8))[:, None, None, None], 48, 1).repeat(64, 2).repeat(3, 3)
    root = tmp_path / "manual"
    for split in ("train", "val"):
        for cls in ("a", "b"):
            (root / split / cls).mkdir(parents=True)
            write_video(str(root / split / cls / "v.avi"), frames, fps=10.0)
    VideoFolder(data_dir=str(tmp_path / "data")).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    spec = default_config().data
    spec.update(dict(source="tfds", tfds_name="video_folder", data_dir=str(tmp_path / "data"),
                     eval_split="val", crop_area=(1.0, 1.0)))
    model = create_config("ean_r50_lmc").small(num_classes=2, size=32)
    src = build_source(spec, model, host_batch=2)

    def picked(video):
        pixels = (np.asarray(video)[:, :, 16, 16, 0] * DEFAULT_STD[0] + DEFAULT_MEAN[0]) * 255
        return np.rint((pixels + 3.0) / 8.0).astype(int)
    ev = picked(next(iter(src.eval_batches()))["video"])
    np.testing.assert_array_equal(ev, np.tile(segment_indices(n, 4, 5, "eval"), (2, 1)))
    m = n - 5 + 1
    draws = set()
    it = src.train_batches(0, 0)
    for _ in range(3):
        for clip in picked(next(it)["video"]):
            runs = clip.reshape(4, 5)
            assert (np.diff(runs, axis=1) == 1).all()
            assert ((runs[:, 0] >= np.floor(np.arange(4) * m / 4)) & (runs[:, 0] < np.arange(1, 5) * m / 4)).all()
            draws.add(tuple(runs[:, 0]))
    assert len(draws) > 1


# ------------------------------------------------------------------ the runtime

def _write_numbered(path, n, fps=8.0, size=32):
    """MJPG video whose frame k is a flat grey 6 * k (MJPG darkens it by about 2)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    for k in range(n):
        out.write(np.full((size, size, 3), 6 * k, np.uint8))
    out.release()
    return path


def _frames_of(clip):
    return np.rint((clip[:, 4, 4, 0] + 2.0) / 6.0).astype(int)


@pytest.mark.parametrize("n", [40, 11])
def test_file_windows_and_whole_video_take_the_runs(tmp_path, n):
    spec = SegmentSpec(4, 5)
    path = _write_numbered(tmp_path / "v.avi", n)
    with open_file(path) as cap:
        got = list(FileClips(cap, fixed("full", 32, 32), spec, 16, 3.0, 1.0))
    plan = sampling.plan_windows(n, 8.0, spec, 3.0, 1.0)
    assert [(w.first, w.stop) for w, _ in got] == [(w.first, w.stop) for w in plan]
    for (w, clip), p in zip(got, plan):
        np.testing.assert_array_equal(w.frames, p.frames)
        np.testing.assert_array_equal(w.frames, p.first + segment_indices(p.stop - p.first, 4, 5))
        np.testing.assert_array_equal(_frames_of(clip), w.frames)     # the pixels are those frames
    with open_file(path) as cap:
        clips = FileClips(cap, fixed("full", 32, 32), spec, 16, None, None)
        (w, clip), = list(clips)
    np.testing.assert_array_equal(w.frames, segment_indices(n, 4, 5))
    np.testing.assert_array_equal(_frames_of(clip), w.frames)
    assert (w.start_s, w.end_s, w.short) == (0.0, n / 8.0, False) and clips.window_s == n / 8.0


def test_live_windows_take_the_runs():
    """The live loop samples its ring buffer with the same rule."""
    from jaxar.runtime.live import run_live

    class Cap:
        fps, name = 8.0, "numbered"

        def __init__(self):
            self.k = 0

        def read(self):
            if self.k >= 30:
                return None
            self.k += 1
            return np.full((32, 32, 3), 6 * (self.k - 1), np.uint8)

    rows = []
    run_live(Cap(), fixed("full", 32, 32), SegmentSpec(4, 5), 16, lambda clip: _frames_of(clip),
             window_s=100.0, stride_s=100.0, on_window=lambda w, p, lat: rows.append((w, p)),
             realtime_fps=1000.0, log=lambda m: None)
    (w, picked), = rows                               # the stream ends: one window over its 30 frames
    np.testing.assert_array_equal(w.frames, segment_indices(30, 4, 5))
    np.testing.assert_array_equal(picked, w.frames)
