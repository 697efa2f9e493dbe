import numpy as np
import jax.numpy as jnp
import pytest

from jaxar.modules.simam import simam


def _reference(x, axes, lam=1e-4):
    x = x.astype(np.float64)
    n = np.prod([x.shape[a] for a in axes])
    mu = x.mean(axis=axes, keepdims=True)
    d = (x - mu) ** 2
    var = d.sum(axis=axes, keepdims=True) / (n - 1)
    e = d / (4 * (var + lam)) + 0.5
    return x / (1 + np.exp(-e))


@pytest.mark.parametrize("pool,axes", [("spatial", (2, 3)), ("spatiotemporal", (1, 2, 3))])
def test_matches_numpy_formula(pool, axes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 5, 6, 3)).astype(np.float32) * 3 + 1
    y = np.asarray(simam(jnp.asarray(x), pool=pool))
    np.testing.assert_allclose(y, _reference(x, axes), rtol=1e-5, atol=1e-5)


def test_pools_differ_and_unknown_pool_rejected():
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 4, 2)).astype(np.float32)
    x[:, 0] += 5.0   # one frame brighter: spatiotemporal statistics differ from per-frame ones
    a = np.asarray(simam(jnp.asarray(x), pool="spatial"))
    b = np.asarray(simam(jnp.asarray(x), pool="spatiotemporal"))
    assert np.abs(a - b).max() > 1e-3
    with pytest.raises(ValueError, match="pool"):
        simam(jnp.asarray(x), pool="channel")
