"""Tests for data_pipelines.synthetic (the motion-only synthetic action set)."""
import numpy as np
import pytest

from data_pipelines import synthetic


def test_shapes_dtype_and_label_range():
    videos, labels = synthetic.generate(23, frames=5, size=24, seed=3, num_classes=4)
    assert videos.shape == (23, 5, 24, 24, 3)
    assert videos.dtype == np.uint8
    assert labels.shape == (23,)
    assert labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() < 4
    # Not a constant image: background texture + object give a wide range.
    assert videos.std() > 20


def test_class_names_are_unique_and_default_uses_all():
    assert len(set(synthetic.CLASS_NAMES)) == len(synthetic.CLASS_NAMES) >= 8
    _, labels = synthetic.generate(30, frames=2, size=8)
    assert set(labels.tolist()) == set(range(len(synthetic.CLASS_NAMES)))


@pytest.mark.parametrize("num_clips,num_classes", [(40, 10), (37, 10), (13, 4)])
def test_classes_are_balanced(num_clips, num_classes):
    labels = synthetic.labels_for(num_clips, seed=5, num_classes=num_classes)
    counts = np.bincount(labels, minlength=num_classes)
    assert counts.max() - counts.min() <= 1
    assert counts.sum() == num_clips


def test_deterministic_and_prefix_stable():
    a_v, a_l = synthetic.generate(12, frames=4, size=16, seed=7)
    b_v, b_l = synthetic.generate(12, frames=4, size=16, seed=7)
    np.testing.assert_array_equal(a_v, b_v)
    np.testing.assert_array_equal(a_l, b_l)
    # A shorter set with the same seed is a prefix (clip i depends on (seed, i) only).
    c_v, c_l = synthetic.generate(5, frames=4, size=16, seed=7)
    np.testing.assert_array_equal(c_v, a_v[:5])
    np.testing.assert_array_equal(c_l, a_l[:5])
    # Chunked generation with ``start`` gives the same clips.
    e_v, e_l = synthetic.generate(4, frames=4, size=16, seed=7, start=6)
    np.testing.assert_array_equal(e_v, a_v[6:10])
    np.testing.assert_array_equal(e_l, a_l[6:10])
    # Another seed gives other clips.
    d_v, _ = synthetic.generate(12, frames=4, size=16, seed=8)
    assert np.mean(d_v != a_v) > 0.5


@pytest.mark.parametrize("kwargs,word", [
    (dict(num_clips=-1), "num_clips"),
    (dict(num_clips=2, frames=1), "frames"),
    (dict(num_clips=2, size=4), "size"),
    (dict(num_clips=2, num_classes=1), "num_classes"),
    (dict(num_clips=2, num_classes=11), "num_classes"),
])
def test_bad_arguments_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        synthetic.generate(**kwargs)


def _pool8(frames):
    """(n, S, S, 3) uint8 -> (n, 8*8*3) block means."""
    n, s = frames.shape[:2]
    f = frames.astype(np.float32).reshape(n, 8, s // 8, 8, s // 8, 3)
    return f.mean((2, 4)).reshape(n, -1)


def _nearest_centroid_accuracy(x_tr, y_tr, x_te, y_te):
    classes = np.unique(y_tr)
    cents = np.stack([x_tr[y_tr == c].mean(0) for c in classes])
    d = ((x_te[:, None, :] - cents[None]) ** 2).sum(-1)
    return float((classes[d.argmin(1)] == y_te).mean())


def _motion_score(videos, axis):
    """Lucas-Kanade style sum of I_t * I_x over a clip (greyscale, 3x3 blurred).

    ``axis`` indexes the greyscale (n, T, H, W) array (-1: x, -2: y); positive
    when the content moves towards smaller coordinates along it."""
    g = videos.astype(np.float32).mean(-1)
    for ax in (-1, -2):
        g = (np.roll(g, 1, ax) + g + np.roll(g, -1, ax)) / 3
    grad = (np.roll(g, -1, axis) - np.roll(g, 1, axis)) / 2
    return ((g[:, 1:] - g[:, :-1]) * grad[:, :-1]).sum((1, 2, 3))


@pytest.fixture(scope="module")
def train_test():
    tr = synthetic.generate(400, frames=8, size=32, seed=synthetic.TRAIN_SEED)
    te = synthetic.generate(400, frames=8, size=32, seed=synthetic.TEST_SEED)
    return tr, te


def test_single_frame_does_not_identify_class_within_reversal_pairs(train_test):
    (v_tr, l_tr), (v_te, l_te) = train_test
    names = synthetic.CLASS_NAMES
    pairs = [(names.index(a), names.index(b)) for a, b in [
        ("move_left", "move_right"), ("move_up", "move_down"),
        ("rotate_cw", "rotate_ccw"), ("approach", "recede"), ("appear", "disappear")]]
    for a, b in pairs:
        m_tr, m_te = np.isin(l_tr, (a, b)), np.isin(l_te, (a, b))
        for t in (0, 7):
            acc = _nearest_centroid_accuracy(
                _pool8(v_tr[m_tr, t]), l_tr[m_tr], _pool8(v_te[m_te, t]), l_te[m_te])
            assert acc < 0.68, (names[a], names[b], t, acc)


def test_frame_differences_identify_translation_direction(train_test):
    _, (videos, labels) = train_test
    names = synthetic.CLASS_NAMES
    for neg, pos, axis in [("move_left", "move_right", -1), ("move_up", "move_down", -2)]:
        a, b = names.index(neg), names.index(pos)
        m = np.isin(labels, (a, b))
        score = _motion_score(videos[m], axis)
        pred = np.where(score > 0, a, b)
        assert (pred == labels[m]).mean() > 0.9, (neg, pos)
