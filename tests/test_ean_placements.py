"""Table 6's mid-network SOI-Tr (``ean_r50_soitr345`` / ``ean_r50_soitr45``).

The paper does not say how a SOI-Tr inside the network hands a map to the next
stage; here (docs/ean.md) each updated object token is scattered back to its
object's positions through that object's saliency map and added to the stage's
map through a 1x1x1 conv + zero-initialised BN. Checked: the module is an exact
identity at initialisation and not otherwise; the scattered update equals the
direct formula ``U[t, h, w] = sum_k O[k, t, h, w] F'[k, t]``; the whole network
at init equals the same network without the mid-network SOI-Trs.
"""
import jax
import jax.numpy as jnp
import numpy as np

from jaxar.initialization import init_variables
from jaxar.modules.soi_transformer import SOITransformer
from jaxar.registry import create_config
from tests.ean_fixtures import eval_fn


def _module_and_vars(seed=0):
    mod = SOITransformer(reduction=4, objects=3, heads=2, depth=1, saliency_reduction=2, output="map")
    x = jax.random.normal(jax.random.PRNGKey(seed), (2, 3, 4, 4, 16))
    v = mod.init(jax.random.PRNGKey(1), x)
    return mod, jax.tree_util.tree_map(np.asarray, v), x


def test_map_soitr_is_identity_at_init_and_scatters_tokens_back():
    mod, v, x = _module_and_vars()
    np.testing.assert_array_equal(np.asarray(mod.apply(v, x)), np.asarray(x))
    moved = jax.tree_util.tree_map(lambda a: a, v)
    moved["params"]["fuse_bn"]["scale"] = np.ones_like(v["params"]["fuse_bn"]["scale"])
    out, inter = mod.apply(moved, x, capture_intermediates=True, mutable=["intermediates"])
    update = np.asarray(out) - np.asarray(x)
    assert np.abs(update).max() > 1e-3
    # the update is expand(sum_k O_k F'_k) normalised by BN (eval: running stats 0/1)
    o = np.asarray(inter["intermediates"]["saliency"]["__call__"][0])           # (N, T, H, W, K)
    tokens = np.asarray(inter["intermediates"]["block0"]["__call__"][0])        # (N, K*T, c)
    n, t, hh, ww, k = o.shape
    f = tokens.reshape(n, k, t, -1)
    u = np.einsum("nktc,nthwk->nthwc", f, o)
    w = moved["params"]["expand"]["kernel"][0, 0, 0]                           # (c, C)
    bn = moved["params"]["fuse_bn"]
    want = (u @ w) / np.sqrt(1 + 1e-5) * bn["scale"] + bn["bias"]
    np.testing.assert_allclose(update, want, rtol=1e-4, atol=1e-5)


def test_network_at_init_equals_the_network_without_mid_soitr():
    cfg = create_config("ean_r50_soitr45").small(eab_stages=(1, 2))
    v = init_variables(cfg.build(), jax.random.PRNGKey(0), jnp.zeros((1, *cfg.input_shape)))
    v = jax.tree_util.tree_map(np.asarray, v)
    assert "soitr4" in v["params"] and "soitr" in v["params"]
    plain = cfg.replace(soitr_stages=(5,))
    pv = {col: {m: t for m, t in v[col].items() if m != "soitr4"} for col in v}
    x = jax.random.normal(jax.random.PRNGKey(3), (2, *cfg.input_shape))
    full = np.asarray(eval_fn(cfg)(v, x))
    np.testing.assert_allclose(full, np.asarray(eval_fn(plain)(pv, x)), rtol=1e-5,
                               atol=1e-6 * np.abs(full).max())
    assert float(np.abs(v["params"]["soitr4"]["fuse_bn"]["scale"]).max()) == 0.0
