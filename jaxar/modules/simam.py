"""SimAM: parameter-free attention (Yang et al., ICML 2021).

For every channel, with ``n`` positions in the pooled set ``P``::

    d    = (x - mean_P(x))^2
    var  = sum_P(d) / (n - 1)
    e    = d / (4 * (var + lambda)) + 0.5
    out  = x * sigmoid(e)

``pool`` chooses ``P``:

* ``"spatial"`` (default): the ``H x W`` positions of each frame, separately
  per frame and channel.  This is the 2-D SimAM of the original paper applied
  framewise: a frame's saliency does not depend on other frames, which keeps
  the temporal modelling with TSM/TAda and makes the op 2-D (it lowers to the
  same ops in the deploy graph).
* ``"spatiotemporal"``: all ``T x H x W`` positions of the clip.

Layout ``(N, T, H, W, C)``; no parameters.  Statistics are computed in float32.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

POOLS = {"spatial": (2, 3), "spatiotemporal": (1, 2, 3)}


def simam(x: jax.Array, pool: str = "spatial", lam: float = 1e-4) -> jax.Array:
    if pool not in POOLS:
        raise ValueError(f"SimAM pool must be one of {sorted(POOLS)}, got {pool!r}")
    axes = POOLS[pool]
    n = 1
    for a in axes:
        n *= x.shape[a]
    xf = x.astype(jnp.float32)
    mu = jnp.mean(xf, axis=axes, keepdims=True)
    d = jnp.square(xf - mu)
    var = jnp.sum(d, axis=axes, keepdims=True) / max(n - 1, 1)
    e = d / (4.0 * (var + lam)) + 0.5
    return (xf * jax.nn.sigmoid(e)).astype(x.dtype)
