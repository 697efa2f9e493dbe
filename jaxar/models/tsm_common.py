"""Pieces shared by the TSM family: 2-D networks run over folded frames.

TSM (Lin et al., ICCV 2019) is an image network applied to every frame of a
clip, with a parameter-free temporal shift inside its residual branches and
the clip score taken as the mean of the per-frame logits (TSN's average
consensus). Training form: clips ``(N, T, H, W, 3)`` channels-last, every
conv a 2-D conv over the folded ``(N*T, H, W, C)`` batch (see
:mod:`jaxar.ops.conv`, ``"lowered"``). Deploy form: frames-major
channels-first activations (:class:`jaxar.deploy.ops.Act`, ``(N*T, C, H, W)``)
from the input reshape to the logits, whatever ``layout`` is asked for, so no
Transpose at all; the shift is a ``(N, T, C, H*W)`` view with static
``Slice`` + ``Pad`` + ``Concat``
(:func:`jaxar.modules.temporal_shift.deploy_temporal_shift`). Every block
owns its deploy form; the network lists its parts for the walker of
:mod:`jaxar.deploy.network`.

:class:`FrameNetConfig` adds the fields every frame network has (``shift_div``,
``dropout``) to :class:`jaxar.models.base.ModelConfigBase`.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.models.base import ModelConfigBase
from jaxar.modules.layers import Dense


@dataclasses.dataclass(frozen=True)
class FrameNetConfig(ModelConfigBase):
    num_classes: int = 400
    frames: int = 8
    shift_div: int = 8                 # 1/8 of the channels move back, 1/8 forward
    dropout: float = 0.5               # before the per-frame classifier

    def __post_init__(self):
        super().__post_init__()
        if self.shift_div < 2:
            raise ValueError(f"shift_div must be >= 2, got {self.shift_div}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def max_pool_3x3_s2(x: jax.Array) -> jax.Array:
    """ResNet's stem max-pool (3x3, stride 2, padding 1) per frame of ``(N, T, H, W, C)``."""
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 3, 3, 1), (1, 1, 2, 2, 1),
                             ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)))


class FrameConsensusHead(nn.Module):
    """Global average pool per frame -> dropout -> linear per frame -> mean over frames.

    ``(N, T, H, W, C)`` -> logits ``(N, num_classes)`` float32 (TSM's average consensus).
    Parameters: ``fc/kernel (C, num_classes)``, ``fc/bias``.
    """
    num_classes: int
    dropout: float
    train: bool = False

    @nn.compact
    def __call__(self, x):
        x = jnp.mean(x, axis=(2, 3))                                   # (N, T, C)
        x = nn.Dropout(self.dropout, deterministic=not self.train)(x)
        x = Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01), name="fc")(x)
        return jnp.mean(x.astype(jnp.float32), axis=1)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{w (C, num_classes), b (num_classes,)}``."""
        fc = v.child("fc")
        return {"w": f32(fc.param("kernel")), "b": f32(fc.param("bias"))}

    @nn.nowrap
    def deploy_apply(self, p: dict, a: dops.Act) -> jax.Array:
        """``(N*T, C, H, W)`` -> per-frame GAP -> GEMM -> mean over frames -> ``(N, classes)``."""
        pooled = jnp.mean(a.view_as("planes"), axis=(2, 3))               # (N*T, C)
        logits = dops.dense(pooled, p["w"], p["b"])                        # (N*T, K)
        return jnp.mean(logits.reshape(-1, a.frames, logits.shape[-1]), axis=1)


# ---------------------------------------------------------------- deploy form
def deploy_max_pool(a: dops.Act) -> dops.Act:
    """3x3 / stride 2 / pad 1 max-pool of every frame of a frames-major
    activation, as ``-inf`` Pad, nine strided Slices and eight elementwise Max
    (jax2onnx lowers ``reduce_window`` through a rank-6 MaxPool, which the
    strict deploy form rules out)."""
    x = a.view_as("planes")
    b, c, h, w = x.shape
    ho, wo = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    xp = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-jnp.inf)
    y = None
    for i in range(3):
        for j in range(3):
            win = lax.slice(xp, (0, 0, i, j), (b, c, i + 2 * (ho - 1) + 1, j + 2 * (wo - 1) + 1),
                            (1, 1, 2, 2))
            y = win if y is None else jnp.maximum(y, win)
    return a.replace(y, "planes", height=ho, width=wo)
