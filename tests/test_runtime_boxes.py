"""Crop boxes for inference: boxes files (JSON, CSV), NTU skeletons."""
import json

import numpy as np
import pytest

from jaxar.runtime import boxes
from jaxar.runtime.crop import CropOptions, center_square, person_boxes
from jaxar.runtime.errors import InputError


def test_json_list_single_multi_and_empty_entries(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps([[10, 20, 30, 60], None, [[0, 0, 5, 5], [40, 40, 50, 55]], []]))
    frames = boxes.read_boxes_file(p)
    assert [f.shape for f in frames] == [(1, 4), (0, 4), (2, 4), (0, 4)]
    q = tmp_path / "o.json"
    q.write_text(json.dumps({"boxes": [[1, 2, 3, 4]]}))
    np.testing.assert_array_equal(boxes.read_boxes_file(q)[0], [[1, 2, 3, 4]])


def test_csv_rows_united_per_frame_and_declared_count(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("# frames: 5\nframe,x0,y0,x1,y1,score\n0,10,20,30,60,0.9\n2,0,0,5,5,0.5\n2,40,40,50,55,0.8\n")
    frames = boxes.read_boxes_file(p)
    assert len(frames) == 5 and [len(f) for f in frames] == [1, 0, 2, 0, 0]
    np.testing.assert_array_equal(frames[2][1], [40, 40, 50, 55])
    p.write_text("frame,x0,y0,x1,y1\n0,1,1,2,2\n3,1,1,2,2\n")
    assert len(boxes.read_boxes_file(p)) == 4                 # no declaration: largest index + 1


@pytest.mark.parametrize("content,message", [
    ("[[1, 2, 3]]", "frame 0: expected null"),
    ("[[5, 5, 1, 1]]", "x1 >= x0"),
    ("{\"b\": []}", "without a 'boxes' list"),
    ("[1, 2", "invalid JSON"),
    ("frame,x,y\n0,1,2\n", "CSV header must name"),
    ("frame,x0,y0,x1,y1\nzero,1,1,2,2\n", "line 2: frame must be an integer"),
    ("# frames: 2\nframe,x0,y0,x1,y1\n5,1,1,2,2\n", "beyond the declared 2 frames"),
])
def test_bad_boxes_files_name_the_file_and_problem(tmp_path, content, message):
    p = tmp_path / ("b.csv" if content.startswith(("frame", "#")) else "b.json")
    p.write_text(content)
    with pytest.raises(InputError, match=message) as e:
        boxes.read_boxes_file(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_detector_boxes_feed_the_person_crop_and_count_must_match():
    frames = [np.array([[100 + 2 * t, 50, 140 + 2 * t, 150]], float) for t in range(20)]
    frames[5] = np.zeros((0, 4))
    fb = boxes.from_detections(frames, 320, 240, "dets.json")
    pts = [np.concatenate([f[:, :2], f[:, 2:]]) if len(f) else np.zeros((0, 2)) for f in frames]
    np.testing.assert_allclose(fb.boxes, person_boxes(pts, 320, 240, CropOptions()).boxes)
    assert fb.box(3)[0] <= 106 and fb.box(3)[2] >= 146                  # contains the person
    fb.check_count(20)
    with pytest.raises(InputError, match="boxes for 20 frames, but the video has 25 frames"):
        fb.check_count(25)
    none = boxes.from_detections([np.zeros((0, 4))] * 3, 320, 240, "e.json")
    assert none.fallback and np.array_equal(none.box(0), center_square(320, 240))


def test_skeleton_crop_equals_the_training_crop(tmp_path):
    """--skeleton gives the crop boxes dataset preparation computes for the
    same video and skeleton file."""
    from data_pipelines.clip_prep import PrepOptions, prepare_clip
    from data_pipelines.ntu.skeleton import read_skeleton
    from tests.predict_fixtures import write_video
    from jaxar.runtime.skeleton import Body, format_skeleton
    rng = np.random.default_rng(0)
    frames = []
    for t in range(12):
        joints = np.zeros((25, 12))
        joints[:, 5] = 20 + 1.5 * t + rng.uniform(0, 15, 25)      # colorX
        joints[:, 6] = 10 + rng.uniform(0, 30, 25)                 # colorY
        frames.append([Body(72057594037931101, np.zeros(9), joints)] if t != 4 else [])
    skel = tmp_path / "a.skeleton"
    skel.write_text(format_skeleton(frames))
    video = write_video(tmp_path / "a.avi", 12, width=96, height=64)
    clip = prepare_clip(str(video), read_skeleton(skel).color_points(), PrepOptions(crop_mode="person", size=32))
    fb = boxes.from_skeleton(skel, 96, 64)
    np.testing.assert_allclose(np.stack([fb.box(i) for i in range(12)]), clip.crop_boxes, atol=1e-4)
    with pytest.raises(InputError, match="line"):
        bad = tmp_path / "b.skeleton"
        bad.write_text("3\n1\n")
        boxes.from_skeleton(bad, 96, 64)


def test_skeleton_crop_drops_ghost_bodies_like_preparation(tmp_path):
    """A 5-frame ghost body on the far side of the frame: --skeleton keeps the
    actor-only crop that dataset preparation uses (ghost filter first)."""
    import data_fixtures as fx
    from data_pipelines.ntu.skeleton import read_skeleton
    from jaxar.runtime import crop as crop_lib
    from jaxar.runtime.ghost_bodies import filter_ghost_bodies
    actor, ghost = (16, 24, 5, 12), (56, 24, 5, 12)
    bodies = [[actor, ghost] if 8 <= t < 13 else [actor] for t in range(24)]
    skel = tmp_path / "S001C001P001R001A001.skeleton"
    skel.write_text(fx.skeleton_text(fx.FakeSample("S001C001P001R001A001", frames=24, bodies=bodies)))
    fb = boxes.from_skeleton(skel, 64, 48)
    got = np.stack([fb.box(i) for i in range(24)])
    filtered, removed = filter_ghost_bodies(read_skeleton(skel))
    assert removed["short_lived"] == 1
    want = crop_lib.person_boxes(filtered.color_points(), 64, 48, crop_lib.CropOptions()).boxes
    unfiltered = crop_lib.person_boxes(read_skeleton(skel).color_points(), 64, 48, crop_lib.CropOptions()).boxes
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert not np.allclose(got, unfiltered, atol=1.0)       # the ghost would have widened it
