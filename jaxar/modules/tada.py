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

Deploy form: ``beta`` is folded into the expand GEMM and the ``1 +`` into its
bias, so the gate directly produces the calibration ``a = 1 + beta * g``
(exact: ``beta (W2 z + b2) + 1 = (beta W2) z + (beta b2 + 1)``); the gate runs
as 1x1 convs and one temporal conv on the per-frame 1x1 context maps.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.modules.layers import Dense, TemporalDepthwise, activation


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
        g = activation("relu")(Dense(self.hidden, name="reduce")(ctx))     # (N, T, h)
        g = TemporalDepthwise(self.temporal_kernel, use_bias=True, impl=self.impl,
                              name="temporal")(g.reshape(n, t, 1, 1, self.hidden))
        g = Dense(c, name="expand")(g.reshape(n, t, self.hidden))          # (N, T, C)
        beta = self.param("beta", nn.initializers.zeros, (), jnp.float32)
        return (1.0 + beta.astype(g.dtype) * g)[:, :, None, None, :]

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{reduce_w (C, h), reduce_b, temporal_w (k_t, h), temporal_b,
        expand_w (h, C) = beta W2, expand_b = beta b2 + 1}``."""
        w1, b1 = v.dense("reduce")
        w2, b2 = v.dense("expand")
        beta = float(v.param("beta"))
        t = v.child("temporal")
        return {"reduce_w": f32(w1), "reduce_b": f32(b1),
                "temporal_w": f32(t.param("kernel")), "temporal_b": f32(t.param("bias")),
                "expand_w": f32(beta * w2), "expand_b": f32(beta * b2 + 1.0)}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: dops.Act) -> dops.Act:
        """Calibration ``1 + beta*g`` as per-frame 1x1 maps of ``x``'s channels."""
        z = dops.spatial_mean(x)
        z = dops.pointwise(z, dops.dense_as_conv(p["reduce_w"]), p["reduce_b"], act=activation("relu"))
        z = dops.temporal(z, p["temporal_w"], p["temporal_b"])
        return dops.pointwise(z, dops.dense_as_conv(p["expand_w"]), p["expand_b"])
