"""Ghost pointwise convolution (GhostNet, Han et al. 2020) in 3-D.

A primary ``1x1x1`` conv makes ``m = ceil(C_out / ratio)`` intrinsic
channels; a cheap depthwise ``1xkxk`` conv with channel multiplier
``ratio - 1`` makes ``m * (ratio - 1)`` "ghost" channels from them; the two
are concatenated (intrinsic first) and sliced to ``C_out``.

Each branch has BN and (optionally) the activation.  Layout in and out is
``(N, T, H, W, C)``; a ``stride`` > 1 subsamples space in the primary conv
(used by the downsampling shortcut).

Parameters: ``C_in*m`` (primary) + ``k*k*m*(ratio-1)`` (cheap) + BN affines.

Deploy form (:meth:`GhostPointwise.deploy_params`, :meth:`GhostPointwise.deploy_apply`):
each BN folded into its conv, and the cheap conv trimmed to the channels that
survive the slice to ``C_out`` (whole groups of ``ratio - 1`` outputs).
"""
from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables
from jaxar.modules.layers import Pointwise, SpatialConv, activation, batch_norm


def ghost_channels(features: int, ratio: int) -> tuple[int, int]:
    """``(primary, cheap)`` channel counts; ``primary + cheap >= features``."""
    if ratio < 1:
        raise ValueError(f"Ghost ratio must be >= 1, got {ratio}")
    if features < 1:
        raise ValueError(f"Ghost features must be >= 1, got {features}")
    m = math.ceil(features / ratio)
    return m, m * (ratio - 1)


class GhostPointwise(nn.Module):
    features: int
    ratio: int = 2
    cheap_kernel: int = 3
    stride: int = 1
    act: str = "identity"
    train: bool = False
    dtype: Any = jnp.float32
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        primary, cheap = ghost_channels(self.features, self.ratio)
        f = activation(self.act)
        bn = lambda name: batch_norm(self.train, self.dtype, name=name)
        p = f(bn("primary_bn")(Pointwise(primary, self.stride, name="primary")(x)))
        if cheap == 0:
            return p
        g = SpatialConv(cheap, self.cheap_kernel, depthwise=True, impl=self.impl, name="cheap")(p)
        g = f(bn("cheap_bn")(g))
        y = jnp.concatenate([p, g], axis=-1)
        if y.shape[-1] == self.features:
            return y
        return lax.slice_in_dim(y, 0, self.features, axis=y.ndim - 1)

    @nn.nowrap
    def deploy_params(self, v: Variables, align: int = 1) -> dict:
        """``{"primary": {w (m, C_in, 1, 1), b}, "cheap": {w (K', 1, k, k), b}}``
        (``cheap`` absent when no ghost channel survives).

        ``align > 1`` (ratio 2, nothing sliced off): the primary and cheap convs
        each get ``z`` all-zero output channels (zero kernel, zero bias, and every
        activation maps 0 to 0) so the output ``[primary m, 0 x z, cheap m, 0 x z]``
        has a multiple of ``align`` channels; :meth:`aligned_index` says where the
        real channels sit."""
        m, cheap = ghost_channels(self.features, self.ratio)
        out = {"primary": v.conv_bn("primary", "primary_bn")}
        if out["primary"]["w"].shape[0] != m:
            raise ValueError(f"{v.path}: primary conv has {out['primary']['w'].shape[0]} outputs, "
                             f"the config says {m}")
        keep = min(self.features - m, cheap)              # cheap channels left after the slice
        if keep <= 0:
            return out
        mult = self.ratio - 1
        keep = math.ceil(keep / mult) * mult              # whole groups: C_in_used * mult outputs
        chp = v.conv_bn("cheap", "cheap_bn")
        out["cheap"] = {"w": chp["w"][:keep], "b": chp["b"][:keep]}
        z = self.alignment_padding(align)
        if z:
            for part in out.values():
                part["w"] = np.concatenate([part["w"], np.zeros((z, *part["w"].shape[1:]), np.float32)])
                part["b"] = np.concatenate([part["b"], np.zeros(z, np.float32)])
        return out

    @nn.nowrap
    def alignment_padding(self, align: int) -> int:
        """Zero channels ``z`` added to each half by ``deploy_params(v, align)``."""
        m, cheap = ghost_channels(self.features, self.ratio)
        if align <= 1 or self.ratio != 2 or cheap + m != self.features or self.features % align == 0:
            return 0
        half = align // math.gcd(align, 2)
        return -m % half

    @nn.nowrap
    def aligned_index(self, align: int) -> np.ndarray:
        """``(features,)``: the position of each real output channel in the
        ``align``-padded deploy output (the identity when nothing is padded)."""
        m, _ = ghost_channels(self.features, self.ratio)
        z = self.alignment_padding(align)
        idx = np.arange(self.features)
        return np.where(idx < m, idx, idx + z)

    @nn.nowrap
    def deploy_parts(self, p: dict, x: dops.Act) -> list[dops.Act]:
        """The output as its channel blocks: ``[primary, cheap]`` in the planes
        view, or ``[primary]`` when there is no cheap conv. A following depthwise
        op can run on each block and concatenate after itself (ONNX Runtime then
        keeps its blocked layout through the Concat)."""
        f = activation(self.act)
        y = dops.pointwise(x, p["primary"]["w"], p["primary"]["b"], self.stride, f)
        m = y.channels
        if "cheap" not in p:
            return [dops.channel_slice(y, 0, self.features)]
        used = p["cheap"]["w"].shape[0] // (self.ratio - 1)          # input channels read
        y = y.to("planes")              # one view for the cheap conv, the concat and what follows
        g = dops.depthwise(dops.channel_slice(y, 0, used), p["cheap"]["w"], p["cheap"]["b"], act=f)
        padded = m - ghost_channels(self.features, self.ratio)[0]     # zero channels per half
        return [y, dops.channel_slice(g, 0, self.features - m + 2 * padded)]

    @nn.nowrap
    def deploy_apply(self, p: dict, x: dops.Act) -> dops.Act:
        parts = self.deploy_parts(p, x)
        return parts[0] if len(parts) == 1 else dops.concat_channels(parts)
