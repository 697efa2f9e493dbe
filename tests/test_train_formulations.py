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


def test_shifted_temporal_depthwise_gradients_equal_lowered_and_conv3d():
    x = RNG.normal(size=(2, 5, 3, 4, 6)).astype(np.float32)
    k = RNG.normal(size=(3, 6)).astype(np.float32)

    def f(impl):
        fn = lambda x, k: jnp.sum(jnp.cos(ops.temporal_depthwise(x, k, impl)) * x)
        return jax.jit(jax.value_and_grad(fn, (0, 1)))(x, k)

    (a, ga), (b, gb), (c, gc) = f("shifted"), f("lowered"), f("conv3d")
    np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(a, c, rtol=1e-5)
    for u, v, w in zip(ga, gb, gc):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(u), np.asarray(w), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size,stride", [(7, 2), (6, 2), (5, 1)])
def test_shifted_depthwise_odd_sizes_and_bfloat16(size, stride):
    """Odd/even spatial sizes with stride 2 (the dilated input gradient's edge padding),
    and a bfloat16 pass whose kernel gradient is accumulated in float32."""
    x = RNG.normal(size=(1, 2, size, size + 1, 3)).astype(np.float32)
    k = RNG.normal(size=(3, 3, 1, 3)).astype(np.float32)

    def f(impl, dtype):
        fn = lambda x, k: jnp.sum(ops.spatial_conv(x.astype(dtype), k, stride, 3, impl)
                                  .astype(jnp.float32) ** 2)
        return jax.jit(jax.value_and_grad(fn, (0, 1)))(x, k)

    for dtype, tol in ((jnp.float32, 1e-4), (jnp.bfloat16, 5e-2)):
        (a, ga), (b, gb) = f("shifted", dtype), f("lowered", jnp.float32)
        np.testing.assert_allclose(a, b, rtol=tol)
        for u, v in zip(ga, gb):
            np.testing.assert_allclose(np.asarray(u, np.float32), np.asarray(v), rtol=tol,
                                       atol=tol * float(np.abs(np.asarray(v)).max()))


@pytest.mark.slow
def test_whole_network_shifted_gradients_equal_lowered():
    """Loss and every parameter gradient of a train-mode step agree across formulations."""
    from jaxar.initialization import init_variables
    from jaxar.registry import create_model

    x = jnp.asarray(RNG.normal(size=(2, 4, 32, 32, 3)).astype(np.float32))
    y = jnp.asarray([1, 3])

    def grads(impl):
        model = create_model("x3d_ugt_tiny", frames=4, size=32, impl=impl)
        v = init_variables(model, jax.random.PRNGKey(0), x)

        def loss(params):
            logits, _ = model.apply({"params": params, "batch_stats": v["batch_stats"]}, x,
                                    train=True, mutable=["batch_stats"],
                                    rngs={"dropout": jax.random.PRNGKey(1)})
            return jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(2), y])
        return jax.jit(jax.value_and_grad(loss))(v["params"])

    (la, ga), (lb, gb) = grads("shifted"), grads("lowered")
    np.testing.assert_allclose(la, lb, rtol=1e-5)
    flat_a = jax.tree_util.tree_leaves_with_path(ga)
    flat_b = jax.tree_util.tree_leaves(gb)
    assert len(flat_a) == len(flat_b) > 50
    # float32 summation order differs.  Compare each leaf's error to its own norm, with a
    # floor for leaves whose gradient is analytically zero (a BN bias feeding the next
    # train-mode BN through a linear map) and so pure rounding noise.
    floor = 1e-5 * max(float(np.linalg.norm(np.asarray(v))) for v in flat_b)
    for (path, u), v in zip(flat_a, flat_b):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        err, ref = np.linalg.norm(u - v), np.linalg.norm(v)
        assert err <= 2e-3 * ref + floor, (jax.tree_util.keystr(path), err, ref)


