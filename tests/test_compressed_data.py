"""Compressed-domain data: the synthetic set encoded in memory, the
``compressed_video`` TFDS builder (synthetic and from a prepared dataset), the
batch pipelines and the training sources. Tiny: 8-16 frames of 32x32."""
from __future__ import annotations


import ml_collections
import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV (av==18.1.0, requirements.txt) reads compressed video")

from data_pipelines import synthetic  # noqa: E402
from data_pipelines.clip_config import ClipConfig  # noqa: E402
from data_pipelines.compressed import pipeline  # noqa: E402
from data_pipelines.compressed.encode import compressed_synthetic  # noqa: E402
from data_pipelines.memory_pipeline import numpy_batches  # noqa: E402
from jaxar.runtime import compressed_video as cv  # noqa: E402
from jaxar.runtime.compressed_clip import KEYS, CompressedInput  # noqa: E402

T, S, N = 4, 32, 6
CLIP = ClipConfig(num_frames=T, size=S, area_range=(0.5, 1.0), flip=True)


@pytest.fixture(scope="module")
def synth():
    videos, labels = synthetic.generate(N, frames=12, size=S, seed=5, num_classes=4)
    streams, labels2 = compressed_synthetic(N, frames=12, size=S, seed=5, num_classes=4, gop=6,
                                            qscale=2)
    np.testing.assert_array_equal(labels, labels2)
    return videos, labels, streams


def _take(it, k):
    return [next(it) for _ in range(k)]


def test_batches_have_the_contract_and_the_teacher_frames_of_the_same_timestamps(synth):
    videos, labels, streams = synth
    comp = _take(pipeline.compressed_numpy_batches(streams, labels, 3, clip=CLIP, seed=2), 2)
    raw = _take(numpy_batches(videos, labels, 3, clip=CLIP, seed=2), 2)
    b = comp[0]
    assert {k: (v.shape, v.dtype) for k, v in b.items()} == {
        "iframe": ((3, T, S, S, 3), np.float32), "mv": ((3, T, S, S, 2), np.float32),
        "residual": ((3, T, S, S, 3), np.float32), "frames": ((3, T, S, S, 3), np.float32),
        "label": ((3,), np.int32)}
    for c, r in zip(comp, raw):
        np.testing.assert_array_equal(c["label"], r["label"])
        # same frames, crop and flip as the raw pipeline: only coding error differs
        # (0.15 normalised = 8.6 levels: 4:2:0 chroma of the colourful set)
        assert np.abs(c["frames"] - r["video"]).mean() < 0.15
    assert np.abs(comp[0]["frames"] - raw[1]["video"]).mean() > 0.5   # other clips: 0.79
    assert np.abs(b["mv"]).max() > 0.05 and np.abs(b["residual"]).max() <= 1.0


def test_batches_are_deterministic_and_resume_exactly(synth):
    _, labels, streams = synth
    kw = dict(clip=CLIP, seed=9, num_frames=[12] * N, prefetch=0)
    full = _take(pipeline.compressed_numpy_batches(streams, labels, 4, **kw), 3)
    resumed = _take(pipeline.compressed_numpy_batches(streams, labels, 4, start_step=2,
                                                      num_threads=2, **kw), 1)[0]
    for k in (*KEYS, "label"):
        np.testing.assert_array_equal(full[2][k], resumed[k], err_msg=k)
    other = next(pipeline.compressed_numpy_batches(streams, labels, 4, **{**kw, "seed": 10}))
    assert not np.array_equal(other["frames"], full[0]["frames"])


def test_evaluation_pads_and_stacks_clips(synth):
    _, labels, streams = synth
    cfg = ClipConfig(num_frames=T, size=S, num_clips=2)
    batches = list(pipeline.compressed_numpy_batches(streams, labels, 4, train=False, clip=cfg,
                                                     compressed=CompressedInput(accumulate=False)))
    assert len(batches) == 2
    assert batches[0]["mv"].shape == (4, 2, T, S, S, 2)
    np.testing.assert_array_equal(np.concatenate([b["mask"] for b in batches]), [1] * N + [0, 0])
    np.testing.assert_array_equal(batches[0]["label"], labels[:4])
    # clip 0 samples frame floor(0.25 * 12 / 4) = 0 first: an I-frame, so no motion
    first = batches[0]
    np.testing.assert_array_equal(first["mv"][:, 0, 0], 0)
    np.testing.assert_allclose(first["iframe"][:, 0, 0], first["frames"][:, 0, 0])


def test_a_broken_stream_names_the_example(synth):
    _, labels, streams = synth
    bad = list(streams)
    bad[1] = bad[1][:200]
    it = pipeline.compressed_numpy_batches(bad, labels, N, num_frames=[12] * N, prefetch=0,
                                           train=False, clip=ClipConfig(num_frames=T, size=S))
    with pytest.raises(cv.TruncatedStreamError, match="stream 1"):
        next(it)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds")


def test_tfds_synthetic_matches_the_in_memory_set(data_dir):
    from data_pipelines.compressed.builder import CompressedVideo, CompressedVideoConfig
    cfg = CompressedVideoConfig(name="tiny", num_train=5, num_test=3, frames=8, size=S,
                                num_classes=3, gop=4, qscale=4)
    b = CompressedVideo(config=cfg, data_dir=str(data_dir))
    b.download_and_prepare()
    src = b.as_data_source("test")
    streams, labels = compressed_synthetic(3, frames=8, size=S, seed=synthetic.TEST_SEED,
                                           num_classes=3, gop=4, qscale=4)
    assert [bytes(src[i]["stream"]) for i in range(3)] == streams
    assert b.info.metadata["encoding"]["gop"] == 4
    clip = ClipConfig(num_frames=T, size=S)
    got = list(pipeline.compressed_tfds_batches(b, "test", 2, train=False, clip=clip))
    want = list(pipeline.compressed_numpy_batches(streams, labels, 2, train=False, clip=clip))
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        for k in (*KEYS, "label", "mask"):
            np.testing.assert_array_equal(g[k], w[k], err_msg=k)


