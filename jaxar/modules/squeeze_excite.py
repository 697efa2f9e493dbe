"""Squeeze-and-Excitation (Hu et al. 2018) for video; used in stage 4 only.

``s = sigmoid(W2 relu(W1 mean_{T,H,W}(x) + b1) + b2)``, ``out = x * s``
with ``s`` of shape ``(N, 1, 1, 1, C)``.  Layout ``(N, T, H, W, C)``.
Parameters: ``2*C*hidden + hidden + C``.

Deploy form: the two dense layers as 1x1 convs on the clip-pooled 1x1 map.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.modules.layers import Dense, activation


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
        s = activation("relu")(Dense(self.hidden, name="reduce")(s))
        s = jax.nn.sigmoid(Dense(x.shape[-1], name="expand")(s))
        return x * s[:, None, None, None, :]

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{reduce_w (C, hidden), reduce_b, expand_w (hidden, C), expand_b}``."""
        w1, b1 = v.dense("reduce")
        w2, b2 = v.dense("expand")
        return {"reduce_w": f32(w1), "reduce_b": f32(b1), "expand_w": f32(w2), "expand_b": f32(b2)}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: dops.Act) -> dops.Act:
        s = dops.clip_mean(x)                                            # 1x1 map, one frame
        s = dops.pointwise(s, dops.dense_as_conv(p["reduce_w"]), p["reduce_b"], act=activation("relu"))
        s = dops.pointwise(s, dops.dense_as_conv(p["expand_w"]), p["expand_b"],
                           act=lambda z: jax.nn.sigmoid(z))
        return dops.multiply(x, s)
