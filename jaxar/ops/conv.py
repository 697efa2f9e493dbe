"""Convolution primitives of the video networks in three interchangeable formulations.

Every tensor here is channels-last video, ``(N, T, H, W, C)``.

The network only ever needs four kinds of convolution:

* pointwise ``1x1x1`` (a matmul over channels, optionally spatially strided);
* depthwise spatial ``1xkxk`` (optionally with a channel multiplier, strided);
* depthwise temporal ``kx1x1`` (zero padded in time);
* the stem's dense ``1x3x3`` conv.

Each function takes ``impl`` (``"auto"`` picks one per backend, see
:mod:`jaxar.ops.formulation`):

* ``"conv3d"`` -- the straightforward formulation: one ``lax.conv_general_dilated``
  with three spatial dimensions (grouped for depthwise).  This is what a
  PyTorch ``nn.Conv3d`` port would do.
* ``"lowered"`` -- the same maths on 2-D-friendly ops: ``1xkxk`` convs run as
  2-D convs over the folded ``(N*T, H, W, C)`` batch, and the depthwise
  temporal conv is ``k`` shifted multiply-adds on static slices.  XLA's CPU
  grouped Conv3D is several times slower than this (see
  ``benchmarks/bench_formulations.py``).
* ``"shifted"`` -- ``"lowered"``, except that depthwise ``1xkxk`` convs are
  also ``k*k`` shifted multiply-adds on static (strided) slices, and both
  depthwise convs carry hand-written gradients (:mod:`jaxar.ops.shifted`). XLA's CPU
  grouped 2-D conv is itself slow (about 10x in the forward and 3-7x in the
  gradient at the tiny model's shapes), so this is the fastest formulation
  for training on CPU; accelerators and export keep ``"lowered"``.

All three use the same parameter arrays, so a checkpoint trained with one
runs with any other; ``tests/test_ops.py`` and ``tests/test_train_formulations.py``
prove they agree (values and gradients).

Kernel layouts (independent of ``impl``):

* pointwise: ``(C_in, C_out)``
* depthwise spatial: ``(k, k, 1, C_in * multiplier)`` -- HWIO with groups = C_in;
  output channel ``c*multiplier + j`` reads input channel ``c``.
* depthwise temporal: ``(k_t, C)``
* dense spatial (stem): ``(k, k, C_in, C_out)``
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from jaxar.ops import shifted as _shifted
from jaxar.ops.formulation import IMPLS, check_impl, resolve_impl  # noqa: F401

def same_pad(k: int) -> tuple[int, int]:
    """Symmetric 'same' padding for odd kernels (PyTorch ``padding=k//2``)."""
    if k % 2 != 1:
        raise ValueError(f"only odd kernel sizes are supported, got {k}")
    return (k // 2, k // 2)


def spatial_out(size: int, k: int, stride: int) -> int:
    """Output size of a symmetric-padded conv with kernel ``k`` and ``stride``."""
    p = k // 2
    return (size + 2 * p - k) // stride + 1


def subsample(x: jax.Array, stride: int) -> jax.Array:
    """Spatial subsampling ``x[:, :, ::s, ::s]`` written as a strided ``lax.slice``."""
    if stride == 1:
        return x
    n, t, h, w, c = x.shape
    return lax.slice(x, (0, 0, 0, 0, 0), (n, t, h, w, c), (1, 1, stride, stride, 1))


def pointwise(x: jax.Array, kernel: jax.Array, stride: int = 1) -> jax.Array:
    """``1x1x1`` conv: ``(N,T,H,W,Cin) x (Cin,Cout) -> (N,T,H',W',Cout)``.

    A strided pointwise conv equals subsampling followed by the matmul. The
    matmul is done on a 2-D ``(N*T*H*W, Cin)`` view so it lowers to a GEMM.
    """
    x = subsample(x, stride)
    lead = x.shape[:-1]
    y = jnp.dot(x.reshape(-1, x.shape[-1]), kernel.astype(x.dtype))
    return y.reshape(*lead, kernel.shape[-1])


def _fold(x: jax.Array) -> jax.Array:
    n, t, h, w, c = x.shape
    return x.reshape(n * t, h, w, c)


def _unfold(y: jax.Array, n: int, t: int) -> jax.Array:
    return y.reshape(n, t, *y.shape[1:])


def spatial_conv(x: jax.Array, kernel: jax.Array, stride: int = 1, groups: int = 1,
                 impl: str = "lowered") -> jax.Array:
    """``1xkxk`` conv (dense or grouped) with symmetric 'same' padding.

    Args:
      x: ``(N, T, H, W, C_in)``.
      kernel: ``(k, k, C_in // groups, C_out)``.
      stride: spatial stride (time is never strided).
      groups: ``C_in`` for depthwise.
    Returns:
      ``(N, T, H', W', C_out)`` with ``H' = spatial_out(H, k, stride)``.
    """
    impl = resolve_impl(impl)
    k = kernel.shape[0]
    pad = same_pad(k)
    kernel = kernel.astype(x.dtype)
    n, t = x.shape[:2]
    if impl == "shifted" and groups > 1 and groups == x.shape[-1]:
        return _depthwise_shifted(x, kernel, stride)
    if impl in ("lowered", "shifted"):
        y = lax.conv_general_dilated(
            _fold(x), kernel, window_strides=(stride, stride), padding=(pad, pad),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
        return _unfold(y, n, t)
    y = lax.conv_general_dilated(
        x, kernel[None], window_strides=(1, stride, stride), padding=((0, 0), pad, pad),
        dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), feature_group_count=groups)
    return y


def _depthwise_shifted(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """Depthwise ``1xkxk`` conv (channel multiplier ``m = C_out // C_in``) as
    ``k*k`` multiply-adds of strided static slices of the padded input, with
    the hand-written gradients of :func:`jaxar.ops.shifted.depthwise_spatial`."""
    c = x.shape[-1]
    mult = kernel.shape[-1] // c
    if mult > 1:                      # output channel c*m + j reads input channel c
        x = jnp.repeat(x, mult, axis=-1)
    return _shifted.depthwise_spatial(x, kernel, stride)


def temporal_depthwise(x: jax.Array, kernel: jax.Array, impl: str = "lowered") -> jax.Array:
    """Depthwise ``kx1x1`` temporal conv, zero padded at the clip ends.

    ``y[:, t, ..., c] = sum_j kernel[j, c] * x[:, t + j - k//2, ..., c]``
    (cross-correlation, like every deep-learning conv).

    Args:
      x: ``(N, T, H, W, C)``; kernel: ``(k, C)``.
    """
    impl = resolve_impl(impl)
    k, c = kernel.shape
    kernel = kernel.astype(x.dtype)
    p = k // 2
    if impl == "conv3d":
        return lax.conv_general_dilated(
            x, kernel.reshape(k, 1, 1, 1, c), window_strides=(1, 1, 1),
            padding=((p, p), (0, 0), (0, 0)),
            dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), feature_group_count=c)
    if impl == "shifted":
        return _shifted.depthwise_temporal(x, kernel)
    xp = jnp.pad(x, ((0, 0), (p, p), (0, 0), (0, 0), (0, 0)))
    return _shifted.correlate_t(xp, kernel, x.shape[1])       # differentiated by XLA
