"""Tests for the tf.data and in-memory input pipelines."""
import numpy as np
import pytest

from data_pipelines import input_pipeline as ip
from data_pipelines import sampling
from data_pipelines.memory_pipeline import normalise
from data_pipelines.builders import SyntheticActions, SyntheticActionsConfig

CLIP = ip.ClipConfig(num_frames=4, size=16)
NAME = "synthetic_actions/pipe"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tfds")
    cfg = SyntheticActionsConfig(name="pipe", num_train=23, num_test=11, frames=8, size=24)
    SyntheticActions(config=cfg, data_dir=str(d)).download_and_prepare()
    return str(d)


def _take(it, n):
    return [next(it) for _ in range(n)]


def _indexed_videos(n=13, frames=10, size=8):
    """Video i, frame t has the constant value 2*t + 20*i (decodable after normalisation)."""
    v = np.zeros((n, frames, size, size, 3), np.uint8)
    for i in range(n):
        for t in range(frames):
            v[i, t] = 2 * t + 19 * i
    return v


def _decode(batch_video, cfg):
    """Inverts the normalisation of constant frames: (B, T) pixel values."""
    raw = batch_video[..., 0, 0, 0] * cfg.std[0] * 255 + cfg.mean[0] * 255
    return np.rint(raw).astype(int)


# ----------------------------------------------------------------- tf.data path

def test_tfds_shapes_dtypes_and_normalisation(data_dir):
    (b,) = _take(ip.tfds_batches(NAME, "train", 5, data_dir=data_dir, clip=CLIP), 1)
    assert set(b) == {"video", "label"}
    assert b["video"].shape == (5, 4, 16, 16, 3) and b["video"].dtype == np.float32
    assert b["label"].shape == (5,) and b["label"].dtype == np.int32
    lo = (0 - 0.45) / 0.225
    hi = (1 - 0.45) / 0.225
    assert b["video"].min() >= lo - 1e-4 and b["video"].max() <= hi + 1e-4
    assert b["video"].std() > 0.3


def test_tfds_deterministic_and_exact_resume(data_dir):
    kw = dict(data_dir=data_dir, clip=CLIP, seed=5)
    full = _take(ip.tfds_batches(NAME, "train", 4, **kw), 9)   # > 1 epoch of 23 examples
    again = _take(ip.tfds_batches(NAME, "train", 4, **kw), 9)
    resumed = _take(ip.tfds_batches(NAME, "train", 4, start_step=6, **kw), 3)
    other = _take(ip.tfds_batches(NAME, "train", 4, data_dir=data_dir, clip=CLIP, seed=6), 1)
    for a, b in zip(full, again):
        np.testing.assert_array_equal(a["video"], b["video"])
    for a, b in zip(full[6:], resumed):
        np.testing.assert_array_equal(a["video"], b["video"])
        np.testing.assert_array_equal(a["label"], b["label"])
    assert not np.array_equal(other[0]["video"], full[0]["video"])


def test_tfds_eval_hosts_disjoint_and_covering(data_dir):
    cfg = ip.ClipConfig(num_frames=4, size=16)
    single = list(ip.tfds_batches(NAME, "test", 4, data_dir=data_dir, train=False, clip=cfg))
    rows = lambda batches: [(int(l), v.tobytes()) for b in batches
                            for l, v, m in zip(b["label"], b["video"], b["mask"]) if m == 1]
    want = rows(single)
    assert len(want) == 11 and len(single) == 3 and single[-1]["mask"].tolist() == [1, 1, 1, 0]
    got = []
    for host in range(3):
        batches = list(ip.tfds_batches(NAME, "test", 2, data_dir=data_dir, train=False, clip=cfg,
                                       process_index=host, process_count=3))
        assert len(batches) == sampling.eval_num_batches(11, 2, 3) == 2   # same on every host
        got += rows(batches)
    assert sorted(got) == sorted(want)        # disjoint (no duplicates) and covering


def test_tfds_eval_multi_clip_and_training_augmentation_differs(data_dir):
    cfg = ip.ClipConfig(num_frames=4, size=16, num_clips=3)
    (b,) = _take(ip.tfds_batches(NAME, "test", 2, data_dir=data_dir, train=False, clip=cfg), 1)
    assert b["video"].shape == (2, 3, 4, 16, 16, 3)
    assert not np.array_equal(b["video"][:, 0], b["video"][:, 2])   # different temporal clips


def test_tfds_errors(data_dir):
    with pytest.raises(ValueError, match="no split 'validation'"):
        ip.tfds_batches(NAME, "validation", 2, data_dir=data_dir)
    assert ip.split_size(NAME, "train", data_dir) == 23


# ----------------------------------------------------------------- in-memory path

def test_numpy_epoch_covers_each_example_once_and_resumes():
    videos = _indexed_videos(13)
    labels = np.arange(13)
    cfg = ip.ClipConfig(num_frames=5, size=8, area_range=(1, 1), aspect_range=(1, 1))
    it = ip.numpy_batches(videos, labels, 4, clip=cfg, seed=1)
    batches = _take(it, 13)                                 # 52 slots = 4 epochs of 13
    seen = np.concatenate([b["label"] for b in batches])
    for e in range(4):
        assert sorted(seen[13 * e:13 * (e + 1)]) == list(range(13))
    assert not np.array_equal(seen[:13], seen[13:26])       # reshuffled per epoch
    resumed = _take(ip.numpy_batches(videos, labels, 4, clip=cfg, seed=1, start_step=7), 6)
    for a, b in zip(batches[7:], resumed):
        np.testing.assert_array_equal(a["video"], b["video"])
        np.testing.assert_array_equal(a["label"], b["label"])


