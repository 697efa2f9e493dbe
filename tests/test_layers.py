"""BatchNorm with PyTorch's running-variance convention, and the temporal
kernel initialiser's fan, each against a numpy reference."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.modules.layers import BN_EPS, BN_MOMENTUM, TemporalDepthwise, batch_norm, conv_init


def _bn_step(x, variables):
    bn = batch_norm(train=True)
    return bn.apply(variables, x, mutable=["batch_stats"])


def test_batchnorm_train_step_matches_pytorch_reference():
    """Output uses the biased batch variance; the running variance moves toward
    the unbiased one (n / (n - 1)), with momentum 0.1, as torch.nn.BatchNorm3d."""
    rng = np.random.default_rng(0)
    x = rng.normal(1.5, 2.0, size=(2, 3, 2, 2, 5)).astype(np.float32)     # n = 24 per channel
    params = {"scale": rng.uniform(0.5, 1.5, 5).astype(np.float32),
              "bias": rng.normal(size=5).astype(np.float32)}
    stats = {"mean": rng.normal(size=5).astype(np.float32),
             "var": rng.uniform(0.5, 2.0, 5).astype(np.float32)}
    y, upd = _bn_step(jnp.asarray(x), {"params": params, "batch_stats": stats})

    xf = x.reshape(-1, 5).astype(np.float64)
    n = xf.shape[0]
    mean, var_b = xf.mean(0), xf.var(0)                  # biased (ddof=0)
    want_y = (x - mean) / np.sqrt(var_b + BN_EPS) * params["scale"] + params["bias"]
    np.testing.assert_allclose(np.asarray(y), want_y, atol=2e-5)
    want_var = (1 - BN_MOMENTUM) * stats["var"] + BN_MOMENTUM * var_b * n / (n - 1)
    want_mean = (1 - BN_MOMENTUM) * stats["mean"] + BN_MOMENTUM * mean
    np.testing.assert_allclose(np.asarray(upd["batch_stats"]["var"]), want_var, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(upd["batch_stats"]["mean"]), want_mean, rtol=1e-5, atol=1e-6)
    # the biased update differs by momentum * var / (n - 1): large enough to be seen here
    biased = (1 - BN_MOMENTUM) * stats["var"] + BN_MOMENTUM * var_b
    assert np.abs(np.asarray(upd["batch_stats"]["var"]) - biased).min() > 1e-3


def test_batchnorm_eval_uses_running_statistics_and_init_leaves_them():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 2, 3, 3, 4)), jnp.float32)
    bn = batch_norm(train=False)
    variables = bn.init(jax.random.PRNGKey(0), x)
    np.testing.assert_array_equal(np.asarray(variables["batch_stats"]["var"]), np.ones(4))
    np.testing.assert_array_equal(np.asarray(variables["batch_stats"]["mean"]), np.zeros(4))
    stats = {"mean": jnp.full((4,), 0.5), "var": jnp.full((4,), 4.0)}
    y = bn.apply({"params": variables["params"], "batch_stats": stats}, x)
    np.testing.assert_allclose(np.asarray(y), (np.asarray(x) - 0.5) / np.sqrt(4.0 + BN_EPS), atol=1e-6)
    train_init = batch_norm(train=True).init(jax.random.PRNGKey(0), x)     # init does not update
    np.testing.assert_array_equal(np.asarray(train_init["batch_stats"]["var"]), np.ones(4))


@pytest.mark.parametrize("k,c", [(3, 512), (5, 256)])
def test_temporal_kernel_init_has_pytorch_fan_out(k, c):
    """(k, C) depthwise temporal kernel: std sqrt(2 / (k*C)) -- PyTorch's fan-out of a
    Conv3d(C, C, (k,1,1), groups=C) weight (C, 1, k, 1, 1) -- not sqrt(2 / C)."""
    x = jnp.zeros((1, k + 1, 1, 1, c))
    variables = TemporalDepthwise(k).init(jax.random.PRNGKey(0), x)
    w = np.asarray(variables["params"]["kernel"])
    assert w.shape == (k, c)
    want = np.sqrt(2.0 / (k * c))
    assert abs(w.std() / want - 1) < 0.05, (w.std(), want)
    # the same initialiser on a dense (C_in, C_out) kernel reads fan-out C_out
    dense = np.asarray(conv_init(jax.random.PRNGKey(0), (k, c)))
    assert abs(dense.std() / np.sqrt(2.0 / c) - 1) < 0.05
