"""Parameter-holding conv layers and the norm/activation helpers.

All layers take and return channels-last video ``(N, T, H, W, C)`` and own
their kernels in the layouts documented in :mod:`jaxar.ops.conv`, so the
deploy-form exporter can read them by name. Each layer records its
multiply-adds with :mod:`jaxar.macs` for the model summary.
"""
from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar import macs
from jaxar.ops import conv as ops

Dtype = Any
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def _numel(shape) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


class Pointwise(nn.Module):
    """``1x1x1`` conv, kernel ``(C_in, features)``; optional spatial stride."""
    features: int
    stride: int = 1
    use_bias: bool = False

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", conv_init, (x.shape[-1], self.features), jnp.float32)
        y = ops.pointwise(x, kernel, self.stride)
        macs.record(self.scope.path, _numel(y.shape) * x.shape[-1])
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32).astype(y.dtype)
        return y


class SpatialConv(nn.Module):
    """``1xkxk`` conv. ``depthwise=True``: groups = C_in and ``features`` must
    be a multiple of C_in (channel multiplier ``features // C_in``).

    Kernel ``(k, k, C_in // groups, features)``.
    """
    features: int
    kernel_size: int = 3
    stride: int = 1
    depthwise: bool = False
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        groups = cin if self.depthwise else 1
        if self.features % groups:
            raise ValueError(f"{self.scope.path}: depthwise features {self.features} "
                             f"is not a multiple of input channels {cin}")
        k = self.kernel_size
        kernel = self.param("kernel", conv_init, (k, k, cin // groups, self.features), jnp.float32)
        y = ops.spatial_conv(x, kernel, self.stride, groups, self.impl)
        macs.record(self.scope.path, _numel(y.shape) * k * k * (cin // groups))
        return y


class TemporalDepthwise(nn.Module):
    """Depthwise ``kx1x1`` temporal conv, kernel ``(k, C)``, zero padded in time."""
    kernel_size: int = 3
    use_bias: bool = False
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        kernel = self.param("kernel", conv_init, (self.kernel_size, c), jnp.float32)
        y = ops.temporal_depthwise(x, kernel, self.impl)
        macs.record(self.scope.path, _numel(y.shape) * self.kernel_size)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (c,), jnp.float32).astype(y.dtype)
        return y


class Dense(nn.Module):
    """Dense layer on the last axis of a ``(..., C_in)`` tensor (2-D GEMM)."""
    features: int
    use_bias: bool = True
    kernel_init: Callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), jnp.float32)
        lead = x.shape[:-1]
        y = jnp.dot(x.reshape(-1, x.shape[-1]), kernel.astype(x.dtype)).reshape(*lead, self.features)
        macs.record(self.scope.path, _numel(y.shape) * x.shape[-1])
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32).astype(y.dtype)
        return y


def batch_norm(train: bool, axis_name: str | None = None, dtype: Dtype = jnp.float32,
               name: str | None = None, zero_init: bool = False) -> nn.BatchNorm:
    """BatchNorm over all axes but channels (PyTorch defaults: eps 1e-5, momentum 0.1).

    ``axis_name`` synchronises batch statistics across a ``shard_map``/``pmap``
    axis; under ``jit`` with a sharded batch the mean is global already.
    """
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        axis_name=axis_name, dtype=dtype, param_dtype=jnp.float32,
                        scale_init=nn.initializers.zeros if zero_init else nn.initializers.ones,
                        name=name)


ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu,
    "hard_swish": nn.hard_swish,
    "swish": nn.swish,
    "identity": lambda x: x,
}


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