def test_numpy_frame_sampling_train_and_eval():
    videos = _indexed_videos(3, frames=10)
    cfg = ip.ClipConfig(num_frames=5, size=8, area_range=(1, 1), aspect_range=(1, 1))
    (b,) = _take(ip.numpy_batches(videos, np.arange(3), 3, clip=cfg, train=False), 1)
    vals = _decode(b["video"], cfg)
    for row, label in zip(vals, b["label"]):
        frames = (row - 19 * label) // 2
        assert frames.tolist() == [1, 3, 5, 7, 9]           # segment centres of 10 frames
    train = _take(ip.numpy_batches(videos, np.arange(3), 3, clip=cfg, seed=2), 20)
    picked = np.concatenate([(_decode(x["video"], cfg) - 19 * x["label"][:, None]) // 2
                             for x in train])
    for seg in range(5):                                     # one frame from each segment
        assert set(picked[:, seg]) == {2 * seg, 2 * seg + 1}


def test_numpy_hosts_disjoint_and_covering_in_eval_and_train():
    videos, labels = _indexed_videos(10), np.arange(10)
    cfg = ip.ClipConfig(num_frames=2, size=8)
    seen_eval, seen_train = [], []
    for host in range(3):
        kw = dict(clip=cfg, process_index=host, process_count=3)
        for b in ip.numpy_batches(videos, labels, 2, train=False, **kw):
            seen_eval += b["label"][b["mask"] == 1].tolist()
        lo, hi = sampling.shard_range(10, host, 3)
        (b,) = _take(ip.numpy_batches(videos, labels, hi - lo, seed=0, **kw), 1)
        seen_train.append(set(b["label"].tolist()))
        assert seen_train[-1] == set(range(lo, hi))         # a host only reads its shard
    assert sorted(seen_eval) == list(range(10))
    assert set().union(*seen_train) == set(range(10))


def test_numpy_random_resized_crop_and_flip():
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 255, size=(4, 4, 32, 32, 3), dtype=np.uint8)
    plain = ip.ClipConfig(num_frames=4, size=32, area_range=(1, 1), aspect_range=(1, 1))
    b = next(ip.numpy_batches(videos, np.arange(4), 4, clip=plain, train=False, prefetch=0))
    np.testing.assert_allclose(b["video"], normalise(videos, plain), atol=1e-5)
    crop = ip.ClipConfig(num_frames=4, size=32, area_range=(0.3, 0.5))
    c = next(ip.numpy_batches(videos, np.arange(4), 4, clip=crop, seed=0))
    assert not np.allclose(c["video"], normalise(videos[c["label"]], plain))
    flip = ip.ClipConfig(num_frames=4, size=32, area_range=(1, 1), aspect_range=(1, 1), flip=True)
    rows = [next(ip.numpy_batches(videos, np.arange(4), 4, clip=flip, seed=s)) for s in range(6)]
    flipped = [np.allclose(r["video"][j], normalise(videos[l], flip)[:, :, ::-1])
               for r in rows for j, l in enumerate(r["label"])]
    assert 0 < sum(flipped) < len(flipped)


def test_numpy_bad_inputs():
    with pytest.raises(ValueError, match="videos: expected uint8"):
        ip.numpy_batches(np.zeros((2, 3, 8, 8, 3), np.float32), np.zeros(2), 1)
    with pytest.raises(ValueError, match="labels: expected shape"):
        ip.numpy_batches(np.zeros((2, 3, 8, 8, 3), np.uint8), np.zeros(3), 1)
    with pytest.raises(ValueError, match="process_index"):
        ip.numpy_batches(np.zeros((2, 3, 8, 8, 3), np.uint8), np.zeros(2), 1, process_index=2,
                         process_count=2)
    with pytest.raises(ValueError, match="area_range"):
        ip.ClipConfig(area_range=(0, 1))


def test_synthetic_batches_for_the_training_demo():
    it = ip.synthetic_batches(8, num_clips=20, frames=8, source_size=32,
                              clip=ip.ClipConfig(num_frames=8, size=32), seed=0)
    b = next(it)
    assert b["video"].shape == (8, 8, 32, 32, 3) and b["label"].max() < 10


def test_uint8_output_matches_normalised_output(data_dir):
    kw = dict(data_dir=data_dir, seed=3)
    (f,) = _take(ip.tfds_batches(NAME, "train", 3, clip=CLIP, **kw), 1)
    raw_cfg = ip.ClipConfig(num_frames=4, size=16, normalize=False)
    (u,) = _take(ip.tfds_batches(NAME, "train", 3, clip=raw_cfg, **kw), 1)
    assert u["video"].dtype == np.uint8
    np.testing.assert_array_equal(u["label"], f["label"])
    np.testing.assert_allclose(normalise(u["video"], CLIP), f["video"], atol=0.6 / (255 * 0.225))
