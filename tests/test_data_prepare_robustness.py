"""Data preparation against bad input: truncated videos, replaced sources,
unwritable outputs, empty results, unreadable skeletons, ghost bodies, bad
names, and the preparation report. Tiny files in the exact NTU formats."""
import contextlib
import glob
import json
import os
import resource
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

import data_fixtures as fx
import data_pipelines  # noqa: F401  (registers the builders)
from data_pipelines import prepare as prepare_cli
from data_pipelines.builders.common import PreparationError
from data_pipelines.builders.ntu_rgbd import NtuRgbd, NtuTask, make_config, prepare_ntu_sample
from data_pipelines.builders.report import REPORT_FILE
from data_pipelines.clip_prep import PrepOptions
from data_pipelines.ntu import protocols
from data_pipelines.ntu.ghost_bodies import filter_ghost_bodies
from data_pipelines.ntu.skeleton import parse_skeleton
from data_pipelines.ntu.sources import Location, index_manual_dir
from data_pipelines.video_io import OutputWriteError, TruncatedVideoError, VideoReader

SIZE = 32
GOOD = "S001C001P001R001A001"
TRUNCATED = "S001C002P003R001A002"       # xsub test split
BAD_SKELETON = "S002C002P002R001A010"
GHOST = "S003C001P004R001A011"
# 24 frames: the actor on the left throughout; a ghost on the right for 5 frames.
GHOST_BODIES = [[(16, 24, 5, 12)] + ([(56, 24, 5, 12)] if 10 <= t < 15 else [])
                for t in range(24)]


def _config():
    return make_config("ntu60_xsub", PrepOptions(size=SIZE))


def _build(data_dir, manual_dir, **kwargs):
    b = NtuRgbd(config=_config(), data_dir=str(data_dir), **kwargs)
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
    return b


def _examples(builder):
    return {ex["name"].decode(): ex for split in builder.info.splits
            for ex in builder.as_data_source(split)}


def _report(builder):
    with open(os.path.join(builder.data_dir, REPORT_FILE)) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    """A manual dir with one sample per problem, plus files that are not used."""
    root = tmp_path_factory.mktemp("bad")
    manual = root / "manual"
    fx.write_ntu_dir(str(manual), [
        fx.FakeSample(GOOD),
        fx.FakeSample(TRUNCATED, frames=40, truncate_video=0.3),
        fx.FakeSample(BAD_SKELETON, truncate_skeleton=True),
        fx.FakeSample(GHOST, frames=24, bodies=GHOST_BODIES),
    ])
    extras = manual / "extras"
    extras.mkdir()
    (extras / "readme.txt").write_text("notes")
    (extras / "S000C001P001R001A001_rgb.avi").write_bytes(b"not used")   # setups start at 1
    shutil.copy(manual / "nturgb+d_skeletons" / f"{GOOD}.skeleton",
                extras / "S017C003P001R001A001.skeleton")                 # no video
    return root, manual


@pytest.fixture(scope="module")
def lenient(bad_dir):
    root, manual = bad_dir
    return _build(root / "data", manual, skip_corrupt=True)


def test_truncated_video_fails_the_strict_build_naming_it(bad_dir, tmp_path):
    _, manual = bad_dir
    with pytest.raises(PreparationError) as err:
        _build(tmp_path / "data", manual)
    msg = str(err.value)
    assert f"{TRUNCATED}_rgb.avi: decoded only" in msg and "of the 40 frames" in msg
    assert "below 90 %" in msg


def test_truncated_video_is_skipped_and_listed(lenient):
    assert TRUNCATED not in _examples(lenient)
    rep = _report(lenient)
    assert rep["skipped"] == {"truncated_video": [TRUNCATED]}
    assert "decoded only" in rep["skipped_messages"][TRUNCATED]
    assert lenient.info.metadata["skipped_samples"] == [TRUNCATED]


def test_fewer_frames_than_the_skeleton_is_truncation(tmp_path):
    fx.write_ntu_dir(str(tmp_path), [fx.FakeSample(GOOD, frames=10)])
    path = str(tmp_path / "nturgb+d_rgb" / f"{GOOD}_rgb.avi")
    with VideoReader(path) as r:
        assert sum(1 for _ in r.frames(expected_frames=11)) == 10   # within 90 %
    with VideoReader(path) as r, pytest.raises(TruncatedVideoError, match="of the 12 frames the skeleton"):
        list(r.frames(expected_frames=12))


