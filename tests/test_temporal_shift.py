import numpy as np
import jax.numpy as jnp
import pytest

from jaxar.modules.temporal_shift import temporal_shift


def _clip(n=2, t=5, h=2, w=3, c=16):
    # every element unique: value encodes (n, t, h, w, c)
    return np.arange(n * t * h * w * c, dtype=np.float32).reshape(n, t, h, w, c) + 1.0


def test_exact_output_on_hand_built_tensor():
    x = _clip()
    y = np.asarray(temporal_shift(jnp.asarray(x), shift_div=8))
    fold = 16 // 8
    t = x.shape[1]
    for ti in range(t):
        # backward channels: frame t reads frame t+1, the last frame is zero
        if ti < t - 1:
            np.testing.assert_array_equal(y[:, ti, ..., :fold], x[:, ti + 1, ..., :fold])
        else:
            np.testing.assert_array_equal(y[:, ti, ..., :fold], 0.0)
        # forward channels: frame t reads frame t-1, the first frame is zero
        if ti > 0:
            np.testing.assert_array_equal(y[:, ti, ..., fold:2 * fold], x[:, ti - 1, ..., fold:2 * fold])
        else:
            np.testing.assert_array_equal(y[:, ti, ..., fold:2 * fold], 0.0)
    # untouched channels
    np.testing.assert_array_equal(y[..., 2 * fold:], x[..., 2 * fold:])


def test_small_literal_example():
    # T=3, one pixel, C=8 -> fold 1: channel 0 backward, channel 1 forward
    x = np.zeros((1, 3, 1, 1, 8), np.float32)
    x[0, :, 0, 0, 0] = [1, 2, 3]
    x[0, :, 0, 0, 1] = [4, 5, 6]
    x[0, :, 0, 0, 2] = [7, 8, 9]
    y = np.asarray(temporal_shift(jnp.asarray(x)))[0, :, 0, 0]
    np.testing.assert_array_equal(y[:, 0], [2, 3, 0])
    np.testing.assert_array_equal(y[:, 1], [0, 4, 5])
    np.testing.assert_array_equal(y[:, 2], [7, 8, 9])


@pytest.mark.parametrize("c", [4, 7])
def test_too_few_channels_is_identity_and_shape_kept(c):
    x = _clip(c=c)
    y = np.asarray(temporal_shift(jnp.asarray(x), shift_div=8))
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, x)   # fold = c // 8 = 0


def test_single_frame_zeroes_shifted_channels():
    x = _clip(t=1)
    y = np.asarray(temporal_shift(jnp.asarray(x)))
    np.testing.assert_array_equal(y[..., :4], 0.0)
    np.testing.assert_array_equal(y[..., 4:], x[..., 4:])