def test_tfds_from_a_prepared_dataset_reencodes_its_frames(data_dir):
    import tensorflow_datasets as tfds

    from data_pipelines.builders.synthetic_actions import SyntheticActions, SyntheticActionsConfig
    from data_pipelines.compressed.builder import CompressedVideo, CompressedVideoConfig
    source = SyntheticActions(config=SyntheticActionsConfig(name="src", num_train=3, num_test=2,
                                                            frames=8, size=S, num_classes=3),
                              data_dir=str(data_dir))
    source.download_and_prepare()
    b = CompressedVideo(config=CompressedVideoConfig(name="from_src", source="synthetic_actions/src",
                                                     gop=4, qscale=2),
                        data_dir=str(data_dir), source_builder=source)
    b.download_and_prepare()
    assert set(b.info.splits) == {"train", "test"}
    assert b.info.features["label"].names == list(synthetic.CLASS_NAMES[:3])
    raw = {ex["name"]: ex for ex in source.as_data_source("train")}
    enc = list(b.as_data_source("train"))
    assert sorted(ex["name"] for ex in enc) == sorted(raw)
    for ex in enc:
        assert ex["label"] == raw[ex["name"]]["label"] and ex["num_frames"] == 8
        clip = cv.extract(ex["stream"], range(8))
        # re-encoding error only (4:2:0 chroma of the colourful 32 px set: ~6 levels)
        assert np.abs(clip.frames.astype(int) - raw[ex["name"]]["video"]).mean() < 10
    # the registered NTU / video-folder configs need their source prepared first
    from data_pipelines import prepare
    empty = str(data_dir / "empty")
    missing = prepare.make_builder("compressed_video/video_folder",
                                   prepare.parse_args(["compressed_video/video_folder",
                                                       "--data_dir", empty]))
    assert missing.builder_config.source == "video_folder"
    assert tfds.builder("compressed_video/ntu60_xsub").builder_config.source == "ntu_rgbd/ntu60_xsub"
    with pytest.raises(FileNotFoundError, match="video_folder is not prepared"):
        missing.download_and_prepare()


def test_training_source_compressed_synthetic():
    from jaxar.registry import create_config
    from jaxar.train.data import build_source
    spec = ml_collections.ConfigDict(dict(
        source="compressed_synthetic", synthetic_train=6, synthetic_test=3, synthetic_frames=8,
        synthetic_size=S, crop_area=(1.0, 1.0), flip=False, num_eval_clips=1,
        compressed_accumulate=False, compressed_gop=4))
    model = create_config("cdkd_mobilenetv2").small(frames=T, size=S, num_classes=3)
    src = build_source(spec, model, host_batch=2)
    assert (src.num_train, src.num_eval, src.class_names) == (6, 3, list(synthetic.CLASS_NAMES[:3]))
    b = next(src.train_batches(0, 0))
    assert b["mv"].shape == (2, T, S, S, 2) and b["frames"].shape == (2, T, S, S, 3)
    evals = list(src.eval_batches())
    assert len(evals) == 2 and evals[-1]["mask"].tolist() == [1.0, 0.0]


def test_video_folder_end_to_end_by_name(tmp_path):
    """Real video files -> video_folder -> compressed_video/video_folder (by
    name, odd 341-pixel width cropped to even) -> batches by name."""
    import tensorflow_datasets as tfds

    from data_pipelines.builders.video_folder import VideoFolder
    from data_pipelines.video_io import write_video
    root, ddir = tmp_path / "manual", str(tmp_path / "tfds")
    rng = np.random.default_rng(0)
    for cls, step in (("left", -2), ("right", 2)):
        for i in range(2):
            tex = rng.integers(0, 255, (48, 96, 3), np.uint8)
            frames = np.stack([np.roll(tex, step * t, axis=1)[:, 16:80] for t in range(8)])
            (root / cls).mkdir(parents=True, exist_ok=True)
            write_video(str(root / cls / f"{i}.avi"), frames)
    VideoFolder(data_dir=ddir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    b = tfds.builder("compressed_video/video_folder", data_dir=ddir)
    b.download_and_prepare()
    assert b.info.features["label"].names == ["left", "right"]
    ex = b.as_data_source("train")[0]
    assert (ex["height"], ex["width"], ex["num_frames"]) == (256, 340, 8)   # 64x48 -> 341x256 -> even
    batches = list(pipeline.compressed_tfds_batches(
        "compressed_video/video_folder", "validation", 2, data_dir=ddir, train=False,
        clip=ClipConfig(num_frames=T, size=S), compressed=CompressedInput(accumulate=False)))
    assert len(batches) == 1 and batches[0]["mv"].shape == (2, T, S, S, 2)
    assert sorted(batches[0]["label"].tolist()) == [0, 1]
    # the content moves left / right: the mean horizontal motion has the class's sign
    for label, mv in zip(batches[0]["label"], batches[0]["mv"]):
        mean_dx = mv[1:, ..., 0].mean()
        assert (mean_dx < 0) if label == 0 else (mean_dx > 0), (label, mean_dx)
