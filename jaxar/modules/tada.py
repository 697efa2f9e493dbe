"""Selective temporal adaptation (TAda), the simplified TAdaConv of X3D-UGT.

Given the input ``x`` of a depthwise conv and its output ``y = dw(x)``, both
``(N, T, H, W, C)`` (``y`` may be spatially smaller), TAda rescales ``y`` per
frame and per channel::

    c = mean_{H,W}(x)                                  # (N, T, C) temporal context
    g = W2 · dwconv_t( relu(W1 · c + b1) ) + b2        # 1x1 -> depthwise k_t -> 1x1
    out = y * (1 + beta * g)[:, :, None, None, :]

``W1: (C, hidden)``, the temporal depthwise conv ``(k_t, hidden)`` (zero
padded), ``W2: (hidden, C)``, and the scalar blend ``beta`` is initialised to
0, so at initialisation the block is exactly its non-TAda self.  For a
depthwise conv, scaling its output per (frame, channel) equals TAdaConv's
per-frame calibration of the kernel: ``dw(x; W * a_t) = a_t * dw(x; W)``.

Parameters: ``2*C*hidden + (k_t+2)*hidden + C + 1``.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxar.modules.layers import Dense, TemporalDepthwise


def tada_hidden(channels: int, reduction: float) -> int:
    """Bottleneck width of the gate: ``max(1, round(channels / reduction))``."""
    return max(1, int(round(channels / reduction)))


class TAdaGate(nn.Module):
    """Computes the calibration ``1 + beta * g`` of shape ``(N, T, 1, 1, C)``."""
    hidden: int
    temporal_kernel: int = 3
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        n, t, _, _, c = x.shape
        ctx = jnp.mean(x, axis=(2, 3))                                     # (N, T, C)
        g = nn.relu(Dense(self.hidden, name="reduce")(ctx))                # (N, T, h)
        g = TemporalDepthwise(self.temporal_kernel, use_bias=True, impl=self.impl,
                              name="temporal")(g.reshape(n, t, 1, 1, self.hidden))
        g = Dense(c, name="expand")(g.reshape(n, t, self.hidden))          # (N, T, C)
        beta = self.param("beta", nn.initializers.zeros, (), jnp.float32)
        return (1.0 + beta.astype(g.dtype) * g)[:, :, None, None, :]
