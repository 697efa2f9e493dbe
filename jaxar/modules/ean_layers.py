"""Layers the EAN modules share: dense/grouped 3-D convs, 3-D max-pool, the
ResNet stem max-pool, BN folding for 5-D kernels -- each in its training form
(channels-last video ``(N, T, H, W, C)``) and its deploy form (frames-major
arrays ``(N*T, C, H, W)``, every tensor rank <= 4, only ops on the TensorRT
allow-list of :mod:`export.allowlist`).

Deploy form of a 3-D conv ``k_t x k_h x k_w`` (temporal stride/dilation
``s_t``/``d_t``): the sum over the ``k_t`` temporal taps of a 2-D conv of the
time-shifted frames (a ``(N, T, C*H*W)`` view, zero ``Pad`` in time, one
strided ``Slice`` per tap, a 2-D ``Conv`` per tap). No rank-5 tensor, no
grouped 3-D Conv.

(The ResNet stem pool repeats :func:`jaxar.models.tsm_common.max_pool_3x3_s2`
/ ``deploy_max_pool`` on purpose: jaxar/models is being refactored while this
family lands; the integrator may point both at one helper.)
"""
from __future__ import annotations

import itertools
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar import macs
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, bn_affine, f32
from jaxar.modules.layers import conv_init


def _numel(shape) -> int:
    return int(np.prod([int(s) for s in shape]))


class Conv3D(nn.Module):
    """Conv with kernel ``(k_t, k_h, k_w, C_in // groups, features)`` (DHWIO),
    'same' padding ``d * (k - 1) // 2`` per axis, temporal/spatial stride and
    dilation, optional bias. ``(N, T, H, W, C_in) -> (N, T', H', W', features)``."""
    features: int
    kernel: tuple[int, int, int] = (1, 1, 1)
    stride: tuple[int, int] = (1, 1)           # (temporal, spatial)
    dilation: tuple[int, int] = (1, 1)         # (temporal, spatial)
    groups: int = 1
    use_bias: bool = False
    kernel_init: Callable = conv_init

    @nn.nowrap
    def padding(self) -> list[tuple[int, int]]:
        (kt, kh, kw), (dt, ds) = self.kernel, self.dilation
        return [(dt * (kt - 1) // 2,) * 2, (ds * (kh - 1) // 2,) * 2, (ds * (kw - 1) // 2,) * 2]

    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        if cin % self.groups or self.features % self.groups:
            raise ValueError(f"{self.scope.path}: channels {cin}->{self.features} not divisible "
                             f"by groups {self.groups}")
        kt, kh, kw = self.kernel
        w = self.param("kernel", self.kernel_init, (kt, kh, kw, cin // self.groups, self.features),
                       jnp.float32)
        (st, ss), (dt, ds) = self.stride, self.dilation
        if kt == 1 and st == 1:      # a per-frame 2-D conv over the folded batch (fast on CPU)
            n, t = x.shape[:2]
            y = lax.conv_general_dilated(
                x.reshape(n * t, *x.shape[2:]), w[0].astype(x.dtype), (ss, ss), self.padding()[1:],
                rhs_dilation=(ds, ds), dimension_numbers=("NHWC", "HWIO", "NHWC"),
                feature_group_count=self.groups)
            y = y.reshape(n, t, *y.shape[1:])
        else:
            y = lax.conv_general_dilated(
                x, w.astype(x.dtype), (st, ss, ss), self.padding(), rhs_dilation=(dt, ds, ds),
                dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), feature_group_count=self.groups)
        macs.record(self.scope.path, _numel(y.shape) * kt * kh * kw * (cin // self.groups))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32).astype(y.dtype)
        return y

    # -- deploy form ----------------------------------------------------------
    @nn.nowrap
    def deploy_params(self, v: Variables, bn: Variables | None = None) -> dict:
        """``{"w" (O, I/g, k_t, k_h, k_w), "b" (O,) or absent}``, the BN ``bn``
        (a sibling's variables) folded in when given."""
        w = np.transpose(v.param("kernel"), (4, 3, 0, 1, 2))          # DHWIO -> O I D H W
        b = v.param("bias") if self.use_bias else None
        if bn is not None:
            s, shift = bn_affine(bn.params, bn.stats)
            w = w * s[:, None, None, None, None]
            b = shift if b is None else shift + s * b
        out = {"w": f32(w)}
        if b is not None:
            out["b"] = f32(b)
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> tuple[jax.Array, int]:
        """``(N*T, C, H, W)`` -> ``((N*T', O, H', W'), T')``."""
        return deploy_conv3d(x, frames, p["w"], p.get("b"), self.stride, self.dilation, self.groups)


def deploy_conv3d(x: jax.Array, frames: int, w, b, stride: Sequence[int] = (1, 1),
                  dilation: Sequence[int] = (1, 1), groups: int = 1) -> tuple[jax.Array, int]:
    """3-D conv (kernel ``(O, I/g, k_t, k_h, k_w)``) on frames-major ``(N*T, C, H, W)``
    as a sum of per-tap 2-D convs (module docstring). Returns the output and ``T'``."""
    nt, c, h, wd = x.shape
    kt, kh = w.shape[2], w.shape[3]
    (st, ss), (dt, ds) = stride, dilation
    ps = ds * (kh - 1) // 2
    conv2d = lambda v, k: dops.conv(v, k, None, (ss, ss), ((ps, ps), (ps, ps)), groups, (ds, ds))  # noqa: E731
    if kt == 1 and st == 1:
        y, tout = conv2d(x, w[:, :, 0]), frames
    else:
        pt = dt * (kt - 1) // 2
        tout = (frames + 2 * pt - dt * (kt - 1) - 1) // st + 1
        v = x.reshape(-1, frames, c * h * wd)
        if pt:
            v = jnp.pad(v, ((0, 0), (pt, pt), (0, 0)))
        y = None
        for k in range(kt):
            start = k * dt
            tap = lax.slice_in_dim(v, start, start + st * (tout - 1) + 1, stride=st, axis=1)
            yk = conv2d(tap.reshape(-1, c, h, wd), w[:, :, k])
            y = yk if y is None else y + yk
    if b is not None:
        y = y + jnp.asarray(b, y.dtype).reshape(1, -1, 1, 1)
    return y, tout


# ---------------------------------------------------------------- pooling
def max_pool3d(x: jax.Array) -> jax.Array:
    """3x3x3 max-pool, stride 1, padding 1 (``-inf``) on ``(N, T, H, W, C)``."""
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 3, 1), (1,) * 5,
                             ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)))


