"""Builds every ntu_rgbd protocol config with TFDS from tiny NTU-format manual dirs."""
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import data_fixtures as fx
import data_pipelines  # noqa: F401  (registers the builders)
from data_pipelines.builders.ntu_rgbd import NtuRgbd, NtuTask, make_config, prepare_ntu_sample
from data_pipelines.clip_prep import PrepOptions
from data_pipelines.ntu import protocols

SIZE = 32   # stored frame side for tests

# Expected split membership of data_fixtures.standard_samples(), worked out by
# hand from the protocol definitions (not with the code under test).
NTU60 = ["S001C001P001R001A001", "S001C002P003R001A002", "S002C003P002R002A003",
         "S002C001P007R001A050", "S003C002P008R001A004", "S001C002P005R002A008",
         "S004C003P009R001A005", "S005C001P013R002A006"]
NTU120_ONLY = ["S018C001P045R001A061", "S019C002P050R002A100", "S021C003P060R001A120"]
EXPECTED = {
    "ntu60_xsub": {"train": {"S001C001P001R001A001", "S002C003P002R002A003", "S003C002P008R001A004",
                             "S001C002P005R002A008", "S004C003P009R001A005", "S005C001P013R002A006"},
                   "test": {"S001C002P003R001A002", "S002C001P007R001A050"}},
    "ntu60_xview": {"train": {"S001C002P003R001A002", "S002C003P002R002A003", "S003C002P008R001A004",
                              "S001C002P005R002A008", "S004C003P009R001A005"},
                    "test": {"S001C001P001R001A001", "S002C001P007R001A050", "S005C001P013R002A006"}},
    "ntu120_xsub": {"train": {"S001C001P001R001A001", "S002C003P002R002A003", "S003C002P008R001A004",
                              "S001C002P005R002A008", "S004C003P009R001A005", "S005C001P013R002A006",
                              "S018C001P045R001A061", "S019C002P050R002A100"},
                    "test": {"S001C002P003R001A002", "S002C001P007R001A050", "S021C003P060R001A120"}},
    "ntu120_xset": {"train": {"S002C003P002R002A003", "S002C001P007R001A050", "S004C003P009R001A005",
                              "S018C001P045R001A061"},
                    "test": {"S001C001P001R001A001", "S001C002P003R001A002", "S003C002P008R001A004",
                             "S001C002P005R002A008", "S005C001P013R002A006", "S019C002P050R002A100",
                             "S021C003P060R001A120"}},
}
FALLBACK = {"S001C002P005R002A008": "fallback:missing_list",
            "S004C003P009R001A005": "fallback:no_skeleton_file",
            "S005C001P013R002A006": "fallback:no_body"}


def _config(protocol):
    return make_config(protocol, PrepOptions(size=SIZE))


def _build(config, data_dir, manual_dir, **kwargs):
    b = NtuRgbd(config=config, data_dir=str(data_dir), **kwargs)
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return b


def _examples(builder, split):
    return {ex["name"].decode(): ex for ex in builder.as_data_source(split)}


@pytest.fixture(scope="module")
def ntu_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntu")
    manual = root / "manual"
    fx.write_ntu_dir(str(manual), fx.standard_samples())
    builders = {p: _build(_config(p), root / "data", manual) for p in protocols.PROTOCOLS}
    return root, manual, builders


@pytest.mark.parametrize("protocol", list(EXPECTED))
def test_split_membership_and_labels(ntu_env, protocol):
    _, _, builders = ntu_env
    b = builders[protocol]
    assert set(b.info.splits) == {"train", "test"}
    for split, names in EXPECTED[protocol].items():
        exs = _examples(b, split)
        assert set(exs) == names
        for name, ex in exs.items():
            s = protocols.parse_name(name)
            assert ex["label"] == s.action - 1
            assert ex["action_name"].decode() == protocols.action_names(120)[s.action - 1]
            assert (ex["setup"], ex["camera"], ex["subject"], ex["replication"]) == (
                s.setup, s.camera, s.subject, s.replication)


def test_class_counts(ntu_env):
    _, _, builders = ntu_env
    assert builders["ntu60_xsub"].info.features["label"].num_classes == 60
    assert builders["ntu120_xset"].info.features["label"].num_classes == 120


