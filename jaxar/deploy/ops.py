"""Channels-first 2-D operators of the deploy graph.

The deploy form keeps every activation as a 4-D tensor. Two views of one
clip batch are used, and switching between them is a free reshape (no
Transpose, the memory order is the same):

* **frame view** ``(N*T, C, H, W)`` -- frames folded into the batch; every
  ``1xkxk`` convolution, SimAM and the TAda context pooling run here as plain
  2-D ops (ONNX ``Conv`` / ``ReduceMean`` on NCHW);
* **clip view** ``(N, T, C, H*W)`` -- what the temporal ops need: the
  temporal shift (static ``Slice`` + ``Pad`` + ``Concat``), the depthwise
  temporal conv (``k`` shifted multiply-adds) and clip-level pooling.

Kernels are in ONNX layout ``OIHW`` (``(C_out, C_in // groups, k, k)``).
Slices are written with :func:`jax.lax.slice`, which every exporter maps to a
single ``Slice`` with constant starts/ends/axes (numpy-style indexing can
export as ``GatherND`` + index arithmetic instead). No op here has more than
four dimensions, and there is no grouped 3-D convolution.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

_CONV_DIMS = ("NCHW", "OIHW", "NCHW")


def to_clip(x: jax.Array, frames: int) -> jax.Array:
    """Frame view ``(N*T, C, H, W)`` -> clip view ``(N, T, C, H*W)``."""
    _, c, h, w = x.shape
    return x.reshape(-1, frames, c, h * w)


def to_frames(x: jax.Array, height: int, width: int) -> jax.Array:
    """Clip view ``(N, T, C, H*W)`` -> frame view ``(N*T, C, H, W)``."""
    _, _, c, _ = x.shape
    return x.reshape(-1, c, height, width)


def conv2d(x: jax.Array, w: jax.Array, b: jax.Array | None = None, stride: int = 1,
           groups: int = 1) -> jax.Array:
    """2-D conv on the frame view with symmetric 'same' padding ``k // 2``.

    Args:
      x: ``(B, C_in, H, W)``.
      w: ``(C_out, C_in // groups, k, k)``.
      b: ``(C_out,)`` or None.
    Returns:
      ``(B, C_out, H', W')``, ``H' = (H + 2*(k//2) - k) // stride + 1``.
    """
    k = w.shape[-1]
    p = k // 2
    y = lax.conv_general_dilated(x, jnp.asarray(w, x.dtype), (stride, stride), ((p, p), (p, p)),
                                 dimension_numbers=_CONV_DIMS, feature_group_count=groups)
    if b is not None:
        y = y + jnp.asarray(b, x.dtype).reshape(1, -1, 1, 1)
    return y


def channel_slice(x: jax.Array, start: int, stop: int, axis: int = 1) -> jax.Array:
    """``x[..., start:stop, ...]`` on ``axis`` as one static ``Slice``."""
    if start == 0 and stop == x.shape[axis]:
        return x
    return lax.slice_in_dim(x, start, stop, axis=axis)


def temporal_shift(x: jax.Array, frames: int, shift_div: int) -> jax.Array:
    """TSM on the frame view: same channel assignment as
    :func:`jaxar.modules.temporal_shift.temporal_shift` (channels ``[0, f)``
    move backward, ``[f, 2f)`` forward, zero-filled, ``f = C // shift_div``).

    ``(N*T, C, H, W) -> (N*T, C, H, W)``; runs on the clip view internally.
    """
    _, c, h, w = x.shape
    fold = c // shift_div
    if fold == 0 or frames == 1:
        return x if fold == 0 else _zero_shifted(x, fold)
    v = to_clip(x, frames)                                            # (N, T, C, HW)
    back = lax.slice_in_dim(channel_slice(v, 0, fold, axis=2), 1, frames, axis=1)
    fwd = lax.slice_in_dim(channel_slice(v, fold, 2 * fold, axis=2), 0, frames - 1, axis=1)
    back = jnp.pad(back, ((0, 0), (0, 1), (0, 0), (0, 0)))
    fwd = jnp.pad(fwd, ((0, 0), (1, 0), (0, 0), (0, 0)))
    rest = channel_slice(v, 2 * fold, c, axis=2)
    return to_frames(jnp.concatenate([back, fwd, rest], axis=2), h, w)


def _zero_shifted(x: jax.Array, fold: int) -> jax.Array:
    """T == 1: both shifted groups fall off the clip and become zero."""
    return jnp.pad(channel_slice(x, 2 * fold, x.shape[1]), ((0, 0), (2 * fold, 0), (0, 0), (0, 0)))


def temporal_taps(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """Depthwise temporal conv on the clip view, zero padded in time.

    ``y[:, t, c] = sum_j kernel[j, c] * x[:, t + j - k//2, c]``.

    Args:
      x: ``(N, T, C, L)`` (clip view; ``L`` = H*W or 1).
      kernel: ``(k, C)``.
    """
    k = kernel.shape[0]
    t = x.shape[1]
    p = k // 2
    xp = jnp.pad(x, ((0, 0), (p, p), (0, 0), (0, 0))) if p else x
    y = None
    for j in range(k):
        wj = jnp.asarray(kernel[j], x.dtype).reshape(1, 1, -1, 1)
        term = lax.slice_in_dim(xp, j, j + t, axis=1) * wj
        y = term if y is None else y + term
    return y


def dense(x: jax.Array, w: jax.Array, b: jax.Array | None = None) -> jax.Array:
    """``(B, C_in) @ (C_in, C_out) + b``: a 2-D GEMM."""
    y = jnp.dot(x, jnp.asarray(w, x.dtype))
    if b is not None:
        y = y + jnp.asarray(b, x.dtype)
    return y


def simam(x: jax.Array, frames: int, pool: str, lam: float) -> jax.Array:
    """SimAM on the frame view ``(N*T, C, H, W)``; see :mod:`jaxar.modules.simam`.

    ``pool="spatial"`` reduces over ``H, W`` per frame; ``"spatiotemporal"``
    over ``T, H, W`` per clip (on the clip view).
    """
    _, c, h, w = x.shape
    if pool == "spatial":
        v, axes, n = x, (2, 3), h * w
    elif pool == "spatiotemporal":
        v, axes, n = to_clip(x, frames), (1, 3), frames * h * w
    else:
        raise ValueError(f"SimAM pool must be 'spatial' or 'spatiotemporal', got {pool!r}")
    mu = jnp.mean(v, axis=axes, keepdims=True)
    d = jnp.square(v - mu)
    var = jnp.mean(d, axis=axes, keepdims=True) * (n / max(n - 1, 1))
    y = v * jax.nn.sigmoid(d / (4.0 * (var + lam)) + 0.5)
    return y if pool == "spatial" else to_frames(y, h, w)


def clip_mean(x: jax.Array, frames: int) -> jax.Array:
    """Global average over ``T, H, W``: ``(N*T, C, H, W) -> (N, C)``."""
    return jnp.mean(to_clip(x, frames), axis=(1, 3))
