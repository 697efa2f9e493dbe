"""Fast, deterministic model initialisation, for every init program.

``jax.jit(model.init)`` spends almost all its time compiling the random
number generation of ~150 parameter initialisers; with JAX's default
*partitionable* threefry that compile is 2.5-3x slower on CPU than with the
classic threefry (measured: 62 s vs 25 s for a narrow test network on a
loaded 2-core machine).  Initialisation happens once, replicated, so the
partitionable variant buys nothing here; :func:`run_init` uses the classic
one, plus cheap XLA settings on CPU (:func:`fast_compile_options`).  Same
distributions, deterministic for a key (the values differ from a plain
``model.init`` with the same key).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import jax


def fast_compile_options() -> dict | None:
    """Cheap XLA settings for programs that run rarely (init, evaluation).

    On CPU, XLA's default optimisation makes the threefry-heavy init program
    compile for minutes and the eval program for tens of seconds; with these
    settings both compile several times faster and run somewhat slower, which
    is the right trade for programs executed a handful of times. Other
    backends keep their defaults (None).
    """
    if jax.default_backend() != "cpu":
        return None
    return {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def run_init(fn: Callable, *args) -> Any:
    """``fn(*args)`` as one jitted program with the classic threefry and
    :func:`fast_compile_options` (``fn`` draws its randomness from a key in ``args``)."""
    with jax.threefry_partitionable(False):
        return jax.jit(fn, compiler_options=fast_compile_options())(*args)


def init_variables(model, rng: jax.Array, x, **kwargs) -> dict:
    """``model.init(rng, x, **kwargs)`` through :func:`run_init`.

    Args:
      model: a Flax linen module (e.g. ``create_config("x3d_ugt").build()``).
      rng: a PRNG key.
      x: an example input array of the model's input shape, e.g. zeros
        ``(N, T, H, W, 3)``.
    Returns:
      The variables dict (``{"params", "batch_stats"}`` for X3D-UGT).
    """
    return run_init(functools.partial(model.init, **kwargs), rng, x)
