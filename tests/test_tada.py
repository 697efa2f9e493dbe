import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.core import unfreeze

from jaxar.modules.tada import TAdaGate, tada_hidden
from jaxar.modules.uib import UIB3D

X = jax.random.normal(jax.random.PRNGKey(3), (2, 4, 8, 8, 8))


def _blocks():
    kw = dict(out_channels=8, expanded=16, stride=1)
    return UIB3D(**kw), UIB3D(**kw, tada_hidden=4)


def test_block_is_its_non_tada_self_at_init():
    plain, tada = _blocks()
    v = jax.jit(tada.init)(jax.random.PRNGKey(0), X)
    assert float(v["params"]["tada"]["beta"]) == 0.0
    shared = {k: val for k, val in v["params"].items() if k != "tada"}
    y_tada = jax.jit(tada.apply)(v, X)
    y_plain = jax.jit(plain.apply)({"params": shared, "batch_stats": v["batch_stats"]}, X)
    np.testing.assert_array_equal(np.asarray(y_tada), np.asarray(y_plain))


def test_output_changes_when_beta_changes():
    plain, tada = _blocks()
    v = unfreeze(jax.jit(tada.init)(jax.random.PRNGKey(0), X))
    y0 = np.asarray(jax.jit(tada.apply)(v, X))
    v["params"]["tada"]["beta"] = jnp.asarray(0.5)
    y1 = np.asarray(jax.jit(tada.apply)(v, X))
    assert np.abs(y1 - y0).max() > 1e-3


def test_gate_is_per_frame_and_channel_and_matches_formula():
    gate = TAdaGate(hidden=3)
    x = jax.random.normal(jax.random.PRNGKey(5), (2, 5, 4, 4, 6))
    v = unfreeze(jax.jit(gate.init)(jax.random.PRNGKey(0), x))
    v["params"]["beta"] = jnp.asarray(0.7)
    a = np.asarray(jax.jit(gate.apply)(v, x))
    assert a.shape == (2, 5, 1, 1, 6)
    p = jax.tree_util.tree_map(np.asarray, v["params"])
    ctx = np.asarray(x).mean(axis=(2, 3))
    h = np.maximum(ctx @ p["reduce"]["kernel"] + p["reduce"]["bias"], 0)
    hp = np.pad(h, ((0, 0), (1, 1), (0, 0)))
    kt = p["temporal"]["kernel"]
    h = hp[:, :-2] * kt[0] + hp[:, 1:-1] * kt[1] + hp[:, 2:] * kt[2] + p["temporal"]["bias"]
    g = h @ p["expand"]["kernel"] + p["expand"]["bias"]
    np.testing.assert_allclose(a[:, :, 0, 0], 1 + 0.7 * g, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("c,r,h", [(216, 27, 8), (432, 27, 16), (54, 27, 2), (4, 27, 1)])
def test_hidden_width(c, r, h):
    assert tada_hidden(c, r) == h
