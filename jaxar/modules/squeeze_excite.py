"""Squeeze-and-Excitation (Hu et al. 2018) for video; used in stage 4 only.

``s = sigmoid(W2 relu(W1 mean_{T,H,W}(x) + b1) + b2)``, ``out = x * s``
with ``s`` of shape ``(N, 1, 1, 1, C)``.  Layout ``(N, T, H, W, C)``.
Parameters: ``2*C*hidden + hidden + C``.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.modules.layers import Dense


def make_divisible(v: float, divisor: int = 8) -> int:
    """Rounds ``v`` to the nearest multiple of ``divisor`` (never down by >10 %)."""
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if out < 0.9 * v:
        out += divisor
    return out


class SqueezeExcite(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x):
        s = jnp.mean(x, axis=(1, 2, 3))                      # (N, C)
        s = nn.relu(Dense(self.hidden, name="reduce")(s))
        s = jax.nn.sigmoid(Dense(x.shape[-1], name="expand")(s))
        return x * s[:, None, None, None, :]
