"""The lowered (2-D) and the straightforward 3-D formulation compute the same maths."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.ops import conv as ops
from jaxar.initialization import init_variables
from jaxar.registry import create_model

KEY = jax.random.PRNGKey(0)


def _x(shape, seed=1):
    return jax.random.normal(jax.random.PRNGKey(seed), shape)


@pytest.mark.parametrize("stride,groups,cout", [(1, 1, 6), (2, 1, 6), (1, 4, 4), (2, 4, 8)])
def test_spatial_conv_formulations_agree(stride, groups, cout):
    x = _x((2, 3, 9, 8, 4))
    k = _x((3, 3, 4 // groups, cout), 2)
    a = ops.spatial_conv(x, k, stride, groups, "lowered")
    b = ops.spatial_conv(x, k, stride, groups, "conv3d")
    assert a.shape == (2, 3, ops.spatial_out(9, 3, stride), ops.spatial_out(8, 3, stride), cout)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_temporal_depthwise_formulations_agree_and_match_numpy():
    x = _x((2, 5, 3, 3, 4))
    k = _x((3, 4), 2)
    a = np.asarray(ops.temporal_depthwise(x, k, "lowered"))
    b = np.asarray(ops.temporal_depthwise(x, k, "conv3d"))
    xn, kn = np.asarray(x), np.asarray(k)
    xp = np.pad(xn, ((0, 0), (1, 1), (0, 0), (0, 0), (0, 0)))
    ref = xp[:, :-2] * kn[0] + xp[:, 1:-1] * kn[1] + xp[:, 2:] * kn[2]
    np.testing.assert_allclose(a, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b, ref, rtol=1e-5, atol=1e-5)


def test_pointwise_stride_equals_subsampled_matmul():
    x = _x((1, 2, 6, 6, 3))
    k = _x((3, 5), 2)
    y = np.asarray(ops.pointwise(x, k, stride=2))
    np.testing.assert_allclose(y, np.asarray(x)[:, :, ::2, ::2] @ np.asarray(k), rtol=1e-5, atol=1e-5)


def test_unknown_impl_rejected():
    with pytest.raises(ValueError, match="impl"):
        ops.temporal_depthwise(_x((1, 2, 2, 2, 2)), _x((3, 2)), "cudnn")


def test_whole_network_formulations_agree_in_train_and_eval():
    x = _x((2, 4, 32, 32, 3))
    lowered = create_model("x3d_ugt_tiny", frames=4, impl="lowered")
    conv3d = create_model("x3d_ugt_tiny", frames=4, impl="conv3d")
    v = init_variables(lowered, KEY, x)

    def run(model):
        def f(v, x):
            return model.apply(v, x), model.apply(v, x, train=True, mutable=["batch_stats"],
                                                  rngs={"dropout": KEY})
        return jax.jit(f)(v, x)

    ea, (ya, sa) = run(lowered)
    eb, (yb, sb) = run(conv3d)
    np.testing.assert_allclose(np.asarray(ea), np.asarray(eb), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ya), np.asarray(yb), rtol=1e-4, atol=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(sa), jax.tree_util.tree_leaves(sb)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
