"""Channels-first 4-D operators of the deploy graph.

Activations are stored as ``(N, C, T, S)`` with ``S = H*W`` (the memory order
of PyTorch's ``NCTHW`` video), and two free reshapes of it are used:

* **sequence view** ``(N, C, T, S)`` -- pointwise convs are ``1x1`` Convs,
  the depthwise temporal conv is one ``(k_t x 1)`` depthwise Conv, the
  temporal shift is static ``Slice`` + ``Pad`` + ``Concat`` on axes 1/2, and
  pooling is ``ReduceMean`` over axes 2/3;
* **plane view** ``(N, C*T, H, W)`` -- every ``1xkxk`` depthwise conv is a 2-D
  depthwise Conv with ``groups = C*T``: each (channel, frame) plane is
  filtered with its channel's kernel, so the kernel is repeated ``T`` times
  (:func:`plane_kernel`; the weights grow, the arithmetic does not).

Written this way the temporal conv is a single Conv instead of pad + three
shifted multiply-adds (5x faster on ONNX Runtime CPU for a stage-1 tensor),
there is no grouped 3-D conv, and every tensor is 4-D. Kernels are ONNX
``OIHW``. Slices use :func:`jax.lax.slice_in_dim`, which exporters map to one
``Slice`` with constant axes. Weights may be numpy arrays (closed over at
export: kernel re-layouts then happen in numpy and become initializers) or
traced arrays (jit with weights as arguments).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_CONV_DIMS = ("NCHW", "OIHW", "NCHW")


def xp_of(a):
    """numpy for concrete numpy weights (folded at trace time), else jax.numpy."""
    return np if isinstance(a, np.ndarray) else jnp


def dense_as_conv(w):
    """Dense kernel ``(C_in, C_out)`` -> 1x1 conv kernel ``(C_out, C_in, 1, 1)``."""
    xp = xp_of(w)
    return xp.transpose(w)[:, :, None, None]


def conv(x: jax.Array, w, b=None, stride=(1, 1), padding=((0, 0), (0, 0)), groups: int = 1) -> jax.Array:
    """``Conv`` on an NCHW-shaped 4-D tensor; ``b`` is ``(C_out,)`` or None."""
    y = lax.conv_general_dilated(x, jnp.asarray(w, x.dtype), tuple(stride), tuple(padding),
                                 dimension_numbers=_CONV_DIMS, feature_group_count=groups)
    if b is not None:
        y = y + jnp.asarray(b, x.dtype).reshape(1, -1, 1, 1)
    return y


def pointwise(x: jax.Array, w, b=None) -> jax.Array:
    """1x1 conv on the sequence view: ``(N, C_in, T, S) -> (N, C_out, T, S)``."""
    return conv(x, w, b)


def pointwise_strided(x: jax.Array, w, b, height: int, stride: int) -> tuple[jax.Array, int]:
    """1x1 conv with spatial stride; returns ``(y, new_height)``.

    On the ``(N, C, T*H, W)`` view a stride-``s`` 1x1 conv subsamples every
    frame exactly when ``H % s == 0`` (row ``t*H + s*i`` is frame ``t``'s row
    ``s*i``); otherwise the frames are subsampled with one strided Slice first.
    """
    n, c, t, s = x.shape
    width = s // height
    if stride == 1:
        return pointwise(x, w, b), height
    if height % stride == 0:
        v = x.reshape(-1, c, t * height, width)
        y = conv(v, w, b, stride=(stride, stride))
    else:
        y = conv(_subsample_planes(x, height, stride), w, b)
    ho = y.shape[2] // t
    return y.reshape(-1, y.shape[1], t, ho * y.shape[3]), ho


def _subsample_planes(x: jax.Array, height: int, stride: int) -> jax.Array:
    """``(N, C, T, H*W)`` -> ``(N, C, T*H', W')`` keeping rows/cols ``0, s, 2s, ...``."""
    n, c, t, s = x.shape
    width = s // height
    v = x.reshape(-1, c * t, height, width)
    v = lax.slice(v, (0, 0, 0, 0), v.shape, (1, 1, stride, stride))
    return v.reshape(-1, c, t * v.shape[2], v.shape[3])


def depthwise_spatial(x: jax.Array, w, b, height: int, stride: int = 1) -> tuple[jax.Array, int]:
    """``1xkxk`` depthwise conv on the plane view: ``(N, C, T, H*W) -> (N, C*m, T, H'*W')``
    with channel multiplier ``m = w.shape[0] // C`` (output ``c*m + j`` reads input ``c``);
    returns ``(y, H')``.

    Args:
      w: ``(C*m, 1, k, k)`` (one kernel per channel, repeated over frames here);
      b: ``(C*m,)`` or None.
    """
    _, c, t, s = x.shape
    width = s // height
    m = w.shape[0] // c
    k = w.shape[-1]
    p = k // 2
    v = x.reshape(-1, c * t, height, width)
    outs = []
    for j in range(m):                       # m == 1 for every registered variant (Ghost ratio 2)
        wj = w[j::m] if m > 1 else w
        y = conv(v, plane_kernel(wj, t), None, stride=(stride, stride), padding=((p, p), (p, p)),
                 groups=c * t)
        ho, wo = y.shape[2], y.shape[3]
        outs.append(y.reshape(-1, c, t, ho * wo))
    if m == 1:
        y = outs[0]
    else:                                    # channel order j*C + c -> c*m + j (one Gather)
        perm = np.arange(c * m).reshape(m, c).T.reshape(-1)
        y = jnp.take(jnp.concatenate(outs, axis=1), perm, axis=1)
    if b is not None:
        y = y + jnp.asarray(b, y.dtype).reshape(1, -1, 1, 1)
    return y, ho


def plane_kernel(w, frames: int):
    """``(C, 1, k, k)`` -> ``(C*T, 1, k, k)``: plane channel ``c*T + t`` gets kernel ``c``."""
    xp = xp_of(w)
    return xp.repeat(w, frames, axis=0)


def temporal_conv(x: jax.Array, w, b=None) -> jax.Array:
    """Depthwise temporal conv, zero padded: ``(N, C, T, S)``, kernel ``(k, C)``.

    ``y[:, c, t] = b[c] + sum_j w[j, c] * x[:, c, t + j - k//2]`` -- one
    depthwise Conv with a ``(k x 1)`` kernel on the sequence view.
    """
    xp = xp_of(w)
    k, c = w.shape
    p = k // 2
    wk = xp.transpose(w).reshape(c, 1, k, 1)
    return conv(x, wk, b, padding=((p, p), (0, 0)), groups=c)


def channel_slice(x: jax.Array, start: int, stop: int, axis: int = 1) -> jax.Array:
    """``x[..., start:stop, ...]`` on ``axis`` as one static ``Slice``."""
    if start == 0 and stop == x.shape[axis]:
        return x
    return lax.slice_in_dim(x, start, stop, axis=axis)


def temporal_shift(x: jax.Array, shift_div: int) -> jax.Array:
    """TSM on ``(N, C, T, S)``: same channel assignment as
    :func:`jaxar.modules.temporal_shift.temporal_shift` (channels ``[0, f)``
    move backward in time, ``[f, 2f)`` forward, zero-filled, ``f = C // shift_div``)."""
    _, c, t, _ = x.shape
    fold = c // shift_div
    if fold == 0:
        return x
    back = channel_slice(x, 0, fold)
    fwd = channel_slice(x, fold, 2 * fold)
    if t > 1:
        back = jnp.pad(lax.slice_in_dim(back, 1, t, axis=2), ((0, 0), (0, 0), (0, 1), (0, 0)))
        fwd = jnp.pad(lax.slice_in_dim(fwd, 0, t - 1, axis=2), ((0, 0), (0, 0), (1, 0), (0, 0)))
    else:
        back, fwd = jnp.zeros_like(back), jnp.zeros_like(fwd)
    return jnp.concatenate([back, fwd, channel_slice(x, 2 * fold, c)], axis=1)


def simam(x: jax.Array, pool: str, lam: float) -> jax.Array:
    """SimAM on ``(N, C, T, S)``; ``"spatial"`` pools over S per frame,
    ``"spatiotemporal"`` over T and S (see :mod:`jaxar.modules.simam`)."""
    _, _, t, s = x.shape
    if pool == "spatial":
        axes, n = (3,), s
    elif pool == "spatiotemporal":
        axes, n = (2, 3), t * s
    else:
        raise ValueError(f"SimAM pool must be 'spatial' or 'spatiotemporal', got {pool!r}")
    mu = jnp.mean(x, axis=axes, keepdims=True)
    d = jnp.square(x - mu)
    var = jnp.mean(d, axis=axes, keepdims=True) * (n / max(n - 1, 1))
    inv = 1.0 / (4.0 * (var + lam))                 # on the pooled (small) tensor
    return x * jax.nn.sigmoid(d * inv + 0.5)


def dense(x: jax.Array, w, b=None) -> jax.Array:
    """``(B, C_in) @ (C_in, C_out) + b``: a 2-D GEMM."""
    y = jnp.dot(x, jnp.asarray(w, x.dtype))
    if b is not None:
        y = y + jnp.asarray(b, x.dtype)
    return y
