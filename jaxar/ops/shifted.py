"""Depthwise convolutions as shifted multiply-adds, with hand-written gradients.

The ``"shifted"`` formulation of :mod:`jaxar.ops.conv` writes a depthwise
conv as ``k`` (temporal) or ``k*k`` (spatial) multiply-adds of static slices
of the zero-padded input.  Differentiated automatically, every slice becomes
a residual of the backward pass, so XLA materialises ``k*k`` shifted copies
of each activation in the forward pass, and the input gradient becomes
``k*k`` separately padded partial sums.  The custom VJPs here keep only the
input as residual and compute

* the input gradient as one correlation of the (dilated, for stride 2)
  padded output gradient with the flipped kernel -- a single fused loop,
  the same shape of computation as the forward;
* the kernel gradient from ``slice(padded input) * output gradient``
  summed, per tap, over chunks of an axis the taps do not shift along
  (frames for spatial taps, rows for temporal ones) by elementwise loops,
  then one small reduction of all taps, accumulated in float32
  (:func:`tap_sums`; one full reduction per tap, :func:`tap_sums_per_tap`,
  was the largest cost of the CPU training step and is kept only where the
  chunked sums would cost too much memory).

Layouts as in :mod:`jaxar.ops.conv`: activations ``(N, T, H, W, C)``;
spatial depthwise kernel ``(k, k, 1, C)`` (channel multiplier 1; the caller
repeats channels for a multiplier); temporal kernel ``(k, C)``.  Only odd
kernels with 'same' zero padding (``k // 2`` each side) are supported.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

MIN_CHUNKS = 4
"""Fewest chunks :func:`tap_sums` sums over; below it (an axis size with no
divisor from 4 to 16) it reduces every tap separately to bound memory."""


def _out(size: int, k: int, stride: int) -> int:
    return (size + 2 * (k // 2) - k) // stride + 1


def _spatial_window(xp: jax.Array, i: int, j: int, ho: int, wo: int, stride: int) -> jax.Array:
    """``xp[:, :, i::s, j::s]`` cut to ``(N, T, ho, wo, C)``: the input pixels
    that tap ``(i, j)`` of a stride-``s`` conv reads, xp ``(N, T, Hp, Wp, C)``."""
    n, t, _, _, c = xp.shape
    return lax.slice(xp, (0, 0, i, j, 0),
                     (n, t, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, c),
                     (1, 1, stride, stride, 1))


def correlate_hw(xp: jax.Array, kernel: jax.Array, ho: int, wo: int, stride: int) -> jax.Array:
    """``y[.., a, b, c] = sum_ij xp[.., a*s + i, b*s + j, c] * kernel[i, j, c]``.

    xp: ``(N, T, Hp, Wp, C)``; kernel: ``(k, k, C)``; returns ``(N, T, ho, wo, C)``.
    """
    k = kernel.shape[0]
    y = None
    for i in range(k):
        for j in range(k):
            term = _spatial_window(xp, i, j, ho, wo, stride) * kernel[i, j]
            y = term if y is None else y + term
    return y


def _chunks(size: int, limit: int = 16) -> int:
    """The largest divisor of ``size`` that is at most ``limit``."""
    return max(d for d in range(1, min(size, limit) + 1) if size % d == 0)


def tap_sums_per_tap(windows: list[jax.Array], g: jax.Array) -> jax.Array:
    """``out[i, c] = sum(windows[i] * g)`` over every axis but the last, in
    float32, one full reduction per tap (shapes as :func:`tap_sums`)."""
    return jnp.stack([jnp.sum(w * g, axis=tuple(range(g.ndim - 1)), dtype=jnp.float32)
                      for w in windows])


def tap_sums(windows: list[jax.Array], g: jax.Array, axis: int) -> jax.Array:
    """``out[i, c] = sum(windows[i] * g)`` over every axis but the last, in float32.

    windows: ``k`` arrays shaped like ``g`` ``(N, T, H, W, C)``; returns ``(k, C)``.

    On XLA:CPU a full reduction per tap is slow: fused with the shifted slice
    it runs in XLA's own reduction loop, and with YNNPACK reductions (the
    default) every shifted slice is first materialised -- about four passes
    over an activation per tap.  Here each tap's products are first summed
    over ``q`` equal chunks of ``axis`` (an axis the windows are not shifted
    along; ``q`` = the largest divisor of its size up to 16) with plain
    slice-multiply-adds, which XLA fuses into one elementwise loop per tap
    that reads its inputs once and writes ``1/q`` of an activation; one small
    reduction of the stacked partial sums finishes.  When the axis has no
    divisor from :data:`MIN_CHUNKS` to 16 (e.g. 17 frames, 23 rows) the stacked
    partial sums would take ``k/q`` float32 activations, so each tap is reduced
    on its own instead.
    """
    size = g.shape[axis]
    q = _chunks(size)
    if q < MIN_CHUNKS:
        return tap_sums_per_tap(windows, g)
    step = size // q
    # slice first, multiply after: a product shared by the q slices would be materialised
    g_chunks = [lax.slice_in_dim(g, r * step, (r + 1) * step, axis=axis).astype(jnp.float32)
                for r in range(q)]
    parts = []
    for w in windows:
        acc = None
        for r in range(q):
            term = lax.slice_in_dim(w, r * step, (r + 1) * step, axis=axis).astype(jnp.float32)
            term = term * g_chunks[r]
            acc = term if acc is None else acc + term
        parts.append(acc)
    stacked = jnp.stack(parts)
    return jnp.sum(stacked, axis=tuple(range(1, stacked.ndim - 1)))


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def depthwise_spatial(x: jax.Array, kernel: jax.Array, stride: int = 1) -> jax.Array:
    """Depthwise ``1xkxk`` conv, 'same' zero padding, spatial ``stride``.

    Args:
      x: ``(N, T, H, W, C)``.
      kernel: ``(k, k, 1, C)`` (HWIO, groups = C), same dtype as ``x``.
    Returns:
      ``(N, T, H', W', C)`` with ``H' = (H + 2*(k//2) - k) // stride + 1``.
    """
    k, p = kernel.shape[0], kernel.shape[0] // 2
    h, w = x.shape[2:4]
    xp = jnp.pad(x, ((0, 0), (0, 0), (p, p), (p, p), (0, 0)))
    return correlate_hw(xp, kernel[:, :, 0], _out(h, k, stride), _out(w, k, stride), stride)


def _spatial_fwd(x, kernel, stride):
    return depthwise_spatial(x, kernel, stride), (x, kernel)


def _spatial_bwd(stride, res, g):
    x, kernel = res
    h, w, c = x.shape[2:]
    k, p = kernel.shape[0], kernel.shape[0] // 2
    ho, wo = g.shape[2:4]
    # input gradient: correlate the stride-dilated, padded g with the flipped kernel
    gp = lax.pad(g, jnp.zeros((), g.dtype),
                 ((0, 0, 0), (0, 0, 0),
                  (k - 1 - p, h + p - (ho - 1) * stride - 1, stride - 1),
                  (k - 1 - p, w + p - (wo - 1) * stride - 1, stride - 1),
                  (0, 0, 0)))
    dx = correlate_hw(gp, kernel[::-1, ::-1, 0], h, w, 1)
    # kernel gradient: all taps from frame-summed partial products (see tap_sums)
    xp = jnp.pad(x, ((0, 0), (0, 0), (p, p), (p, p), (0, 0)))
    windows = [_spatial_window(xp, i, j, ho, wo, stride) for i in range(k) for j in range(k)]
    dk = tap_sums(windows, g, axis=1).reshape(k, k, 1, c).astype(kernel.dtype)
    return dx, dk


depthwise_spatial.defvjp(_spatial_fwd, _spatial_bwd)


def correlate_t(xp: jax.Array, kernel: jax.Array, t: int) -> jax.Array:
    """``y[:, s] = sum_j xp[:, s + j] * kernel[j]``; xp ``(N, Tp, H, W, C)``, kernel ``(k, C)``."""
    y = None
    for j in range(kernel.shape[0]):
        term = lax.slice_in_dim(xp, j, j + t, axis=1) * kernel[j]
        y = term if y is None else y + term
    return y


@jax.custom_vjp
def depthwise_temporal(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Depthwise ``kx1x1`` conv in time, zero padded: x ``(N, T, H, W, C)``, kernel ``(k, C)``."""
    p = kernel.shape[0] // 2
    xp = jnp.pad(x, ((0, 0), (p, p), (0, 0), (0, 0), (0, 0)))
    return correlate_t(xp, kernel, x.shape[1])


def _temporal_fwd(x, kernel):
    return depthwise_temporal(x, kernel), (x, kernel)


def _temporal_bwd(res, g):
    x, kernel = res
    t, p = x.shape[1], kernel.shape[0] // 2
    gp = jnp.pad(g, ((0, 0), (p, p), (0, 0), (0, 0), (0, 0)))
    dx = correlate_t(gp, kernel[::-1], t)
    xp = jnp.pad(x, ((0, 0), (p, p), (0, 0), (0, 0), (0, 0)))
    dk = tap_sums([lax.slice_in_dim(xp, j, j + t, axis=1) for j in range(kernel.shape[0])],
                   g, axis=2)
    return dx, dk.astype(kernel.dtype)


depthwise_temporal.defvjp(_temporal_fwd, _temporal_bwd)
