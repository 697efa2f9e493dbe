"""Temporal Shift Module (TSM, Lin et al. 2019) as pure slice + pad + concat.

Layout ``(N, T, H, W, C)``.  With ``fold = C // shift_div``:

* channels ``[0, fold)`` move one step *backward* in time:
  ``out[:, t] = x[:, t + 1]``, the last frame is zero;
* channels ``[fold, 2*fold)`` move one step *forward* in time:
  ``out[:, t] = x[:, t - 1]``, the first frame is zero;
* channels ``[2*fold, C)`` are untouched.

This is the channel assignment of the reference TSM code.  Nothing wraps
around the clip ends.  Only static ``lax.slice`` / ``jnp.pad`` / concatenate
are used, so the op traces, differentiates and exports (ONNX ``Slice``,
``Pad``, ``Concat``) without in-place indexing.  No parameters.

Deploy form (:func:`deploy_temporal_shift`): the per-channel frame offsets of
:func:`shift_offsets` applied by :func:`jaxar.deploy.ops.shift_channels` (a
one-hot depthwise temporal Conv in the channels-major layout).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar.deploy import ops as dops


def shift_fold(channels: int, shift_div: int = 8) -> int:
    """Number of channels shifted in each direction."""
    return channels // shift_div


def shift_offsets(channels: int, shift_div: int = 8) -> np.ndarray:
    """``(C,)`` int: channel ``c`` of the output reads frame ``t + offsets[c]``
    (+1 for the backward fold, -1 for the forward fold, 0 for the rest)."""
    fold = shift_fold(channels, shift_div)
    off = np.zeros(channels, np.int64)
    off[:fold], off[fold:2 * fold] = 1, -1
    return off


def deploy_temporal_shift(x: dops.Act, shift_div: int = 8) -> dops.Act:
    """:func:`temporal_shift` on a deploy activation (either layout)."""
    if shift_fold(x.channels, shift_div) == 0:
        return x
    return dops.shift_channels(x, shift_offsets(x.channels, shift_div))


def temporal_shift(x: jax.Array, shift_div: int = 8) -> jax.Array:
    """Shifts 1/``shift_div`` of the channels each way in time (see module doc).

    Args:
      x: ``(N, T, ...spatial, C)``: time is axis 1, channels the last axis.
    Returns:
      An array of the same shape and dtype.
    """
    c = x.shape[-1]
    t = x.shape[1]
    fold = shift_fold(c, shift_div)
    if fold == 0:
        return x
    ax = x.ndim - 1
    back = lax.slice_in_dim(x, 0, fold, axis=ax)            # channels moving backward
    fwd = lax.slice_in_dim(x, fold, 2 * fold, axis=ax)      # channels moving forward
    rest = lax.slice_in_dim(x, 2 * fold, c, axis=ax)
    zero_pad = [(0, 0)] * x.ndim
    pad_end, pad_start = list(zero_pad), list(zero_pad)
    pad_end[1], pad_start[1] = (0, 1), (1, 0)
    back = jnp.pad(lax.slice_in_dim(back, 1, t, axis=1), pad_end)
    fwd = jnp.pad(lax.slice_in_dim(fwd, 0, t - 1, axis=1), pad_start)
    return jnp.concatenate([back, fwd, rest], axis=-1)
