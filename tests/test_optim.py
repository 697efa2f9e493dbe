"""PyTorch SGD semantics (L2 on the gradient before momentum), schedule, lr scaling."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxar.optim import cosine_schedule, scaled_lr, schedule_values, sgd_torch


def torch_sgd_reference(p, grads, lrs, momentum, wd):
    """torch.optim.SGD(momentum, weight_decay, dampening=0, nesterov=False).step(), by hand."""
    p = p.astype(np.float64).copy()
    buf = None
    for g, lr in zip(grads, lrs):
        d = g + wd * p
        buf = d.copy() if buf is None else momentum * buf + d
        p = p - lr * buf
    return p


def test_one_step_equals_pytorch_sgd():
    p0 = np.array([1.0, -2.0, 0.5], np.float32)
    g = np.array([0.1, 0.3, -0.2], np.float32)
    tx = sgd_torch(0.05, momentum=0.9, weight_decay=3e-4)
    params = {"w": jnp.asarray(p0)}
    upd, _ = tx.update({"w": jnp.asarray(g)}, tx.init(params), params)
    got = np.asarray(optax.apply_updates(params, upd)["w"])
    want = p0 - 0.05 * (g + 3e-4 * p0)          # first step: buf = g + wd * p
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(got, torch_sgd_reference(p0, [g], [0.05], 0.9, 3e-4), rtol=1e-6)


def test_three_steps_with_schedule_match_pytorch():
    rng = np.random.default_rng(1)
    p0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [rng.normal(size=(4, 3)).astype(np.float32) for _ in range(3)]
    sched = cosine_schedule(0.05, total_steps=3)
    tx = sgd_torch(sched, momentum=0.9, weight_decay=3e-4)
    params = {"w": jnp.asarray(p0)}
    state = tx.init(params)
    for g in grads:
        upd, state = tx.update({"w": jnp.asarray(g)}, state, params)
        params = optax.apply_updates(params, upd)
    lrs = schedule_values(sched, 3)
    want = torch_sgd_reference(p0, grads, lrs[:3], 0.9, 3e-4)
    np.testing.assert_allclose(np.asarray(params["w"]), want, rtol=1e-5, atol=1e-7)

    # what the train step does: the lr = 1 update scaled by the host-side lr
    unit = sgd_torch(1.0, momentum=0.9, weight_decay=3e-4)
    q = {"w": jnp.asarray(p0)}
    state = unit.init(q)
    for g, lr in zip(grads, lrs):
        upd, state = unit.update({"w": jnp.asarray(g)}, state, q)
        q = optax.apply_updates(q, jax.tree.map(lambda u: u * lr, upd))
    np.testing.assert_allclose(np.asarray(q["w"]), np.asarray(params["w"]), rtol=1e-6)


def test_decay_all_false_skips_1d_params():
    params = {"kernel": jnp.ones((2, 2)), "bias": jnp.ones((2,))}
    zero = {"kernel": jnp.zeros((2, 2)), "bias": jnp.zeros((2,))}
    tx = sgd_torch(1.0, momentum=0.0, weight_decay=0.5, decay_all=False)
    upd, _ = tx.update(zero, tx.init(params), params)
    np.testing.assert_allclose(np.asarray(upd["kernel"]), -0.5)
    np.testing.assert_allclose(np.asarray(upd["bias"]), 0.0)


def test_cosine_schedule_with_warmup():
    s = cosine_schedule(0.1, total_steps=110, warmup_steps=10)
    assert float(s(0)) == 0.0
    np.testing.assert_allclose(float(s(5)), 0.05, rtol=1e-6)
    np.testing.assert_allclose(float(s(10)), 0.1, rtol=1e-6)
    np.testing.assert_allclose(float(s(60)), 0.05, rtol=1e-5)       # half-way through the cosine
    np.testing.assert_allclose(float(s(110)), 0.0, atol=1e-9)
    no_warm = cosine_schedule(0.05, total_steps=100)
    np.testing.assert_allclose(float(no_warm(0)), 0.05)
    np.testing.assert_allclose(float(no_warm(50)), 0.025, rtol=1e-5)
    with pytest.raises(ValueError, match="warmup_steps"):
        cosine_schedule(0.1, total_steps=10, warmup_steps=10)


def test_linear_lr_scaling():
    assert scaled_lr(0.05, 256, None) == 0.05
    assert scaled_lr(0.05, 256, 64) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="base_batch"):
        scaled_lr(0.05, 64, 0)
