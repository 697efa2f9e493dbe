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


def realistic_variables(config: ModelConfig, seed: int = 0) -> dict:
    """``{"params", "batch_stats"}`` for ``X3DUGT(config)`` (or ``config.build()``) with non-trivial
    BN statistics/affines, non-zero TAda ``beta`` and spread logits.

    Shapes come from ``jax.eval_shape`` of ``model.init`` (tracing only: a
    jitted init compiles Flax's random initialisers for minutes on a CPU);
    values are drawn with numpy: kernels ``N(0, 1/fan_in)``, BN mean
    ``N(0, 0.3)``, var ``U(0.5, 2)``, scale ``U(0.6, 1.3)``, bias ``N(0, 0.2)``,
    TAda ``|beta|`` in ``[0.3, 0.9]``, ARC's ``embed``/``attention``/``fusion``
    ``N(0, 0.25/C_in)``. Deterministic in ``seed``.
    """
    model = config.build() if hasattr(config, "build") else X3DUGT(config)
    x = jax.ShapeDtypeStruct((1, *config.input_shape), jnp.float32)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)
    rng = np.random.default_rng(seed)

    def visit(path, leaf):
        keys = tuple(str(getattr(p, "key", p)) for p in path)
        return jnp.asarray(_value(keys, tuple(leaf.shape), rng), jnp.float32)

    return jax.tree_util.tree_map_with_path(visit, dict(shapes))


def small_config(config: ModelConfig, frames: int = 4, size: int = 32, num_classes: int = 7,
                 **overrides) -> ModelConfig:
    """A narrow, shallow copy of ``config`` that keeps its block structure
    (TAda/SE/SimAM stages, strides, pre-depthwise rule, Ghost ratio), for fast
    CPU tests of any variant: widths 8/16/24/32, depths 1/1/2/2, head 64.
    Other model families provide their own ``small()`` (same arguments)."""
    if not isinstance(config, ModelConfig):
        return config.small(frames=frames, size=size, num_classes=num_classes, **overrides)
    n = len(config.widths)
    small = dict(stem_width=8, widths=(8, 16, 24, 32)[:n] if n <= 4 else config.widths,
                 depths=(1, 1, 2, 2)[:n] if n <= 4 else config.depths, head_width=64,
                 tada_reduction=min(config.tada_reduction, 8.0), frames=frames, size=size,
                 num_classes=num_classes)
    small.update(overrides)
    return config.replace(**small)


def distinct_small_variants(names, small=None) -> list[str]:
    """The first of ``names`` for each distinct small config (``small(name) ->
    config``; default :func:`small_config` of the registered variant). Variants
    that differ only in their input (X3D-XS/S/M) share one small config, so
    per-variant tests run it once."""
    from jaxar.registry import create_config
    small = small or (lambda name: small_config(create_config(name)))
    seen, out = [], []
    for name in names:
        cfg = small(name)
        if cfg not in seen:
            seen.append(cfg)
            out.append(name)
    return out
