"""Tests for the video_folder builder (your own videos)."""
import collections
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import data_pipelines  # noqa: F401
from data_pipelines.builders.video_folder import (
    VideoFolder, VideoFolderConfig, plan_splits, read_person_boxes)
from data_pipelines.clip_prep import PrepOptions
from data_pipelines.video_io import write_video

W, H, T = 64, 48, 6


def _video(path, value, person=None, codec="MJPG"):
    frames = np.full((T, H, W, 3), value, np.uint8)
    if person is not None:
        x0, y0, x1, y1 = person
        frames[:, y0:y1, x0:x1] = (250, 30, 30)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_video(path, frames, codec=codec)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos") / "manual"
    for i in range(5):
        _video(str(root / "wave" / f"w{i}.avi"), 40 + i, person=(40, 10, 52, 40))
    for i in range(3):
        _video(str(root / "clap" / f"c{i}.mp4"), 90 + i, person=(4, 8, 20, 44), codec="mp4v")
    (root / "clap" / "notes.txt").write_text("not a video")
    with open(root / "person_boxes.csv", "w") as f:
        f.write("video,frame,x0,y0,x1,y1\n")
        for i in range(5):
            for t in range(T):
                f.write(f"wave/w{i}.avi,{t},40,10,52,40\n")
        for t in range(T):        # c0 has boxes; c1, c2 have none -> fallback
            f.write(f"clap/c0.mp4,{t},4,8,20,44\n")
    return root


def _build(root, data_dir, config=None, **kw):
    b = VideoFolder(config=config, data_dir=str(data_dir), **kw) if config else \
        VideoFolder(data_dir=str(data_dir), **kw)
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    return b


def test_split_plan_is_deterministic_and_stratified(folder):
    classes, splits = plan_splits(str(folder), 0.4, seed=0)
    assert classes == ["clap", "wave"]
    assert plan_splits(str(folder), 0.4, seed=0) == (classes, splits)
    val = [v for v, _ in splits["validation"]]
    assert sum(v.startswith("wave/") for v in val) == 2 and sum(v.startswith("clap/") for v in val) == 1
    all_videos = sorted(v for s in splits.values() for v, _ in s)
    assert len(all_videos) == 8 and "clap/notes.txt" not in all_videos
    assert plan_splits(str(folder), 0.0, seed=0)[1]["validation"] == []


def test_build_with_person_boxes(folder, tmp_path):
    b = _build(folder, tmp_path / "data", VideoFolderConfig(
        name="t", prep=PrepOptions(size=24), validation_fraction=0.4))
    assert b.info.features["label"].names == ["clap", "wave"]
    exs = {e["name"].decode(): e for s in ("train", "validation") for e in b.as_data_source(s)}
    assert len(exs) == 8
    counted = {s: sum(e["crop_source"].decode().startswith("fallback")
                      for e in b.as_data_source(s)) for s in ("train", "validation")}
    assert b.info.metadata["crop_fallbacks"] == counted and sum(counted.values()) == 2
    for name, ex in exs.items():
        assert ex["label"] == (0 if name.startswith("clap") else 1)
        assert ex["action_name"].decode() == name.split("/")[0]
        assert len(ex["video"]) == ex["num_frames"] == T and ex["video"][0].shape == (24, 24, 3)
        if name in ("clap/c1.mp4", "clap/c2.mp4"):
            assert ex["crop_source"].decode() == "fallback:no_boxes"
            np.testing.assert_array_equal(ex["crop_boxes"][0], [8, 0, 56, 48])
        else:
            assert ex["crop_source"].decode() == "person"
            box = ex["crop_boxes"][0]
            px0, py0, px1, py1 = (40, 10, 52, 40) if name.startswith("wave") else (4, 8, 20, 44)
            assert box[0] <= px0 and px1 <= box[2] and box[1] <= py0 and py1 <= box[3]
            # The person's centre, mapped into the stored crop, shows the red person.
            scale = 24 / (box[2] - box[0])
            u = int(((px0 + px1) / 2 - box[0]) * scale)
            v = int(((py0 + py1) / 2 - box[1]) * scale)
            colour = ex["video"][2][v, u].astype(int)
            assert colour[0] > 180 and colour[1] < 100, (name, colour)


