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
import numpy as np

from jaxar import macs
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import BN_EPS, Variables, f32  # noqa: F401  (BN_EPS: one value for both forms)
from jaxar.ops import conv as ops

Dtype = Any
conv_init = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
BN_MOMENTUM = 0.1      # PyTorch convention: new = (1 - momentum) * old + momentum * batch


def temporal_init(key, shape, dtype=jnp.float32):
    """:data:`conv_init` for a depthwise temporal kernel ``(k, C)`` with PyTorch's
    fans: as a ``Conv3d(C, C, (k,1,1), groups=C)`` weight ``(C, 1, k, 1, 1)`` its
    fan-out is ``C * k`` (std ``sqrt(2 / (k*C))``), not the dense reading ``C``."""
    k, c = shape
    return conv_init(key, (k, 1, c), dtype).reshape(shape)


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

    @nn.nowrap
    def deploy_params(self, v: Variables, bn: str) -> dict:
        """This conv (``self.name`` in the parent's slice ``v``) followed by the
        BN ``bn`` beside it, folded: ``{w (C_out, C_in/groups, k, k), b}``."""
        return v.conv_bn(self.name, bn)

    @nn.nowrap
    def deploy_apply(self, p: dict, a: dops.Act, act=None) -> dops.Act:
        """Conv + folded BN (+ ``act``) on a deploy activation; a dense (not
        depthwise) conv runs per frame, so it needs the frames-major layout."""
        act = act or _identity
        if self.depthwise:
            return dops.depthwise(a, p["w"], p["b"], self.stride, act)
        if a.layout != "frames-major":
            raise ValueError(f"{self.name}: a dense {self.kernel_size}x{self.kernel_size} conv runs on "
                             f"frames-major activations, got {a.layout}")
        pad = ops.same_pad(p["w"].shape[-1])
        y = act(dops.conv(a.view_as("planes"), p["w"], p["b"], (self.stride, self.stride), (pad, pad)))
        return a.replace(y, "planes", channels=y.shape[1], height=y.shape[2], width=y.shape[3])


class TemporalDepthwise(nn.Module):
    """Depthwise ``kx1x1`` temporal conv, kernel ``(k, C)``, zero padded in time."""
    kernel_size: int = 3
    use_bias: bool = False
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        kernel = self.param("kernel", temporal_init, (self.kernel_size, c), jnp.float32)
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

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{w (C_in, features), b (features,) or None}`` float32."""
        return {"w": f32(v.param("kernel")), "b": f32(v.param("bias")) if self.use_bias else None}

    @nn.nowrap
    def deploy_apply(self, p: dict, x):
        """``(B, C_in)`` -> ``(B, features)``: one GEMM."""
        return dops.dense(x, p["w"], p["b"])


class BatchNorm(nn.Module):
    """BatchNorm over all axes but the last (channels), with PyTorch's semantics.

    Train mode normalises with the biased batch variance and updates the running
    variance with the *unbiased* one (``n / (n - 1)`` times it, ``n`` = values per
    channel), as ``torch.nn.BatchNorm*d`` does; eps :data:`BN_EPS`, momentum
    :data:`BN_MOMENTUM`. Statistics are computed in float32 whatever ``dtype`` is.
    Variables: params ``scale``, ``bias``; batch_stats ``mean``, ``var`` (``(C,)``).
    Under ``jit`` with a sharded batch the statistics are global already.
    """
    use_running_average: bool = True
    dtype: Dtype = jnp.float32
    zero_init: bool = False

    @nn.compact
    def __call__(self, x):
        c = x.shape[-1]
        axes = tuple(range(x.ndim - 1))
        scale = self.param("scale", nn.initializers.zeros if self.zero_init else nn.initializers.ones,
                           (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        if self.use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            xf = x.astype(jnp.float32)
            mean = jnp.mean(xf, axis=axes)
            var = jnp.maximum(jnp.mean(jnp.square(xf), axis=axes) - jnp.square(mean), 0.0)
            n = int(np.prod([x.shape[a] for a in axes]))
            if not self.is_initializing():
                m = BN_MOMENTUM
                ra_mean.value = (1 - m) * ra_mean.value + m * mean
                ra_var.value = (1 - m) * ra_var.value + m * var * (n / max(n - 1, 1))
        mul = scale * jax.lax.rsqrt(var + BN_EPS)
        y = (x.astype(jnp.float32) - mean) * mul + bias
        return y.astype(self.dtype)


def batch_norm(train: bool, dtype: Dtype = jnp.float32, name: str | None = None,
               zero_init: bool = False) -> BatchNorm:
    """A :class:`BatchNorm` in train (batch statistics) or eval (running) mode."""
    return BatchNorm(use_running_average=not train, dtype=dtype, zero_init=zero_init, name=name)


ACTIVATIONS = ("relu", "hard_swish", "swish", "identity")


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation ``name``; ``jax.nn`` is looked up at call time, so exporters
    that patch ``jax.nn.relu`` while tracing (jax2onnx: one ``Relu`` node) see it.
    Training module and deploy form both call this."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    if name == "identity":
        return _identity
    return lambda x: getattr(jax.nn, name)(x)


def _identity(x):
    return x
