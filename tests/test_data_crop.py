"""Tests for the person-centric crop boxes and cropping."""
import numpy as np
import pytest

from data_pipelines import crop

W, H = 640, 360


def _walker(t_count=30, jitter=0.0, seed=0):
    """A person box that walks right; optional per-frame jitter."""
    rng = np.random.default_rng(seed)
    pts = []
    for t in range(t_count):
        cx, cy = 200 + 5 * t + rng.normal(0, jitter), 180 + rng.normal(0, jitter)
        pts.append(np.array([[cx - 30, cy - 80], [cx + 30, cy + 80], [cx, cy]]))
    return pts


def _contains(boxes, points):
    for b, p in zip(boxes, points):
        if len(p):
            assert b[0] <= p[:, 0].min() + 1e-3 and p[:, 0].max() <= b[2] + 1e-3
            assert b[1] <= p[:, 1].min() + 1e-3 and p[:, 1].max() <= b[3] + 1e-3


@pytest.mark.parametrize("mode", ["per_frame", "per_clip"])
def test_boxes_are_square_padded_and_contain_points(mode):
    pts = _walker(jitter=8)
    res = crop.person_boxes(pts, W, H, crop.CropOptions(box_mode=mode, padding=0.1))
    assert res.boxes.shape == (30, 4) and res.boxes.dtype == np.float32
    assert not res.fallback
    np.testing.assert_allclose(res.boxes[:, 2] - res.boxes[:, 0], res.boxes[:, 3] - res.boxes[:, 1],
                               rtol=1e-5)
    _contains(res.boxes, pts)
    side = res.boxes[:, 2] - res.boxes[:, 0]
    assert side.min() >= 160 * 1.2 - 1e-3          # padding: 10 % of the long side each side
    if mode == "per_clip":
        assert np.all(res.boxes == res.boxes[0])
    else:
        assert res.boxes[-1, 0] > res.boxes[0, 0] + 100   # follows the walk


def test_smoothing_reduces_jitter_but_keeps_containment():
    pts = _walker(jitter=10)
    raw = crop.person_boxes(pts, W, H, crop.CropOptions(smooth_sigma=0))
    smooth = crop.person_boxes(pts, W, H, crop.CropOptions(smooth_sigma=3))
    jerk = lambda b: np.abs(np.diff((b[:, 0] + b[:, 2]) / 2, n=2)).mean()
    assert jerk(smooth.boxes) < 0.5 * jerk(raw.boxes)
    _contains(smooth.boxes, pts)


def test_missing_frames_are_interpolated_and_marked():
    pts = _walker(10)
    pts[4] = np.zeros((0, 2))
    pts[5] = np.full((3, 2), np.nan)
    res = crop.person_boxes(pts, W, H, crop.CropOptions(smooth_sigma=0, padding=0))
    assert np.isnan(res.tight[4]).all() and np.isnan(res.tight[5]).all()
    cx = (res.boxes[:, 0] + res.boxes[:, 2]) / 2
    np.testing.assert_allclose(cx[3:7], [215, 220, 225, 230], atol=1e-3)


def test_no_points_falls_back_to_centre_square():
    res = crop.person_boxes([np.zeros((0, 2))] * 5, W, H)
    assert res.fallback
    np.testing.assert_array_equal(res.boxes, np.tile([140, 0, 500, 360], (5, 1)))
    assert crop.person_boxes([], W, H).fallback


def test_out_of_frame_shift_vs_zero_pad():
    pts = [np.array([[600.0, 100.0], [639.0, 300.0]])] * 3   # person at the right edge
    shifted = crop.person_boxes(pts, W, H, crop.CropOptions(out_of_frame="shift"))
    padded = crop.person_boxes(pts, W, H, crop.CropOptions(out_of_frame="zero_pad"))
    assert shifted.boxes[:, 2].max() <= W + 1e-3 and shifted.boxes[:, 0].min() >= 0
    assert padded.boxes[:, 2].max() > W
    _contains(shifted.boxes, pts)
    big = [np.array([[0.0, 0.0], [639.0, 359.0]])] * 2         # larger than the frame height
    b = crop.person_boxes(big, W, H, crop.CropOptions(out_of_frame="shift")).boxes
    np.testing.assert_allclose(b[:, 3] - b[:, 1], 360)
    assert b[:, 1].min() >= 0 and b[:, 3].max() <= H + 1e-3


def test_crop_and_resize_zero_fills_outside():
    frame = np.full((40, 60, 3), 200, np.uint8)
    out = crop.crop_and_resize(frame, np.array([40, -10, 80, 30], np.float32), 40, 40)
    assert out.shape == (40, 40, 3)
    assert (out[15:, :20] == 200).all()       # inside the frame
    assert (out[:10] == 0).all() and (out[:, 20:] == 0).all()


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="box_mode"):
        crop.CropOptions(box_mode="x")
    with pytest.raises(ValueError, match="out_of_frame"):
        crop.CropOptions(out_of_frame="clip")
    with pytest.raises(ValueError, match="padding"):
        crop.CropOptions(padding=-1)
