"""The compressed-domain reader (jaxar.runtime.compressed_video / compressed_clip)
on tiny clips generated and encoded here (64x64, <= 24 frames)."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV (av==18.1.0, requirements.txt) reads compressed video")

from jaxar.runtime import compressed_clip as cc  # noqa: E402
from jaxar.runtime import compressed_video as cv  # noqa: E402

S = 64


def translating(n: int, dx: int, dy: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, 64, 64, 3): a smooth grey texture whose content moves by
    (dx, dy) pixels per frame (grey, so 4:2:0 chroma loses nothing)."""
    rng = np.random.default_rng(seed)
    big = S + 2 * 48
    tex = cv2.resize(rng.uniform(30, 220, (16, 16)).astype(np.float32), (big, big),
                     interpolation=cv2.INTER_CUBIC)
    tex = np.clip(tex, 0, 255).astype(np.uint8)[..., None].repeat(3, 2)
    return np.stack([tex[48 - dy * t:48 - dy * t + S, 48 - dx * t:48 - dx * t + S]
                     for t in range(n)])


@pytest.fixture(scope="module")
def moving():
    """24 frames translating by (+2, -1) px/frame, GOP 12, near-lossless."""
    return cv.encode_mpeg4(translating(24, 2, -1), gop=12, qscale=2)


def test_translation_gives_its_motion_vector_and_no_residual_per_frame(moving):
    clip = cv.extract(moving, range(24), accumulate=False)
    assert clip.is_iframe.tolist() == [t % 12 == 0 for t in range(24)]
    inner = np.s_[16:48, 16:48]   # whole macroblocks away from the edges
    for t in range(24):
        want = (0.0, 0.0) if t % 12 == 0 else (2.0, -1.0)
        np.testing.assert_array_equal(clip.mv[t][inner].reshape(-1, 2),
                                      np.tile(want, (32 * 32, 1)), err_msg=f"frame {t}")
        assert np.abs(clip.residual[t][inner]).mean() < 0.5, t


def test_translation_accumulates_back_to_the_iframe(moving):
    clip = cv.extract(moving, [5, 11, 12, 17], accumulate=True)
    np.testing.assert_array_equal(clip.gop_start, [0, 0, 12, 12])
    for row, k in zip(range(4), (5, 11, 0, 5)):
        # pixels whose whole trace back to the I-frame stays away from the edges
        # (where new content enters and blocks may be intra-coded)
        valid = np.s_[16:S - k - 16, 2 * k + 16:S - 16]
        mv = clip.mv[row][valid].reshape(-1, 2)
        np.testing.assert_array_equal(mv, np.tile((2.0 * k, -1.0 * k), (len(mv), 1)), err_msg=row)
        assert np.abs(clip.residual[row][valid]).mean() < 1.0, row
    # the I-frame of frame 12's GOP is frame 12 itself, decoded
    np.testing.assert_array_equal(clip.iframe[2], clip.frames[2])
    np.testing.assert_array_equal(clip.iframe[3], clip.frames[2])


@pytest.fixture(scope="module")
def synthetic_stream():
    """A synthetic-set clip (rotation: non-uniform motion, intra blocks, real residuals)."""
    from data_pipelines import synthetic
    videos, labels = synthetic.generate(10, frames=16, size=64, seed=3)
    k = int(np.flatnonzero(labels == synthetic.CLASS_NAMES.index("rotate_cw"))[0])
    return cv.encode_mpeg4(videos[k], gop=6, qscale=8)


def test_prediction_plus_residual_reproduces_the_decoded_frame(synthetic_stream):
    per = cv.extract(synthetic_stream, range(16), accumulate=False)
    acc = cv.extract(synthetic_stream, range(16), accumulate=True)
    assert np.abs(per.residual).max() > 5 and np.abs(acc.residual).max() > 5   # a real test
    h, w = per.frames.shape[1:3]
    ys, xs = np.mgrid[0:h, 0:w]
    for t in range(1, 16):
        pred = cv.motion_compensate(per.frames[t - 1], per.mv[t]) if t % 6 else per.frames[t]
        np.testing.assert_allclose(pred + per.residual[t], per.frames[t], atol=1e-3)
        # accumulated: the I-frame read at p - mv, plus the residual
        ox = (xs - acc.mv[t][..., 0]).astype(int)
        oy = (ys - acc.mv[t][..., 1]).astype(int)
        np.testing.assert_array_equal(acc.iframe[t][oy, ox] + acc.residual[t], acc.frames[t])
    np.testing.assert_array_equal(per.frames, acc.frames)