def test_unreadable_skeleton_keeps_the_video_with_the_fallback(lenient, bad_dir, tmp_path):
    ex = _examples(lenient)[BAD_SKELETON]
    assert ex["crop_source"].decode() == "fallback:unreadable_skeleton"
    np.testing.assert_array_equal(ex["crop_boxes"][0], [8, 0, 56, 48])
    assert _report(lenient)["crop_fallbacks"]["train"]["unreadable_skeleton"] == 1
    # Strict mode still fails, also when the fallback is already cached.
    root, manual = bad_dir
    shutil.copytree(root / "data" / "downloads", tmp_path / "data" / "downloads")
    with pytest.raises(PreparationError, match=rf"{BAD_SKELETON}\.skeleton, line") as err:
        _build(tmp_path / "data", manual)
    assert f"{TRUNCATED}_rgb.avi" in str(err.value)


def test_ghost_body_is_filtered_before_the_crop(lenient):
    ex = _examples(lenient)[GHOST]
    assert ex["crop_source"].decode() == "person"
    # The tight box is the actor's alone in every frame, ghost frames included.
    np.testing.assert_allclose(ex["person_boxes"], np.tile([11, 12, 21, 36], (24, 1)), atol=1e-4)
    assert ex["crop_boxes"][:, 2].max() < 48          # never widened towards x = 61
    assert _report(lenient)["ghost_bodies"] == {"samples": 1, "short_lived": 1,
                                                "implausible_spread": 0}


def test_ghost_rules():
    actor, ghost = (16, 24, 5, 12), (56, 24, 5, 12)
    text = fx.skeleton_text(fx.FakeSample(GHOST, frames=24, bodies=GHOST_BODIES))
    seq, removed = filter_ghost_bodies(parse_skeleton(text))
    assert removed == {"short_lived": 1, "implausible_spread": 0}
    assert all(len(bodies) == 1 and bodies[0].body_id == fx.BODY_IDS[0] for bodies in seq.frames)
    # A second body present throughout but wider than tall (x-spread > 0.8 y-spread).
    wide = [[actor, (40, 30, 20, 4)] for _ in range(24)]
    seq, removed = filter_ghost_bodies(parse_skeleton(fx.skeleton_text(
        fx.FakeSample(GHOST, frames=24, bodies=wide))))
    assert removed == {"short_lived": 0, "implausible_spread": 1}
    # Two real actors, a lone short body, a lone wide body: nothing removed.
    for bodies in ([[actor, ghost] for _ in range(24)], [[ghost] for _ in range(5)],
                   [[(40, 30, 20, 4)] for _ in range(24)]):
        seq0 = parse_skeleton(fx.skeleton_text(fx.FakeSample(GHOST, frames=len(bodies),
                                                             bodies=bodies)))
        seq, removed = filter_ghost_bodies(seq0)
        assert seq is seq0 and not any(removed.values())


def test_report_contents(lenient):
    rep = _report(lenient)
    assert rep == lenient.info.metadata["preparation"]
    assert rep["dataset"] == f"ntu_rgbd/{_config().name}" and rep["samples_found"] == 4
    assert rep["samples_kept"] == {"train": 3, "total": 3}
    assert rep["ignored_files"]["not_ntu_name"]["count"] == 2
    assert any(e.endswith("S000C001P001R001A001_rgb.avi")
               for e in rep["ignored_files"]["not_ntu_name"]["examples"])
    assert rep["ignored_files"]["skeleton_without_video"]["count"] == 1
    d = rep["clip_duration"]["train"]
    # GOOD and BAD_SKELETON have 8 frames, GHOST 24, all at 30 fps.
    assert d["median_frames"] == 8 and d["median_fps"] == 30.0
    assert d["median_seconds"] == pytest.approx(8 / 30, abs=1e-4)
    assert d["max_seconds"] == pytest.approx(24 / 30, abs=1e-4)
    assert lenient.info.metadata["clip_duration"]["train"] == d
    # ... and training reads it as the default inference window (checkpoint meta -> jaxar.predict)
    from jaxar.train.data import tfds_clip_seconds
    window = tfds_clip_seconds(lenient.info, "ntu_rgbd/ntu60_xsub", "train[:90%]")
    assert window["seconds"] == pytest.approx(d["median_seconds"]) and "3 source videos" in window["source"]
    assert tfds_clip_seconds(lenient.info, "ntu_rgbd/ntu60_xsub", "validation")["seconds"] is None
    # 1 of 3 kept samples is a fallback crop (> 5 %): warned.
    assert any("full-frame fallback crop" in w for w in rep["warnings"])


