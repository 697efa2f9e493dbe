"""3-D Universal Inverted Bottleneck (UIB-3D), and T-UIB when TAda is on.

Layout ``(N, T, H, W, C_in) -> (N, T, H/s, W/s, C_out)``::

    residual branch                                   shortcut
    x -> temporal shift (1/8 fwd, 1/8 bwd)            x                 (identity), or
      -> [pre-depthwise 1xkxk, stride s] -> BN        GhostPointwise(C_out, stride s) (no act)
      -> GhostPointwise expand C_in -> E (BN, act)      when s > 1 or C_in != C_out
      -> depthwise 3x1x1 (time) -> depthwise 1xkxk (space)
      -> [TAda: * (1 + beta g)]  -> BN -> act
      -> [squeeze-excite]  (stage 4)
      -> GhostPointwise project E -> C_out (BN, no act)
      -> + shortcut

The stride is carried by the pre-depthwise conv when the block has one,
otherwise by the mid spatial depthwise conv.  The temporal and spatial
depthwise convs form the (2+1)D factorisation of one depthwise 3-D conv; a
single BN follows the pair (both are linear, so their composition is a
separable ``3xkxk`` depthwise conv), which keeps the deploy graph short.
TAda scales the depthwise output before that BN, exactly TAdaConv's per-frame
kernel calibration.
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jaxar.modules.ghost import GhostPointwise
from jaxar.modules.layers import SpatialConv, TemporalDepthwise, activation, batch_norm
from jaxar.modules.squeeze_excite import SqueezeExcite
from jaxar.modules.tada import TAdaGate
from jaxar.modules.temporal_shift import temporal_shift


class UIB3D(nn.Module):
    out_channels: int
    expanded: int
    stride: int = 1
    pre_dw: bool = True
    kernel_size: int = 3
    temporal_kernel: int = 3
    shift_div: int = 8
    ghost_ratio: int = 2
    ghost_kernel: int = 3
    se_hidden: int = 0          # 0: no squeeze-excite
    tada_hidden: int = 0        # 0: plain UIB; > 0: T-UIB with this gate width
    act: str = "relu"
    train: bool = False
    bn_axis_name: str | None = None
    dtype: Any = jnp.float32
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        bn = lambda name: batch_norm(self.train, self.bn_axis_name, self.dtype, name=name)
        ghost = lambda features, act, stride, name: GhostPointwise(
            features, self.ghost_ratio, self.ghost_kernel, stride, act, self.train,
            self.bn_axis_name, self.dtype, self.impl, name=name)

        h = temporal_shift(x, self.shift_div)
        mid_stride = self.stride
        if self.pre_dw:
            h = SpatialConv(cin, self.kernel_size, self.stride, depthwise=True, impl=self.impl,
                            name="pre_dw")(h)
            h = bn("pre_dw_bn")(h)
            mid_stride = 1
        h = ghost(self.expanded, self.act, 1, "expand")(h)
        ctx = h
        h = TemporalDepthwise(self.temporal_kernel, impl=self.impl, name="dw_temporal")(h)
        h = SpatialConv(self.expanded, self.kernel_size, mid_stride, depthwise=True,
                        impl=self.impl, name="dw_spatial")(h)
        if self.tada_hidden:
            h = h * TAdaGate(self.tada_hidden, self.temporal_kernel, self.impl, name="tada")(ctx)
        h = activation(self.act)(bn("dw_bn")(h))
        if self.se_hidden:
            h = SqueezeExcite(self.se_hidden, name="se")(h)
        h = ghost(self.out_channels, "identity", 1, "project")(h)

        if self.stride == 1 and cin == self.out_channels:
            shortcut = x
        else:
            shortcut = ghost(self.out_channels, "identity", self.stride, "shortcut")(x)
        return shortcut + h
