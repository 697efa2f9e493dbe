"""Random variables that look trained, for folding tests and the export demo.

A fresh ``model.init`` has BN mean 0, var 1, scale 1, bias 0 and every TAda
``beta`` = 0: folding bugs (a wrong axis, a forgotten mean, TAda dropped)
would go unnoticed on it. :func:`realistic_variables` perturbs every BN
statistic and affine parameter, sets every TAda ``beta`` and bias non-zero,
and scales the classifier so logits are spread (top-1 is then meaningful in
parity checks). Deterministic in ``seed``.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxar.config import ModelConfig
from jaxar.network import X3DUGT


def _perturb(path: tuple[str, ...], leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    name = path[-1]
    shape = leaf.shape
    if "batch_stats" == path[0]:
        if name == "mean":
            return rng.normal(0.0, 0.3, shape)
        if name == "var":
            return rng.uniform(0.5, 2.0, shape)
    parent = path[-2] if len(path) > 1 else ""
    if parent.endswith("bn") or parent == "stem_bn":
        if name == "scale":
            return rng.uniform(0.6, 1.3, shape)
        if name == "bias":
            return rng.normal(0.0, 0.2, shape)
    if name == "beta":
        return np.asarray(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.9), np.float32)
    if name == "bias":                      # dense / TAda temporal biases
        return rng.normal(0.0, 0.1, shape)
    if parent == "classifier" and name == "kernel":
        return rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape)
    return leaf


def realistic_variables(config: ModelConfig, seed: int = 0) -> dict:
    """``{"params", "batch_stats"}`` for ``X3DUGT(config)`` with non-trivial
    BN statistics/affines, non-zero TAda ``beta`` and spread logits.
    Initialised at batch 1 with the config's frames and size."""
    model = X3DUGT(config)
    x = jnp.zeros((1, *config.input_shape), jnp.float32)
    variables = jax.jit(lambda x: model.init(jax.random.PRNGKey(seed), x, train=False))(x)
    rng = np.random.default_rng(seed + 1)

    def visit(path, leaf):
        keys = tuple(str(getattr(p, "key", p)) for p in path)
        return jnp.asarray(_perturb(keys, np.asarray(leaf), rng), jnp.float32)

    return jax.tree_util.tree_map_with_path(visit, dict(variables))