def test_whole_frames_without_box_file_and_fixed_splits(tmp_path):
    root = tmp_path / "manual"
    _video(str(root / "train" / "a" / "x.avi"), 10)
    _video(str(root / "train" / "b" / "y.avi"), 20)
    _video(str(root / "val" / "a" / "z.avi"), 30)
    b = _build(root, tmp_path / "data")
    assert set(b.info.splits) == {"train", "val"}
    (ex,) = list(b.as_data_source("val"))
    assert ex["name"].decode() == "val/a/z.avi" and ex["label"] == 0
    assert ex["crop_source"].decode() == "none"
    assert ex["video"][0].shape == (256, round(256 * W / H), 3)   # short side 256


def test_bad_box_file_names_line(tmp_path):
    path = tmp_path / "person_boxes.csv"
    path.write_text("video,frame,x0,y0,x1,y1\na.avi,0,1,2,3,4\na.avi,x,1,2,3,4\n")
    with pytest.raises(ValueError, match=r"person_boxes\.csv, line 3: "):
        read_person_boxes(str(path))
    path.write_text("video,frame,x0,y0\n")
    with pytest.raises(ValueError, match="line 1: header"):
        read_person_boxes(str(path))


def test_corrupt_video_reported_then_skipped(tmp_path):
    root = tmp_path / "manual"
    _video(str(root / "a" / "good.avi"), 10)
    _video(str(root / "b" / "good.avi"), 20)
    (root / "b" / "broken.mp4").write_bytes(b"\x00" * 300)
    cfg = VideoFolderConfig(name="t", prep=PrepOptions(crop_mode="center", size=16),
                            validation_fraction=0.0)
    with pytest.raises(RuntimeError, match=r"broken\.mp4"):
        _build(root, tmp_path / "data", cfg)
    b = _build(root, tmp_path / "data", cfg, skip_corrupt=True)
    assert b.info.metadata["skipped_samples"] == ["b/broken.mp4"]
    assert b.info.splits["train"].num_examples == 2


def test_a_lone_split_folder_is_a_split(tmp_path):
    root = tmp_path / "manual"
    _video(str(root / "train" / "wave" / "a.avi"), 10)
    _video(str(root / "train" / "clap" / "b.avi"), 20)
    _video(str(root / "train" / "clap" / "c.avi"), 30)
    classes, splits = plan_splits(str(root), 0.2, seed=0)
    assert classes == ["clap", "wave"]
    assert splits == {"train": [("train/clap/b.avi", "clap"), ("train/clap/c.avi", "clap"),
                                ("train/wave/a.avi", "wave")]}
    (root / "test" / "wave").mkdir(parents=True)
    _video(str(root / "test" / "wave" / "d.avi"), 40)
    _video(str(root / "validation" / "clap" / "e.avi"), 50)
    _video(str(root / "clip.avi"), 60)                   # not in a class folder
    os.makedirs(root / "extra" / "wave")                 # not a split folder
    ignored = collections.defaultdict(list)
    classes, splits = plan_splits(str(root), 0.2, 0, ignored)
    assert list(splits) == ["train", "validation", "test"] and classes == ["clap", "wave"]
    assert splits["test"] == [("test/wave/d.avi", "wave")]
    assert dict(ignored) == {"video_outside_class_folder": ["clip.avi"],
                             "not_a_split_folder": ["extra"]}
    os.makedirs(root / "val")
    with pytest.raises(ValueError, match="both val/ and validation/"):
        plan_splits(str(root), 0.2, seed=0)


def test_single_class_is_warned_and_reported(tmp_path):
    root = tmp_path / "manual"
    _video(str(root / "train" / "wave" / "a.avi"), 10)
    _video(str(root / "train" / "wave" / "b.avi"), 20)
    (root / "train" / "wave" / "notes.txt").write_text("not a video")
    b = _build(root, tmp_path / "data", VideoFolderConfig(
        name="t", prep=PrepOptions(crop_mode="center", size=16)))
    assert set(b.info.splits) == {"train"} and b.info.features["label"].names == ["wave"]
    rep = b.info.metadata["preparation"]
    assert any("only one class ('wave')" in w for w in rep["warnings"])
    assert rep["ignored_files"] == {"not_video": {"count": 1, "examples": ["train/wave/notes.txt"]}}
    assert rep["samples_kept"] == {"train": 2, "total": 2}
    assert rep["clip_duration"]["train"]["median_frames"] == T
