"""Pieces shared by the TSM family: 2-D networks run over folded frames.

TSM (Lin et al., ICCV 2019) is an image network applied to every frame of a
clip, with a parameter-free temporal shift inside its residual branches and
the clip score taken as the mean of the per-frame logits (TSN's average
consensus). Training form: clips ``(N, T, H, W, 3)`` channels-last, every
conv a 2-D conv over the folded ``(N*T, H, W, C)`` batch (see
:mod:`jaxar.ops.conv`, ``"lowered"``). Deploy form: frames-major
channels-first ``(N*T, C, H, W)`` from the input reshape to the logits, no
Transpose at all; the shift is a ``(N, T, C, H*W)`` view with static
``Slice`` + ``Pad`` + ``Concat``. :class:`FrameNetDeploy` gives a family's
Flax module the deploy protocol of :mod:`jaxar.deploy` from its config's
``deploy_convert`` / ``deploy_forward``.

:class:`FrameNetConfig` holds the fields every family config has
(``num_classes``, ``frames``, ``size``, ``impl``, ``dtype``, ``replace``,
``input_shape``); the family configs add their architecture fields.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxar.config import DTYPES
from jaxar.deploy import ops as dops
from jaxar.modules.layers import Dense
from jaxar.ops.formulation import IMPL_CHOICES


@dataclasses.dataclass(frozen=True)
class FrameNetConfig:
    num_classes: int = 400
    frames: int = 8
    size: int = 224
    shift_div: int = 8                 # 1/8 of the channels move back, 1/8 forward
    dropout: float = 0.5               # before the per-frame classifier
    impl: str = "auto"                 # conv formulation (jaxar.ops.formulation); same maths
    dtype: str = "float32"             # compute dtype; params stay float32

    def __post_init__(self):
        if self.num_classes < 1 or self.frames < 1 or self.size < 1:
            raise ValueError(f"num_classes/frames/size must be positive, got "
                             f"{self.num_classes}/{self.frames}/{self.size}")
        if self.impl not in IMPL_CHOICES:
            raise ValueError(f"impl must be one of {IMPL_CHOICES}, got {self.impl!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.shift_div < 2:
            raise ValueError(f"shift_div must be >= 2, got {self.shift_div}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def replace(self, **kw: Any):
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} fields: {sorted(unknown)}")
        return dataclasses.replace(self, **kw)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Per-clip input shape ``(T, H, W, 3)``."""
        return (self.frames, self.size, self.size, 3)


def check_clip(x: jax.Array, name: str) -> None:
    if x.ndim != 5 or x.shape[-1] != 3:
        raise ValueError(f"{name} expects (N, T, H, W, 3) clips, got shape {x.shape}")


def max_pool_3x3_s2(x: jax.Array) -> jax.Array:
    """ResNet's stem max-pool (3x3, stride 2, padding 1) per frame of ``(N, T, H, W, C)``."""
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 3, 3, 1), (1, 1, 2, 2, 1),
                             ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)))


class FrameConsensusHead(nn.Module):
    """Global average pool per frame -> dropout -> linear per frame -> mean over frames.

    ``(N, T, H, W, C)`` -> logits ``(N, num_classes)`` float32 (TSM's average consensus).
    Parameters: ``kernel (C, num_classes)``, ``bias``.
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


# ---------------------------------------------------------------- deploy form
def axis_slice(x: jax.Array, start: int, stop: int, axis: int) -> jax.Array:
    """``x[..., start:stop, ...]`` on ``axis`` as one static ``Slice`` (none if whole)."""
    if start == 0 and stop == x.shape[axis]:
        return x
    return lax.slice_in_dim(x, start, stop, axis=axis)


def shift_frames(x: jax.Array, frames: int, shift_div: int) -> jax.Array:
    """Temporal shift on the frames-major deploy layout ``(N*T, C, H, W)``.

    Same channel assignment as :func:`jaxar.modules.temporal_shift.temporal_shift`
    (channels ``[0, f)`` take the next frame, ``[f, 2f)`` the previous one,
    zero-filled, ``f = C // shift_div``), on the 4-D view ``(N, T, C, H*W)``.
    """
    b, c, h, w = x.shape
    fold = c // shift_div
    if fold == 0:
        return x
    v = x.reshape(-1, frames, c, h * w)
    back = axis_slice(v, 0, fold, axis=2)
    fwd = axis_slice(v, fold, 2 * fold, axis=2)
    if frames > 1:
        back = jnp.pad(lax.slice_in_dim(back, 1, frames, axis=1), ((0, 0), (0, 1), (0, 0), (0, 0)))
        fwd = jnp.pad(lax.slice_in_dim(fwd, 0, frames - 1, axis=1), ((0, 0), (1, 0), (0, 0), (0, 0)))
    else:
        back, fwd = jnp.zeros_like(back), jnp.zeros_like(fwd)
    v = jnp.concatenate([back, fwd, axis_slice(v, 2 * fold, c, axis=2)], axis=2)
    return v.reshape(b, c, h, w)


def deploy_max_pool(x: jax.Array) -> jax.Array:
    """3x3 / stride 2 / pad 1 max-pool on ``(B, C, H, W)`` as ``-inf`` Pad, nine
    strided Slices and eight elementwise Max (jax2onnx lowers ``reduce_window``
    through a rank-6 MaxPool, which the strict deploy form rules out)."""
    b, c, h, w = x.shape
    ho, wo = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    xp = jnp.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-jnp.inf)
    y = None
    for i in range(3):
        for j in range(3):
            win = lax.slice(xp, (0, 0, i, j), (b, c, i + 2 * (ho - 1) + 1, j + 2 * (wo - 1) + 1),
                            (1, 1, 2, 2))
            y = win if y is None else jnp.maximum(y, win)
    return y


def deploy_head(x: jax.Array, frames: int, w, b) -> jax.Array:
    """``(N*T, C, H, W)`` -> per-frame GAP -> GEMM -> mean over frames -> ``(N, classes)``."""
    pooled = jnp.mean(x, axis=(2, 3))                                  # (N*T, C)
    logits = dops.dense(pooled, w, b)                                  # (N*T, K)
    return jnp.mean(logits.reshape(-1, frames, logits.shape[-1]), axis=1)


class FrameNetDeploy:
    """Mixin for a frame network's Flax module (``self.config`` a
    :class:`FrameNetConfig`): the deploy protocol of :mod:`jaxar.deploy`,
    delegated to the config's ``deploy_convert(variables)`` (trained variables
    -> deploy tree) and ``deploy_forward(params, x)`` (``(N, T, 3, H, W)`` ->
    logits ``(N, num_classes)``). A 2-D network is frames-major throughout, so
    either ``layout`` gives the same graph."""

    @nn.nowrap
    def deploy_params(self, variables: Mapping) -> dict:
        return self.config.deploy_convert(variables)

    @nn.nowrap
    def deploy_apply(self, params: Mapping, x: jax.Array, layout: str = "frames-major") -> jax.Array:
        dops.check_layout(layout)
        return self.config.deploy_forward(params, x)


def frames_first(x: jax.Array, frames: int) -> jax.Array:
    """Deploy input ``(N, T, 3, H, W)`` -> ``(N*T, 3, H, W)`` float32, shape checked."""
    if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] != frames:
        raise ValueError(f"deploy form expects (N, {frames}, 3, H, W) clips "
                         f"(channels-first frames), got shape {x.shape}")
    return x.astype(jnp.float32).reshape(-1, *x.shape[2:])
