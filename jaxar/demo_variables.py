"""Random variables that look trained, for folding tests, the export demo and
benchmarks (any model family).

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



def _value(path: tuple[str, ...], shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    name = path[-1]
    parent = path[-2] if len(path) > 1 else ""
    if path[0] == "batch_stats":
        return rng.normal(0.0, 0.3, shape) if name == "mean" else rng.uniform(0.5, 2.0, shape)
    stem = parent.rstrip("0123456789")
    if parent.endswith("_bn") or stem in ("bn", "norm") or stem.endswith("_norm"):  # x_bn, bn1, norm1 (EAN)
        return rng.uniform(0.6, 1.3, shape) if name == "scale" else rng.normal(0.0, 0.2, shape)
    if name == "beta":                                   # TAda blend: non-zero, either sign
        return np.asarray(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.9))
    if name in ("embed", "attention", "fusion"):         # ARC's (C_in, c) matrices, zero at init
        return rng.normal(0.0, 0.5 / np.sqrt(shape[0]), shape)
    if name == "pos_embedding":                          # EAN SOI-Tr positional embedding
        return rng.normal(0.0, 0.5, shape)
    if name == "bias":                                   # dense / TAda temporal biases
        return rng.normal(0.0, 0.1, shape)
    if name == "kernel":
        # fan-in: every axis but the last (HWIO, (C_in, C_out)); the temporal
        # depthwise kernel (k, C) has fan-in k.
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        return rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
    raise ValueError(f"no demo initialiser for variable {'/'.join(path)}")


def realistic_variables(config, seed: int = 0) -> dict:
    """``{"params", "batch_stats"}`` for ``config.build()`` (any family) with non-trivial
    BN statistics/affines, non-zero TAda ``beta`` and spread logits.

    Shapes come from ``jax.eval_shape`` of ``model.init`` (tracing only: a
    jitted init compiles Flax's random initialisers for minutes on a CPU);
    values are drawn with numpy: kernels ``N(0, 1/fan_in)``, BN mean
    ``N(0, 0.3)``, var ``U(0.5, 2)``, scale ``U(0.6, 1.3)``, bias ``N(0, 0.2)``,
    TAda ``|beta|`` in ``[0.3, 0.9]``, ARC's ``embed``/``attention``/``fusion``
    ``N(0, 0.25/C_in)``. Deterministic in ``seed``.
    """
    model = config.build()
    shapes_in = getattr(config, "input_shapes", None)      # several named inputs (CD-KD students)
    x = ({k: jax.ShapeDtypeStruct((1, *s), jnp.float32) for k, s in shapes_in.items()}
         if isinstance(shapes_in, dict) else jax.ShapeDtypeStruct((1, *config.input_shape), jnp.float32))
    shapes = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)
    rng = np.random.default_rng(seed)

    def visit(path, leaf):
        keys = tuple(str(getattr(p, "key", p)) for p in path)
        return jnp.asarray(_value(keys, tuple(leaf.shape), rng), jnp.float32)

    return jax.tree_util.tree_map_with_path(visit, dict(shapes))
