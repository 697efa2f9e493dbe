"""The "shifted" formulation (CPU training configs) computes the same maths as "lowered"."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.ops import conv as ops

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("stride,mult", [(1, 1), (2, 1), (1, 2), (2, 3)])
def test_shifted_depthwise_equals_lowered_with_gradients(stride, mult):
    x = RNG.normal(size=(2, 3, 9, 8, 4)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 1, 4 * mult)).astype(np.float32)

    def f(x, k, impl):
        out = ops.spatial_conv(x, k, stride, 4, impl)
        grads = jax.grad(lambda x, k: jnp.sum(jnp.sin(ops.spatial_conv(x, k, stride, 4, impl))),
                         (0, 1))(x, k)
        return out, grads

    f = jax.jit(f, static_argnums=2)
    (a, ga), (b, gb) = f(x, k, "shifted"), f(x, k, "lowered")
    assert a.shape == (2, 3, ops.spatial_out(9, 3, stride), ops.spatial_out(8, 3, stride), 4 * mult)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-4, atol=1e-4)


def test_shifted_leaves_dense_convs_and_temporal_conv_alone():
    x = RNG.normal(size=(2, 5, 6, 6, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 3, 8)).astype(np.float32)
    kt = RNG.normal(size=(3, 3)).astype(np.float32)
    f = jax.jit(lambda x, k, kt, impl: (ops.spatial_conv(x, k, 2, 1, impl),
                                        ops.temporal_depthwise(x, kt, impl)), static_argnums=3)
    for u, v in zip(f(x, k, kt, "shifted"), f(x, k, kt, "lowered")):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
