"""bfloat16 mixed precision: the step computes in bf16, keeps float32 state."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar import parallel
from jaxar.losses import make_loss_fn
from jaxar.optim import sgd_torch
from jaxar.train.config import load_config, model_config
from jaxar.train.state import create_train_state
from jaxar.train.step import compile_steps


@pytest.mark.slow      # compiles a full train step (forward, backward, SGD) in bfloat16
def test_bfloat16_step_keeps_float32_state():
    cfg = model_config(load_config("experiments/smoke_tiny.py", ["model.dtype=bfloat16"]))
    model = cfg.build()
    tx = sgd_torch(1.0)
    mesh = parallel.make_mesh()
    train_step, eval_step = compile_steps(model, tx, make_loss_fn("poly1"), 10, mesh)
    state = parallel.replicate(create_train_state(model, tx, cfg.input_shape, 0), mesh)
    before = jax.device_get(state.params)
    rng = np.random.default_rng(0)
    batch = {"video": rng.normal(size=(8, *cfg.input_shape)).astype(np.float32),
             "label": rng.integers(0, 10, 8).astype(np.int32)}
    gbatch = parallel.host_batch_to_global(batch, mesh)
    state, m = train_step(state, gbatch, np.float32(0.1))
    assert bool(m["finite"]) and np.isfinite(float(m["loss"]))
    for tree in (state.params, state.batch_stats, state.opt_state):
        assert {x.dtype for x in jax.tree.leaves(tree)} == {jnp.dtype(jnp.float32)}
    moved = [not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(before), jax.tree.leaves(jax.device_get(state.params)))]
    assert sum(moved) > len(moved) // 2
    # the activations really are bf16 (convolutions and matmuls in the lowered program)
    text = jax.jit(lambda v, x: model.apply(v, x)).lower(state.variables, batch["video"]).as_text()
    assert "bf16" in text and "tensor<8x10xf32>" in text
