"""Data parallelism: one step on 4 (forced host) devices equals the 1-device step."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    assert jax.device_count() == 4, jax.devices()
    from jaxar import parallel
    from jaxar.losses import make_loss_fn
    from jaxar.optim import sgd_torch
    from jaxar.train.config import load_config, model_config
    from jaxar.train.state import create_train_state
    from jaxar.train.step import compile_steps

    cfg = model_config(load_config("experiments/smoke_tiny.py"))
    model = cfg.build()
    tx = sgd_torch(1.0)
    loss_fn = make_loss_fn("poly1")
    rng = np.random.default_rng(0)
    batches = [{"video": rng.normal(size=(8, 4, 16, 16, 3)).astype(np.float32),
                "label": rng.integers(0, 10, size=8).astype(np.int32)} for _ in range(2)]
    init = jax.device_get(create_train_state(model, tx, cfg.input_shape, seed=0))

    def run(n):
        mesh = parallel.make_mesh(n)
        train_step, _ = compile_steps(model, tx, loss_fn, 10, mesh)
        state = parallel.replicate(init, mesh)
        losses = []
        for b in batches:
            batch = parallel.host_batch_to_global(b, mesh)
            assert len(batch["video"].sharding.device_set) == n
            assert batch["video"].addressable_shards[0].data.shape[0] == 8 // n
            state, m = train_step(state, batch, np.float32(0.1))
            assert m["finite"]
            losses.append(float(m["loss"]))
        assert len(state.params["classifier"]["kernel"].sharding.device_set) == n
        return jax.device_get(state), losses

    single, l1 = run(1)
    multi, l4 = run(4)
    np.testing.assert_allclose(l4, l1, rtol=1e-5)
    flat1 = jax.tree_util.tree_leaves_with_path(single)
    flat4 = jax.tree_util.tree_leaves_with_path(multi)
    assert len(flat1) == len(flat4)
    moved = 0
    for (path, a), (_, b) in zip(flat1, flat4):
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6, err_msg=jax.tree_util.keystr(path))
        moved += "batch_stats" in jax.tree_util.keystr(path) and not np.allclose(a, 0) and not np.allclose(a, 1)
    assert moved > 0, "BN statistics did not change"

    try:
        parallel.check_global_batch(6, parallel.make_mesh(4))
    except ValueError as e:
        assert "batch_size=6" in str(e) and "multiple of the number of devices (4" in str(e), e
    else:
        raise AssertionError("a global batch of 6 on 4 devices must fail")
    print("OK", l1, l4)
""")


@pytest.mark.slow
def test_four_device_step_equals_single_device_step():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "OK" in proc.stdout


def test_uneven_global_batch_fails_on_one_device_too():
    from jaxar import parallel
    with pytest.raises(ValueError, match="batch_size=0 is the global batch"):
        parallel.check_global_batch(0, parallel.make_mesh())