@pytest.mark.parametrize("frames,height", [(20, 18), (17, 5)])
def test_chunked_kernel_gradients_equal_per_tap_and_lowered(frames, height):
    """Kernel gradients summed in chunks (spatial taps chunk the frames, temporal taps
    the rows: 20 -> 10 chunks of 2, 18 -> 9 of 2, 5 -> 5 of 1; a prime 17 has no
    divisor from 4 to 16, so its taps fall back to one reduction each) equal one
    reduction per tap and the autodiff of the lowered formulation."""
    from jaxar.ops import shifted

    x = RNG.normal(size=(1, frames, height, 5, 3)).astype(np.float32)
    ks = RNG.normal(size=(3, 3, 1, 3)).astype(np.float32)
    kt = RNG.normal(size=(3, 3)).astype(np.float32)

    def loss(impl):
        def fn(x, ks, kt):
            h = ops.temporal_depthwise(x, kt, impl)
            return jnp.sum(jnp.sin(ops.spatial_conv(h, ks, 2, 3, impl)))
        return jax.jit(jax.value_and_grad(fn, (0, 1, 2)))

    lc, gc = loss("shifted")(x, ks, kt)
    ll, gl = loss("lowered")(x, ks, kt)
    np.testing.assert_allclose(lc, ll, rtol=1e-5)
    for u, w in zip(gc, gl):
        np.testing.assert_allclose(np.asarray(u), np.asarray(w), rtol=1e-4, atol=1e-4)

    # the chunked reduction itself against one reduction per tap, on both chunked axes
    g = RNG.normal(size=(1, frames, height, 5, 3)).astype(np.float32)
    windows = [RNG.normal(size=g.shape).astype(np.float32) for _ in range(4)]
    want = shifted.tap_sums_per_tap(windows, g)
    assert want.shape == (4, 3)
    for axis in (1, 2):
        chunked = shifted._chunks(g.shape[axis]) >= shifted.MIN_CHUNKS
        assert chunked == (g.shape[axis] != 17)
        got = jax.jit(shifted.tap_sums, static_argnums=2)(windows, g, axis)
        # the same products summed in another order: float32 rounding of sums whose
        # terms reach ~|want|.max() (a lost or doubled chunk is off by O(1) or more)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5,
                                   atol=1e-5 * max(1.0, float(np.abs(want).max())))
        hlo = jax.jit(shifted.tap_sums, static_argnums=2).lower(windows, g, axis).as_text()
        assert ("stablehlo.slice" in hlo) == chunked    # chunks are slices; per tap has none
        assert "stablehlo.slice" not in jax.jit(shifted.tap_sums_per_tap).lower(windows, g).as_text()


@pytest.mark.parametrize("stride,impl", [(2, "shifted"), (1, "lowered")])
def test_shift_after_pre_depthwise_equals_shift_before(stride, impl):
    """The training block shifts the pre-depthwise conv's output; shifting its input
    instead (the diagram's order) gives the same tensor, so the same batch statistics,
    and the same gradients with respect to the input and the kernel."""
    from jaxar.modules.layers import SpatialConv
    from jaxar.modules.temporal_shift import temporal_shift

    x = jnp.asarray(RNG.normal(size=(2, 4, 9, 8, 16)).astype(np.float32))
    conv = SpatialConv(16, 3, stride, depthwise=True, impl=impl)
    v = conv.init(jax.random.PRNGKey(0), x)

    def after(v, x):
        return temporal_shift(conv.apply(v, x), 8)

    def before(v, x):
        return conv.apply(v, temporal_shift(x, 8))

    ya, yb = jax.jit(after)(v, x), jax.jit(before)(v, x)
    assert ya.shape == (2, 4, 9 // stride + 9 % stride, 8 // stride, 16)
    assert float(jnp.abs(ya[:, 0] - conv.apply(v, x)[:, 0]).max()) > 0   # the shift moved channels
    np.testing.assert_allclose(np.asarray(ya), np.asarray(yb), rtol=1e-5, atol=1e-5)
    grad = lambda f: jax.jit(jax.grad(lambda v, x: jnp.sum(jnp.sin(f(v, x))), (0, 1)))(v, x)
    for u, w in zip(jax.tree_util.tree_leaves(grad(after)), jax.tree_util.tree_leaves(grad(before))):
        np.testing.assert_allclose(np.asarray(u), np.asarray(w), rtol=1e-4, atol=1e-4)
