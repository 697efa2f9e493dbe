"""Fast, deterministic model initialisation.

``jax.jit(model.init)`` spends almost all its time compiling the random
number generation of ~150 parameter initialisers; with JAX's default
*partitionable* threefry that compile is 2.5-3x slower on CPU than with the
classic threefry (measured: 62 s vs 25 s for a narrow test network on a
loaded 2-core machine).  Initialisation happens once, replicated, so the
partitionable variant buys nothing here; :func:`init_variables` uses the
classic one.  Same distributions, deterministic for a key (the values differ
from a plain ``model.init`` with the same key).
"""
from __future__ import annotations

import functools

import jax


def init_variables(model, rng: jax.Array, x, **kwargs) -> dict:
    """``model.init(rng, x, **kwargs)`` compiled once with the classic threefry.

    Args:
      model: a Flax linen module (e.g. :class:`jaxar.network.X3DUGT`).
      rng: a PRNG key.
      x: an example input (array or ``jax.ShapeDtypeStruct`` is not enough:
        pass an array of the input shape, e.g. zeros ``(N, T, H, W, 3)``).
    Returns:
      The variables dict (``{"params", "batch_stats"}`` for X3D-UGT).
    """
    with jax.threefry_partitionable(False):
        return jax.jit(functools.partial(model.init, **kwargs))(rng, x)