def _window_max(x: jax.Array, axis_steps: Sequence[tuple[int, int, int]]) -> jax.Array:
    """Max of the 3-wide windows along the given ``(axis, size, stride)`` axes of a
    ``-inf``-padded ``x`` (Pad + strided Slices + elementwise Max)."""
    pads = [(0, 0)] * x.ndim
    for ax, _, _ in axis_steps:
        pads[ax] = (1, 1)
    xp = jnp.pad(x, pads, constant_values=-jnp.inf)
    y = None
    for off in itertools.product(range(3), repeat=len(axis_steps)):
        start, stop, step = [0] * x.ndim, list(xp.shape), [1] * x.ndim
        for (ax, size, s), o in zip(axis_steps, off):
            out = (size - 1) // s + 1
            start[ax], stop[ax], step[ax] = o, o + s * (out - 1) + 1, s
        win = lax.slice(xp, start, stop, step)
        y = win if y is None else jnp.maximum(y, win)
    return y


def deploy_max_pool3d(x: jax.Array, frames: int) -> jax.Array:
    """:func:`max_pool3d` on frames-major ``(N*T, C, H, W)``: spatial 3x3 window
    max on the frames, then the temporal 3-window on a ``(N, T, C*H*W)`` view
    (max is separable)."""
    nt, c, h, w = x.shape
    y = _window_max(x, [(2, h, 1), (3, w, 1)])
    y = _window_max(y.reshape(-1, frames, c * h * w), [(1, frames, 1)])
    return y.reshape(nt, c, h, w)


def stem_max_pool(x: jax.Array) -> jax.Array:
    """ResNet's 3x3 / stride 2 / padding 1 max-pool per frame of ``(N, T, H, W, C)``."""
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 3, 3, 1), (1, 1, 2, 2, 1),
                             ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)))


def deploy_stem_max_pool(x: jax.Array) -> jax.Array:
    """:func:`stem_max_pool` on ``(B, C, H, W)`` (Pad, nine strided Slices, Max)."""
    return _window_max(x, [(2, x.shape[2], 2), (3, x.shape[3], 2)])


# ---------------------------------------------------------------- deploy helpers
def frames_view(x: jax.Array, frames: int) -> jax.Array:
    """``(N*T, C, H, W)`` -> ``(N, T, C, H*W)``."""
    nt, c, h, w = x.shape
    return x.reshape(-1, frames, c, h * w)


def channel_split(x: jax.Array, sizes: Sequence[int], axis: int = 1) -> list[jax.Array]:
    """Static channel slices of ``sizes`` along ``axis``."""
    out, start = [], 0
    for s in sizes:
        out.append(lax.slice_in_dim(x, start, start + s, axis=axis))
        start += s
    return out


def clip_mean(x: jax.Array, frames: int) -> jax.Array:
    """``(N*T, C, H, W)`` -> mean over time and space ``(N, C)``."""
    per_frame = jnp.mean(x, axis=(2, 3))                                # (N*T, C)
    return jnp.mean(per_frame.reshape(-1, frames, per_frame.shape[-1]), axis=1)


def affine(x: jax.Array, s, b, axis: int = 1) -> jax.Array:
    """``x * s + b`` per channel on ``axis`` (an eval BN with nothing to fold into)."""
    shape = [1] * x.ndim
    shape[axis] = -1
    return x * jnp.asarray(s, x.dtype).reshape(shape) + jnp.asarray(b, x.dtype).reshape(shape)


def dense_bn_params(v: Variables, dense: str, bn: str | None = None) -> dict:
    """Dense ``{"w" (C_in, C_out), "b"}`` with the BN ``bn`` after it folded in."""
    w, b = v.dense(dense) if v.child(dense).has("bias") else (v.child(dense).param("kernel"), None)
    if b is None:
        b = np.zeros(w.shape[1])
    if bn is not None:
        s, shift = v.bn(bn)
        w, b = w * s[None, :], shift + s * b
    return {"w": f32(w), "b": f32(b)}
