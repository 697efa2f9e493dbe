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
:func:`deploy_simam` runs the same formula (:func:`attend`) on a deploy
activation, reducing over the axes of its current 4-D view.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxar.deploy import ops as dops

POOLS = {"spatial": (2, 3), "spatiotemporal": (1, 2, 3)}


def _check_pool(pool: str) -> None:
    if pool not in POOLS:
        raise ValueError(f"SimAM pool must be one of {sorted(POOLS)}, got {pool!r}")


def attend(x: jax.Array, axes: tuple[int, ...], lam: float) -> jax.Array:
    """The SimAM formula with ``P`` = the positions along ``axes`` of ``x``."""
    n = 1
    for a in axes:
        n *= x.shape[a]
    mu = jnp.mean(x, axis=axes, keepdims=True)
    d = jnp.square(x - mu)
    var = jnp.mean(d, axis=axes, keepdims=True) * (n / max(n - 1, 1))   # unbiased
    inv = 1.0 / (4.0 * (var + lam))                   # on the pooled (small) tensor
    return x * jax.nn.sigmoid(d * inv + 0.5)


def simam(x: jax.Array, pool: str = "spatial", lam: float = 1e-4) -> jax.Array:
    _check_pool(pool)
    return attend(x.astype(jnp.float32), POOLS[pool], lam).astype(x.dtype)


def deploy_simam(x: dops.Act, pool: str = "spatial", lam: float = 1e-4) -> dops.Act:
    """SimAM on a deploy activation (either layout)."""
    _check_pool(pool)
    data, axes, view = dops.reduce_axes(x, over_time=pool == "spatiotemporal")
    return x.replace(attend(data, axes, lam), view)
