"""The train state: everything a checkpoint must hold to resume exactly.

``TrainState`` is a pytree of arrays only (no functions), so it can be
donated to the jitted step, replicated over a mesh and saved by Orbax as is:

    step         int32 ()           optimizer steps taken = batches consumed
    params       pytree float32     model parameters
    batch_stats  pytree float32     BatchNorm running statistics
    opt_state    pytree             optax state (momentum buffers, counts)
    rng          uint32 (2,)        base key; step t uses fold_in(rng, t)

The data-stream position is ``step`` itself: batch ``t`` of the input
pipeline is a pure function of ``(data seed, t)`` (see :mod:`jaxar.train.data`).
"""
from __future__ import annotations

from flax import struct
import jax
import jax.numpy as jnp
import optax

from jaxar.initialization import run_init


@struct.dataclass
class TrainState:
    step: jax.Array
    params: dict
    batch_stats: dict
    opt_state: optax.OptState
    rng: jax.Array

    @property
    def variables(self) -> dict:
        return {"params": self.params, "batch_stats": self.batch_stats}


def create_train_state(model, tx: optax.GradientTransformation, input_shape, seed: int) -> TrainState:
    """Fresh state: initialised model, optimizer state, step 0.

    ``input_shape``: the per-clip input ``(T, S, S, C)``, or a mapping of the
    model's named inputs to such shapes (:meth:`jaxar.train.task.Task.input_shapes`).

    One jitted program (no op-by-op dispatch) with the classic threefry and
    cheap compiler settings on CPU (:func:`jaxar.initialization.run_init`).
    """
    def init(key, x):
        variables = model.init(key, x, train=False)
        params = variables["params"]
        return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                          batch_stats=variables.get("batch_stats", {}),
                          opt_state=tx.init(params),
                          rng=jax.random.PRNGKey(seed + 1))

    x = jax.tree.map(lambda shape: jnp.zeros((1, *shape), jnp.float32), input_shape,
                     is_leaf=lambda node: isinstance(node, (tuple, list)))
    return run_init(init, jax.random.PRNGKey(seed), x)