def test_frames_crops_and_fallbacks(ntu_env):
    _, _, builders = ntu_env
    exs = {**_examples(builders["ntu120_xsub"], "train"), **_examples(builders["ntu120_xsub"], "test")}
    samples = {s.name: s for s in fx.standard_samples()}
    for name, ex in exs.items():
        s = samples[name]
        assert ex["num_frames"] == s.frames == len(ex["video"]) == ex["source_frames"]
        assert ex["video"][0].shape == (SIZE, SIZE, 3)
        np.testing.assert_array_equal(ex["source_size"], [fx.W, fx.H])
        boxes = ex["crop_boxes"]
        assert boxes.shape == (s.frames, 4)
        np.testing.assert_allclose(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1], rtol=1e-5)
        if name in FALLBACK:
            assert ex["crop_source"].decode() == FALLBACK[name]
            np.testing.assert_array_equal(boxes, np.tile([8, 0, 56, 48], (s.frames, 1)))
            continue
        assert ex["crop_source"].decode() == "person"
        for t, bodies in enumerate(s.bodies):
            if not bodies:
                assert np.isnan(ex["person_boxes"][t]).all()
                continue
            x0 = min(cx - hw for cx, _, hw, _ in bodies)
            x1 = max(cx + hw for cx, _, hw, _ in bodies)
            y0 = min(cy - hh for _, cy, _, hh in bodies)
            y1 = max(cy + hh for _, cy, _, hh in bodies)
            np.testing.assert_allclose(ex["person_boxes"][t], [x0, y0, x1, y1], atol=1e-4)
            # The skeleton lies inside the crop box (boxes stay in the frame here).
            assert boxes[t, 0] <= x0 and x1 <= boxes[t, 2] and boxes[t, 1] <= y0 and y1 <= boxes[t, 3]
            if len(bodies) == 1:   # the stored crop is centred on the painted person
                c = ex["video"][t][SIZE // 2, SIZE // 2].astype(int)
                assert c[0] > 150 and c[1] > 130 and c[2] < 120, (name, t, c)


def test_fallback_counts_in_metadata(ntu_env):
    _, _, builders = ntu_env
    fb = builders["ntu60_xsub"].info.metadata["crop_fallbacks"]
    assert fb["train"] == {"total": 3, "missing_list": 1, "no_body": 1, "no_skeleton_file": 1}
    assert fb["test"] == {"total": 0}
    fb = builders["ntu60_xview"].info.metadata["crop_fallbacks"]
    assert fb["train"]["total"] == 2 and fb["test"]["total"] == 1
    assert builders["ntu60_xsub"].info.metadata["skipped_samples"] == []


def test_zip_archives_give_the_same_dataset(ntu_env, tmp_path):
    root, manual, builders = ntu_env
    zipped = tmp_path / "zipped"
    fx.zip_ntu_dir(str(manual), str(zipped))
    assert sorted(os.listdir(zipped))[:2] == ["nturgbd_rgb_s001.zip", "nturgbd_rgb_s002.zip"]
    b = _build(_config("ntu60_xview"), tmp_path / "data", zipped)
    for split in ("train", "test"):
        got, want = _examples(b, split), _examples(builders["ntu60_xview"], split)
        assert set(got) == set(want)
        for name in got:
            np.testing.assert_array_equal(got[name]["crop_boxes"], want[name]["crop_boxes"])
            np.testing.assert_array_equal(np.stack(got[name]["video"]), np.stack(want[name]["video"]))
            assert got[name]["crop_source"] == want[name]["crop_source"]


def test_preparation_is_restartable(ntu_env, tmp_path):
    root, manual, _ = ntu_env
    cache_dirs = [d for d in (root / "data" / "downloads" / "prepared").iterdir()]
    assert len(cache_dirs) == 1            # all four protocols share the prepared samples
    files = sorted(cache_dirs[0].iterdir())
    assert len(files) == len(NTU60) + len(NTU120_ONLY)
    # A task whose result exists is not redone.
    path = str(files[0])
    mtime = os.path.getmtime(path)
    name = files[0].name.split("-")[0]
    task = NtuTask(name, None, None, False, PrepOptions(size=SIZE), path, False)
    assert prepare_ntu_sample(task) == (name, "cached", "", "")
    assert os.path.getmtime(path) == mtime


def _bad_dir(tmp_path, **bad):
    samples = [fx.FakeSample("S001C001P001R001A001"), fx.FakeSample("S001C002P003R001A002"),
               fx.FakeSample("S002C002P002R001A010", **bad)]
    manual = tmp_path / "manual"
    fx.write_ntu_dir(str(manual), samples)
    return manual


def test_truncated_skeleton_is_an_error_naming_file_and_line(tmp_path):
    manual = _bad_dir(tmp_path, truncate_skeleton=True)
    with pytest.raises(RuntimeError) as err:
        _build(_config("ntu60_xsub"), tmp_path / "data", manual)
    msg = str(err.value)
    assert "1 sample(s) could not be prepared" in msg
    assert "S002C002P002R001A010.skeleton, line " in msg and "truncated" in msg


def test_unreadable_video_error_then_skip_with_flag(tmp_path):
    manual = _bad_dir(tmp_path, corrupt_video=True)
    with pytest.raises(RuntimeError, match=r"S002C002P002R001A010_rgb\.avi"):
        _build(_config("ntu60_xsub"), tmp_path / "data", manual)
    b = _build(_config("ntu60_xsub"), tmp_path / "data", manual, skip_corrupt=True, workers=2)
    assert b.info.metadata["skipped_samples"] == ["S002C002P002R001A010"]
    names = set(_examples(b, "train")) | set(_examples(b, "test"))
    assert names == {"S001C001P001R001A001", "S001C002P003R001A002"}


def test_missing_manual_dir_explains_what_to_do(tmp_path):
    # TFDS itself raises (AssertionError) with our MANUAL_DOWNLOAD_INSTRUCTIONS.
    with pytest.raises((AssertionError, FileNotFoundError), match="nturgbd_rgb_s001.zip"):
        _build(_config("ntu60_xsub"), tmp_path / "data", tmp_path / "nothing")


def test_registered_names():
    assert "ntu_rgbd" in tfds.list_builders()
    assert make_config("ntu60_xview") is make_config("ntu60_xview", PrepOptions())
    assert make_config("ntu60_xview", PrepOptions(size=SIZE)).name.startswith("ntu60_xview_")
    b = tfds.builder("ntu_rgbd/ntu120_xset", data_dir="/nonexistent-tfds-dir")
    assert b.builder_config.protocol == "ntu120_xset"
    assert "nturgb+d_skeletons" in b.MANUAL_DOWNLOAD_INSTRUCTIONS