def test_replaced_source_is_prepared_again(tmp_path):
    manual, data = tmp_path / "manual", tmp_path / "data"
    fx.write_ntu_dir(str(manual), [fx.FakeSample(GOOD, frames=8)])
    assert _examples(_build(data, manual))[GOOD]["num_frames"] == 8
    fx.write_ntu_dir(str(manual), [fx.FakeSample(GOOD, frames=12)])   # replace both files
    shutil.rmtree(data / "ntu_rgbd")              # delete the built dataset, keep the cache
    assert _examples(_build(data, manual))[GOOD]["num_frames"] == 12
    (cache,) = (data / "downloads" / "prepared").iterdir()
    assert len(os.listdir(cache)) == 1            # the stale clip is gone


@contextlib.contextmanager
def _file_size_limit(nbytes):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_write_errors_are_fatal_and_leave_no_partial_file(tmp_path, capsys):
    manual = tmp_path / "manual"
    fx.write_ntu_dir(str(manual), [fx.FakeSample(GOOD, frames=24)])
    out = str(tmp_path / "cache" / f"{GOOD}-x.npz")
    os.makedirs(os.path.dirname(out))
    task = NtuTask(GOOD, Location(str(manual / "nturgb+d_rgb" / f"{GOOD}_rgb.avi")),
            Location(str(manual / "nturgb+d_skeletons" / f"{GOOD}.skeleton")), False,
            PrepOptions(size=SIZE), out, True)
    with _file_size_limit(2000), pytest.raises(OutputWriteError, match=f"{out}: cannot write"):
        prepare_ntu_sample(task)
    assert os.listdir(os.path.dirname(out)) == []
    # The CLI, with --skip_corrupt: an error naming the output, exit code 2, not a skip.
    data = tmp_path / "data"
    with _file_size_limit(2000):
        rc = prepare_cli.main(["ntu_rgbd/ntu60_xsub", "--manual_dir", str(manual), "--data_dir",
                               str(data), "--workers", "1", "--size", str(SIZE), "--skip_corrupt"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write prepared sample" in err and "SKIPPED" not in err
    assert not [p for p in glob.glob(str(data / "**" / "*"), recursive=True) if ".tmp" in p]
    assert not NtuRgbd(config=_config(), data_dir=str(data)).is_prepared()


def test_nothing_left_fails_the_build(tmp_path, capsys):
    manual = tmp_path / "manual"
    fx.write_ntu_dir(str(manual), [fx.FakeSample(GOOD, corrupt_video=True),
                                   fx.FakeSample(TRUNCATED, frames=40, truncate_video=0.3)])
    argv = ["ntu_rgbd/ntu60_xsub", "--manual_dir", str(manual), "--data_dir",
            str(tmp_path / "data"), "--workers", "1", "--size", str(SIZE), "--skip_corrupt"]
    for _ in range(2):                 # a rerun tries again and fails again
        assert prepare_cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "none of the 2 samples could be prepared" in err
    assert not NtuRgbd(config=_config(), data_dir=str(tmp_path / "data")).is_prepared()


def test_setup_zero_is_not_an_ntu_name(tmp_path):
    with pytest.raises(ValueError, match="S000 is not a valid number"):
        protocols.parse_name("S000C001P001R001A001")
    with pytest.raises(ValueError, match="A000"):
        protocols.parse_name("S001C001P001R001A000")
    fx.write_ntu_dir(str(tmp_path), [fx.FakeSample("S000C001P001R001A001")])
    index = index_manual_dir(str(tmp_path))
    assert index.videos == {} and index.skeletons == {} and len(index.ignored) == 2


def test_empty_manual_dir_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "manual").mkdir()
    for manual in (tmp_path / "manual", tmp_path / "missing"):
        assert prepare_cli.main(["ntu_rgbd/ntu60_xsub", "--manual_dir", str(manual),
                                 "--data_dir", str(tmp_path / "data")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(manual) in err
        assert ("is empty" if manual.name == "manual" else "does not exist") in err


def test_zip_extraction_separates_read_and_write_errors(tmp_path):
    import zipfile
    from data_pipelines.video_io import local_copy
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("nturgb+d_rgb/x_rgb.avi", os.urandom(50_000))
    with _file_size_limit(10_000), pytest.raises(OutputWriteError, match="cannot write the extracted copy"):
        with local_copy(str(archive), "nturgb+d_rgb/x_rgb.avi", tmp_dir=str(tmp_path)):
            pass
    assert sorted(os.listdir(tmp_path)) == ["a.zip"]             # temporary copy removed
    with pytest.raises(KeyError):                                  # a read error stays one
        with local_copy(str(archive), "missing.avi", tmp_dir=str(tmp_path)):
            pass
