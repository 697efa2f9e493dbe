import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.modules.ghost import GhostPointwise, ghost_channels


@pytest.mark.parametrize("features,ratio,expected", [
    (16, 2, (8, 8)), (15, 2, (8, 8)), (17, 2, (9, 9)), (12, 3, (4, 8)), (13, 3, (5, 10)),
    (7, 1, (7, 0)), (1, 2, (1, 1)),
])
def test_channel_split(features, ratio, expected):
    assert ghost_channels(features, ratio) == expected
    p, c = expected
    assert p + c >= features


@pytest.mark.parametrize("features,ratio", [(16, 2), (15, 2), (13, 3), (8, 1), (9, 4)])
def test_output_channels_and_param_shapes(features, ratio):
    x = jnp.ones((1, 2, 6, 6, 5))
    mod = GhostPointwise(features, ratio=ratio)
    v = jax.jit(mod.init)(jax.random.PRNGKey(0), x)
    y = jax.jit(mod.apply)(v, x)
    primary, cheap = ghost_channels(features, ratio)
    assert y.shape == (1, 2, 6, 6, features)
    assert v["params"]["primary"]["kernel"].shape == (5, primary)
    if cheap:
        assert v["params"]["cheap"]["kernel"].shape == (3, 3, 1, cheap)
    else:
        assert "cheap" not in v["params"]


def test_first_channels_are_primary_output_and_stride():
    x = jax.random.normal(jax.random.PRNGKey(1), (1, 2, 8, 8, 4))
    mod = GhostPointwise(6, ratio=2, stride=2)
    v = jax.jit(mod.init)(jax.random.PRNGKey(0), x)
    y = np.asarray(jax.jit(mod.apply)(v, x))
    assert y.shape == (1, 2, 4, 4, 6)
    k = np.asarray(v["params"]["primary"]["kernel"])
    prim = np.asarray(x)[:, :, ::2, ::2] @ k
    # eval-mode BN with initial statistics (mean 0, var 1): x / sqrt(1 + eps)
    np.testing.assert_allclose(y[..., :3], prim / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-5)


def test_bad_ratio():
    with pytest.raises(ValueError, match="ratio"):
        ghost_channels(8, 0)
