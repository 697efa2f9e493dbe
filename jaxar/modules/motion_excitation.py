"""The two temporal pieces EAN's ResNet baseline puts before every
bottleneck's 3x3 conv (Tian et al. 2022, Sec. 4 "Implementation Detail",
following TEA, Li et al. CVPR 2020):

* :class:`MotionExcitation` (TEA's ME): ``b = BN(1x1(x))`` (C -> C/r),
  ``D_t = dw3x3(b)_{t+1} - b_t`` (zero for the last frame), spatial mean,
  ``a = sigmoid(BN(1x1(D))) - 0.5`` (C/r -> C), ``y = x + x * a``;
* :class:`ChannelTemporalConv`: a channel-wise (depthwise) temporal conv,
  kernel ``(3, C)``, initialised as TSM's shift (1/8 of the channels read the
  next frame, 1/8 the previous one, the rest themselves), as in the authors' code.

Both on ``(N, T, H, W, C)``; deploy forms on frames-major ``(N*T, C, H, W)``.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar import macs
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.modules import ean_layers as el
from jaxar.modules.layers import batch_norm
from jaxar.ops import conv as ops


def shift_init(shift_div: int = 8):
    """Kernel ``(3, C)`` equal to TSM's shift: tap 2 (next frame) for channels
    ``[0, C/8)``, tap 0 (previous) for ``[C/8, 2C/8)``, tap 1 for the rest."""
    def init(key, shape, dtype=jnp.float32):
        k, c = shape
        fold = c // shift_div
        w = np.zeros((k, c), np.float32)
        w[k // 2 + 1, :fold] = 1.0
        w[k // 2 - 1, fold:2 * fold] = 1.0
        w[k // 2, 2 * fold:] = 1.0
        return jnp.asarray(w, dtype)
    return init


class ChannelTemporalConv(nn.Module):
    """Depthwise temporal conv, kernel ``(3, C)`` (shift-initialised), zero padded."""
    kernel_size: int = 3
    shift_div: int = 8

    @nn.compact
    def __call__(self, x):
        w = self.param("kernel", shift_init(self.shift_div), (self.kernel_size, x.shape[-1]), jnp.float32)
        macs.record(self.scope.path, int(np.prod(x.shape)) * self.kernel_size)
        return ops.temporal_depthwise(x, w.astype(x.dtype), "lowered")

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        return {"w": f32(v.param("kernel"))}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        a = dops.temporal(dops.from_frames(x, frames, "frames-major"), p["w"])
        return a.view_as("planes")


class MotionExcitation(nn.Module):
    """TEA's motion excitation (module docstring) on ``(N, T, H, W, C)``."""
    reduction: int = 16
    train: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        n, t, h, w, c = x.shape
        r = max(1, c // self.reduction)
        b = batch_norm(self.train, self.dtype, name="bn1")(el.Conv3D(r, name="conv1")(x))
        cb = el.Conv3D(r, (1, 3, 3), groups=r, name="conv2")(b)
        diff = cb[:, 1:] - b[:, :-1]
        diff = jnp.pad(diff, ((0, 0), (0, 1), (0, 0), (0, 0), (0, 0)))
        y = jnp.mean(diff, axis=(2, 3), keepdims=True)                        # (N, T, 1, 1, r)
        y = batch_norm(self.train, self.dtype, name="bn3")(el.Conv3D(c, name="conv3")(y))
        return x + x * (jax.nn.sigmoid(y) - 0.5)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        conv1 = el.Conv3D(1).deploy_params(v.child("conv1"), v.child("bn1"))
        conv3 = el.Conv3D(1).deploy_params(v.child("conv3"), v.child("bn3"))
        return {"conv1": conv1, "conv2": el.Conv3D(1).deploy_params(v.child("conv2")),
                "conv3": {"w": f32(np.asarray(conv3["w"])[:, :, 0, 0, 0].T), "b": conv3["b"]}}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        nt, c, h, w = x.shape
        b, _ = el.deploy_conv3d(x, frames, p["conv1"]["w"], p["conv1"]["b"])
        r = b.shape[1]
        cb, _ = el.deploy_conv3d(b, frames, p["conv2"]["w"], None, groups=r)
        bv, cv = el.frames_view(b, frames), el.frames_view(cb, frames)        # (N, T, r, HW)
        diff = lax.slice_in_dim(cv, 1, frames, axis=1) - lax.slice_in_dim(bv, 0, frames - 1, axis=1)
        diff = jnp.pad(jnp.mean(diff, axis=-1), ((0, 0), (0, 1), (0, 0)))    # (N, T, r)
        y = jnp.dot(diff.reshape(-1, r), jnp.asarray(p["conv3"]["w"])) + jnp.asarray(p["conv3"]["b"])
        gate = (jax.nn.sigmoid(y) + np.float32(0.5)).reshape(nt, c, 1, 1)  # x + x*(s-0.5) = x*(s+0.5)
        return x * gate