def test_block_motion_field_paints_blocks_and_rejects_future_references():
    dt = np.dtype([("source", "<i4"), ("w", "u1"), ("h", "u1"), ("src_x", "<i2"),
                   ("src_y", "<i2"), ("dst_x", "<i2"), ("dst_y", "<i2"), ("flags", "<u8"),
                   ("motion_x", "<i4"), ("motion_y", "<i4"), ("motion_scale", "<u2")])
    mvs = np.array([(-1, 16, 16, 0, 0, 8, 8, 0, -6, 2, 2),      # 16x16 at (0,0): (3, -1)
                    (-1, 8, 8, 0, 0, 20, 4, 0, 1, 0, 2)], dt)    # 8x8 at (16,0): (-0.5, 0)
    grid = cv.block_motion_field(mvs, 16, 32)
    assert grid.shape == (4, 8, 2)
    np.testing.assert_array_equal(grid[:4, :4], np.tile((3.0, -1.0), (4, 4, 1)))
    np.testing.assert_array_equal(grid[:2, 4:6], np.tile((-0.5, 0.0), (2, 2, 1)))
    assert not grid[2:, 4:].any() and not grid[:, 6:].any()     # uncoded: 0
    dense = cv.dense_motion_field(grid, 15, 30)
    assert dense.shape == (15, 30, 2) and dense[15 - 1, 0, 0] == 3.0 and dense[7, 23, 0] == -0.5 and dense[8, 23, 0] == 0.0
    mvs["source"][1] = 1
    with pytest.raises(cv.UnsupportedStreamError, match="B-frame"):
        cv.block_motion_field(mvs, 16, 32)


