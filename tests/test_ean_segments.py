"""TSN segment sampling (jaxar/runtime/segments.py): one run per group, adjacent
frames inside a run, centred at evaluation, random in its group in training."""
import numpy as np
import pytest

from jaxar.runtime.segments import segment_indices, segment_starts


@pytest.mark.parametrize("num_frames,segments,run", [(120, 8, 1), (120, 8, 5), (43, 8, 5), (9, 8, 1)])
def test_train_runs_stay_in_their_group(num_frames, segments, run):
    rng = np.random.default_rng(0)
    span = num_frames - run + 1
    avg = span // segments
    seen = set()
    for _ in range(200):
        idx = segment_indices(num_frames, segments, run, "train", rng).reshape(segments, run)
        assert idx.min() >= 0 and idx.max() < num_frames
        assert (np.diff(idx, axis=1) == 1).all()                       # adjacent frames
        starts = idx[:, 0]
        assert ((starts >= np.arange(segments) * avg) & (starts < (np.arange(segments) + 1) * avg)).all()
        seen.update(starts.tolist())
    assert len(seen) == segments * avg                                 # every start is reachable


def test_eval_is_centred_and_deterministic():
    np.testing.assert_array_equal(segment_starts(80, 8, 1, "eval"), [5, 15, 25, 35, 45, 55, 65, 75])
    a = segment_indices(100, 8, 5, "eval")
    np.testing.assert_array_equal(a, segment_indices(100, 8, 5, "eval"))
    starts = a.reshape(8, 5)[:, 0]
    tick = (100 - 5 + 1) / 8
    np.testing.assert_array_equal(starts, (tick / 2 + tick * np.arange(8)).astype(int))


def test_short_videos_repeat_frames_instead_of_failing():
    idx = segment_indices(3, 8, 5, "eval")
    assert idx.shape == (40,) and idx.max() == 2 and idx.min() == 0
    assert (np.diff(segment_starts(3, 8, 1, "eval")) >= 0).all()


@pytest.mark.parametrize("args,message", [((0, 8), "positive"), ((10, 8, 1, "test"), "mode"),
                                          ((10, 8, 1, "train"), "rng")])
def test_bad_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        segment_indices(*args)
