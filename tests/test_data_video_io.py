"""Dataset preparation reads videos with the application's reader: damaged
frames skipped (not the end), a missing frame rate refused, and a
variable-frame-rate video put on a constant-rate time line by the rule the
inference windows use, so training clips cover the seconds they claim."""
import numpy as np
import pytest

from data_pipelines.clip_prep import PrepOptions, prepare_clip
from data_pipelines.video_io import VIDEO_EXTENSIONS, VideoDecodeError, VideoReader
from jaxar.runtime import sampling
from jaxar.runtime.frames import SNAP
from tests.predict_fixtures import write_video
from tests.video_files import dropped_frames_pts, encode, h264_with_bad_frames, read_stamp, zero_avi_rates

pytest.importorskip("av", reason="PyAV (pinned in requirements.txt) writes the H.264 test files")


def test_damaged_frames_are_skipped_and_the_rest_is_read(tmp_path):
    bad = h264_with_bad_frames(tmp_path, bad=(3, 7, 12))
    with VideoReader(bad) as r:
        frames = list(r.frames())
        assert (r.decoded, r.bad_frames, r.fps) == (45, 3, 24.0)
    stamps = [read_stamp(f) for f in frames]
    assert len(frames) == 48                                  # the time line keeps its length ...
    for k in (3, 7, 12):                                      # ... the frame before stands in
        assert np.array_equal(frames[k], frames[k - 1])
    assert stamps[:3] == [0, 1, 2] and stamps[18:] == list(range(18, 48))   # clean again after a key frame


def test_variable_frame_rate_is_put_on_a_constant_rate_time_line(tmp_path):
    pts = dropped_frames_pts(90, 0.65, seed=4)                # 30 fps time line, 35 % dropped
    vfr = encode(tmp_path / "phone.mp4", n=len(pts), fps=30, pts=pts)
    with VideoReader(vfr) as r:
        frames = list(r.frames())
        fps = r.fps
    true_s = np.array(pts) / 30
    stamps = [read_stamp(f) for f in frames]
    pos = true_s * fps
    pos = np.where(np.abs(pos - np.round(pos)) < SNAP, np.round(pos), pos)   # timestamp rounding, frames.SNAP
    for k, s in enumerate(stamps):                            # stored frame k: the picture at k / fps
        assert s == pts[sampling.on_screen(pos, [k])[0]], (k, s)
    assert len(frames) == pytest.approx(3.0 * fps, abs=2)
    assert r.variable_rate and r.decoded == len(pts)
    clip = prepare_clip(str(vfr), None, PrepOptions(crop_mode="center", size=32))
    assert clip.source_frames == len(frames) and clip.fps == fps


def test_a_file_without_a_frame_rate_is_refused_unless_given(tmp_path):
    src = write_video(tmp_path / "ok.avi", 16, fps=8.0)
    norate = zero_avi_rates(src, tmp_path / "norate.avi")
    with pytest.raises(VideoDecodeError, match="norate.avi: the AVI header states no frame rate"):
        VideoReader(norate)
    raw = encode(tmp_path / "raw.h264", fmt="h264", n=12, fps=8)
    with pytest.raises(VideoDecodeError, match="states no frame rate"):
        VideoReader(raw)
    with VideoReader(norate, fps=8.0) as r:
        assert r.fps == 8.0 and len(list(r.frames())) == 16


def test_gif_and_raw_streams_are_video_files():
    assert {".gif", ".h264", ".ts"} <= set(VIDEO_EXTENSIONS)