def test_truncated_stream_is_a_clear_error_naming_the_file(tmp_path, moving):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(moving[: len(moving) // 2])
    with pytest.raises(cv.TruncatedStreamError, match="cut.mp4"):
        cv.extract(str(cut), [0, 20])
    # a container whose index survives but whose frames are cut short
    full = cv.encode_mpeg4(translating(24, 2, -1), gop=12, qscale=2, container="avi")
    short = tmp_path / "short.avi"
    short.write_bytes(full[: int(len(full) * 0.6)])
    with pytest.raises(cv.TruncatedStreamError, match=r"short\.avi.*(truncated|corrupt)"):
        cv.extract(str(short), [23])


def test_files_without_a_video_stream_are_clear_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    with pytest.raises(cv.CompressedVideoError, match="notes.mp4"):
        cv.extract(str(text), [0])
    audio = tmp_path / "tone.wav"
    with av.open(str(audio), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            (np.sin(np.arange(800) / 5) * 3000).astype(np.int16)[None], format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(cv.NoVideoStreamError, match=r"tone\.wav: no video stream.*audio"):
        cv.extract(str(audio), [0])
    with pytest.raises(cv.CompressedVideoError, match="missing.mp4: no such file"):
        cv.probe(str(tmp_path / "missing.mp4"))


def _h264_with_b_frames(path, frames):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = S
        s.pix_fmt = "yuv420p"
        s.codec_context.options = {"bf": "2", "preset": "ultrafast"}
        s.codec_context.max_b_frames = 2
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_other_codecs_need_the_explicit_reencode(tmp_path):
    src = tmp_path / "h264.mp4"
    _h264_with_b_frames(src, translating(12, 1, 1))
    with pytest.raises(cv.UnsupportedStreamError, match=r"h264\.mp4: codec 'h264'.*re-encode"):
        cv.extract(str(src), [0, 5])
    with pytest.raises(cv.UnsupportedStreamError):
        cc.read_clip(str(src), cc.CompressedInput(frames=4, size=32))
    out = cc.read_clip(str(src), cc.CompressedInput(frames=4, size=32), reencode=True)
    assert out["mv"].shape == (4, 32, 32, 2)
    # the CLI writes the re-encoded file, which then reads without re-encoding
    dst = tmp_path / "out.mp4"
    r = subprocess.run([sys.executable, "-m", "data_pipelines.compressed.reencode", str(src),
                        str(dst), "--gop", "4"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    info = cv.probe(str(dst))
    assert (info.codec, info.frames, info.has_b_frames) == ("mpeg4", 12, False)
    clip = cv.extract(str(dst), range(12))
    assert clip.is_iframe.tolist() == [t % 4 == 0 for t in range(12)]
    r = subprocess.run([sys.executable, "-m", "data_pipelines.compressed.reencode",
                        str(tmp_path / "nope.mp4"), str(dst)], capture_output=True, text=True)
    assert r.returncode == 2 and "nope.mp4: no such file" in r.stderr


def test_missing_pyav_names_the_optional_dependency(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(cv.MissingPyAVError, match=r"av==18\.1\.0"):
        cv.extract(b"\x00" * 10, [0])


def test_clip_at_size_scales_motion_to_model_pixels_and_flips(moving):
    clip = cv.extract(moving, [1, 2], accumulate=False)
    spec = cc.CompressedInput(frames=2, size=32)
    box = np.array([0, 0, 64, 64], np.float32)
    out = cc.clip_at_size(clip, box, 32, spec=spec)
    assert {k: (v.shape, v.dtype) for k, v in out.items()} == {
        "iframe": ((2, 32, 32, 3), np.float32), "mv": ((2, 32, 32, 2), np.float32),
        "residual": ((2, 32, 32, 3), np.float32), "frames": ((2, 32, 32, 3), np.float32)}
    # (2, -1) source px at half size = (1, -0.5) model px, / MV_SCALE
    np.testing.assert_allclose(out["mv"][:, 8:24, 8:24].reshape(-1, 2),
                               np.tile((1 / cc.MV_SCALE, -0.5 / cc.MV_SCALE), (2 * 16 * 16, 1)),
                               atol=1e-6)
    assert np.abs(out["residual"]).max() <= 1.0
    flipped = cc.clip_at_size(clip, box, 32, spec=spec, flip=True)
    np.testing.assert_allclose(flipped["mv"][..., 0], -out["mv"][:, :, ::-1, 0])
    np.testing.assert_allclose(flipped["frames"], out["frames"][:, :, ::-1])
    raw = cc.clip_at_size(clip, box, 32, spec=spec, normalize=False)
    assert raw["frames"].dtype == np.uint8
    from jaxar.runtime.preprocess import normalise
    np.testing.assert_allclose(normalise(raw["iframe"]), out["iframe"], atol=1e-5)


def test_read_clip_samples_segment_centres_from_a_file(tmp_path, moving):
    path = tmp_path / "clip.mp4"
    path.write_bytes(moving)
    spec = cc.CompressedInput(frames=4, size=32, accumulate=False)
    out = cc.read_clip(str(path), spec, normalize=False)
    direct = cv.extract(moving, [3, 9, 15, 21], accumulate=False)   # floor((i + .5) * 24 / 4)
    box = np.array([0, 0, 64, 64], np.float32)
    want = cc.clip_at_size(direct, box, 32, spec=spec, normalize=False)
    for k in cc.KEYS:
        np.testing.assert_array_equal(out[k], want[k], err_msg=k)


def test_runtime_modules_stand_alone_without_jaxar_or_pyav(tmp_path, moving):
    """The bundle copies jaxar/runtime as ``runtime/``: the compressed-domain
    modules import from there alone, PyAV only when a video is read."""
    import shutil
    from pathlib import Path
    shutil.copytree(Path(cv.__file__).parent, tmp_path / "runtime")
    (tmp_path / "clip.mp4").write_bytes(moving)
    code = (
        "import sys; sys.modules['av'] = None\n"
        "import runtime.compressed_clip as cc, runtime.compressed_video as cv\n"
        "assert not any(m.split('.')[0] in ('jaxar', 'jax', 'tensorflow') for m in sys.modules)\n"
        "try:\n"
        "    cc.read_clip('clip.mp4', cc.CompressedInput(frames=2, size=16))\n"
        "except cv.MissingPyAVError as e:\n"
        "    print('missing:', e)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "missing: compressed-domain input needs PyAV" in r.stdout and "av==18.1.0" in r.stdout


def test_read_windows_decodes_once_and_equals_one_read_per_window(moving):
    spec = cc.CompressedInput(frames=4, size=32)
    windows = [[0, 3, 6, 9], [6, 9, 12, 15], [14, 14, 20, 23]]
    got = cc.read_windows(moving, windows, spec, normalize=False)
    assert len(got) == 3
    for w, g in zip(windows, got):
        want = cc.read_clip(moving, spec, indices=w, normalize=False)
        for k in cc.KEYS:
            np.testing.assert_array_equal(g[k], want[k], err_msg=(w, k))
    assert cc.read_windows(moving, [], spec) == []


def test_frame_count_without_a_header_counts_packets():
    raw = cv.encode_mpeg4(translating(24, 2, -1), gop=12, qscale=2, container="m4v")
    assert cv.probe(raw).frames == 0            # an elementary stream has no frame count
    assert cv.count_frames(raw) == 24
    np.testing.assert_array_equal(cv.extract(raw, [23, 11]).gop_start, [12, 0])
