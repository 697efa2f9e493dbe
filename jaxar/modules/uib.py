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

The temporal shift and the pre-depthwise conv commute (one moves frames, the
other mixes pixels within a frame, and the conv has no bias), so both forms
compute the conv on the block input and shift its (strided, smaller) output,
before the pre-depthwise BN: the shifted tensor is never materialised at the
input's size, and the BN's batch statistics (which see the zero-filled frames)
are those of the diagram.

The stride is carried by the pre-depthwise conv when the block has one,
otherwise by the mid spatial depthwise conv.  The temporal and spatial
depthwise convs form the (2+1)D factorisation of one depthwise 3-D conv; a
single BN follows the pair (both are linear, so their composition is a
separable ``3xkxk`` depthwise conv), which keeps the deploy graph short.
TAda scales the depthwise output before that BN, exactly TAdaConv's per-frame
kernel calibration.

The block's wiring (stride placement, pre-depthwise, shortcut rule, the
sub-modules and their settings) is stated once, in the ``nowrap`` helpers
below; ``__call__`` (training) and :meth:`UIB3D.deploy_params` /
:meth:`UIB3D.deploy_apply` (deploy form) both read it. Deploy form: every BN
folded into the conv before it; the mid BN's scale folded into the spatial
depthwise kernel and its shift kept as ``dw_bias``, added after the temporal
taps and TAda (the bias of the temporal Conv when there is no TAda); the
spatial depthwise conv runs before the temporal one (both are linear and
depthwise, so they commute; the stride then shrinks the temporal conv's input)
and on each half of the expand Ghost's output, concatenated after it; the
temporal shift follows the bias-free pre-depthwise conv (its BN shift is in
the expand conv's bias); the expanded width is padded to
:data:`CHANNEL_ALIGN` with exact zero channels. These keep ONNX Runtime's
blocked CPU kernels in one layout (docs/architecture.md, "The deploy form").
"""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32, hwio_to_oihw
from jaxar.modules.ghost import GhostPointwise
from jaxar.modules.layers import SpatialConv, TemporalDepthwise, activation, batch_norm
from jaxar.modules.squeeze_excite import SqueezeExcite
from jaxar.modules.tada import TAdaGate
from jaxar.modules.temporal_shift import deploy_temporal_shift, temporal_shift


# Channel multiple of the expanded tensor in the deploy form: ONNX Runtime's
# blocked-layout (NCHWc) CPU kernels need channel counts that are multiples of
# their block (8 with AVX2); Ghost pads with exact zero channels (see
# GhostPointwise.deploy_params), and the ops after it carry them.
CHANNEL_ALIGN = 8

def _scatter(a: np.ndarray, idx: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``a`` with its ``axis`` spread to ``size`` entries at ``idx`` (zeros elsewhere)."""
    if size == a.shape[axis]:
        return a
    shape = list(a.shape)
    shape[axis] = size
    out = np.zeros(shape, a.dtype)
    sl = [slice(None)] * a.ndim
    sl[axis] = idx
    out[tuple(sl)] = a
    return out


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
    dtype: Any = jnp.float32
    impl: str = "lowered"

    # -- wiring, shared by the training and the deploy form -----------------
    @nn.nowrap
    def mid_stride(self) -> int:
        """Stride of the mid spatial depthwise conv (the pre-depthwise carries it if present)."""
        return 1 if self.pre_dw else self.stride

    @nn.nowrap
    def projects_shortcut(self, in_channels: int) -> bool:
        """Whether the shortcut is a strided Ghost projection (else the identity)."""
        return self.stride > 1 or in_channels != self.out_channels

    @nn.nowrap
    def ghost(self, name: str) -> GhostPointwise:
        features, act, stride = {"expand": (self.expanded, self.act, 1),
                                 "project": (self.out_channels, "identity", 1),
                                 "shortcut": (self.out_channels, "identity", self.stride)}[name]
        return GhostPointwise(features, self.ghost_ratio, self.ghost_kernel, stride, act, self.train,
                              self.dtype, self.impl, name=name)

    @nn.nowrap
    def tada(self) -> TAdaGate | None:
        return TAdaGate(self.tada_hidden, self.temporal_kernel, self.impl, name="tada") \
            if self.tada_hidden else None

    @nn.nowrap
    def se(self) -> SqueezeExcite | None:
        return SqueezeExcite(self.se_hidden, name="se") if self.se_hidden else None

    # -- training form ------------------------------------------------------
    @nn.compact
    def __call__(self, x):
        cin = x.shape[-1]
        bn = lambda name: batch_norm(self.train, self.dtype, name=name)
        if self.pre_dw:                 # shift after the conv (module docstring)
            h = SpatialConv(cin, self.kernel_size, self.stride, depthwise=True, impl=self.impl,
                            name="pre_dw")(x)
            h = bn("pre_dw_bn")(temporal_shift(h, self.shift_div))
        else:
            h = temporal_shift(x, self.shift_div)
        h = self.ghost("expand")(h)
        ctx = h
        h = TemporalDepthwise(self.temporal_kernel, impl=self.impl, name="dw_temporal")(h)
        h = SpatialConv(self.expanded, self.kernel_size, self.mid_stride(), depthwise=True,
                        impl=self.impl, name="dw_spatial")(h)
        gate = self.tada()
        if gate is not None:
            h = h * gate(ctx)
        h = activation(self.act)(bn("dw_bn")(h))
        se = self.se()
        if se is not None:
            h = se(h)
        h = self.ghost("project")(h)
        shortcut = self.ghost("shortcut")(x) if self.projects_shortcut(cin) else x
        return shortcut + h

    # -- deploy form --------------------------------------------------------
    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """Folded float32 tree::

            pre_dw {w (C,1,k,k)}  (if pre_dw; its BN shift is in expand's primary bias)
            expand, project, shortcut: Ghost trees (expand padded to E' channels)
            dw_spatial (E',1,k,k) (dw_bn scale folded)  dw_temporal (k_t,E')  dw_bias (E',)
            tada {...} (T-UIB)                          se {...} (SE blocks)

        ``E'`` is the expanded width ``E`` rounded up to :data:`CHANNEL_ALIGN` by
        the Ghost's zero channels when it can be (else ``E``); every tensor indexed
        by the expanded channels is zero at the padded positions.
        """
        out: dict = {}
        expand = self.ghost("expand")
        out["expand"] = expand.deploy_params(v.child("expand"), align=CHANNEL_ALIGN)
        if self.pre_dw:
            # The deploy graph shifts after the (bias-free) pre-depthwise conv; its BN
            # shift moves through the linear primary 1x1 conv into that conv's bias.
            pre = v.conv_bn("pre_dw", "pre_dw_bn")
            out["pre_dw"] = {"w": pre["w"]}
            primary = out["expand"]["primary"]
            w = np.asarray(primary["w"], np.float64)[:, :, 0, 0]
            primary["b"] = f32(np.asarray(primary["b"], np.float64) + w @ np.asarray(pre["b"], np.float64))
        # every per-channel tensor of the expanded width E follows the Ghost's padding
        idx = expand.aligned_index(CHANNEL_ALIGN)
        width = len(idx) + 2 * expand.alignment_padding(CHANNEL_ALIGN)
        pad = lambda a, axis: _scatter(a, idx, width, axis)
        scale, shift = v.bn("dw_bn")
        spatial = hwio_to_oihw(v.child("dw_spatial").param("kernel"))
        out["dw_spatial"] = pad(f32(spatial * scale[:, None, None, None]), 0)
        out["dw_temporal"] = pad(f32(v.child("dw_temporal").param("kernel")), 1)
        out["dw_bias"] = pad(f32(shift), 0)
        for name, part in (("tada", self.tada()), ("se", self.se())):
            if part is not None:
                out[name] = part.deploy_params(v.child(name))
        if "tada" in out:
            out["tada"]["reduce_w"] = pad(out["tada"]["reduce_w"], 0)
            out["tada"]["expand_w"] = pad(out["tada"]["expand_w"], 1)
            out["tada"]["expand_b"] = pad(out["tada"]["expand_b"], 0)
        if "se" in out:
            out["se"]["reduce_w"] = pad(out["se"]["reduce_w"], 0)
            out["se"]["expand_w"] = pad(out["se"]["expand_w"], 1)
            out["se"]["expand_b"] = pad(out["se"]["expand_b"], 0)
        out["project"] = self.ghost("project").deploy_params(v.child("project"))
        out["project"]["primary"]["w"] = pad(out["project"]["primary"]["w"], 1)
        cin = v.child("expand").child("primary").param("kernel").shape[0]
        if self.projects_shortcut(cin):
            out["shortcut"] = self.ghost("shortcut").deploy_params(v.child("shortcut"))
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: dops.Act) -> dops.Act:
        act = activation(self.act)
        if self.pre_dw:         # shift and depthwise conv commute (time vs space, no bias)
            h = deploy_temporal_shift(dops.depthwise(x, p["pre_dw"]["w"], None, self.stride),
                                      self.shift_div)
        else:
            h = deploy_temporal_shift(x, self.shift_div)
        # the spatial depthwise conv runs on each Ghost block, the concat after it
        blocks = self.ghost("expand").deploy_parts(p["expand"], h)
        parts, start = [], 0
        for q in blocks:
            parts.append(dops.depthwise(q, p["dw_spatial"][start:start + q.channels], None,
                                        self.mid_stride()))
            start += q.channels
        h = dops.concat_channels(parts)
        gate = self.tada()
        if gate is None:                                   # BN shift = the temporal Conv's bias
            h = dops.temporal(h, p["dw_temporal"], p["dw_bias"], act=act)
        else:                       # TAda's context: per-frame means of the expanded tensor
            ctx = dops.concat_channels([dops.spatial_mean(q) for q in blocks])
            h = dops.multiply(dops.temporal(h, p["dw_temporal"]), gate.deploy_apply(p["tada"], ctx))
            h = dops.apply(dops.add_channel_bias(h, p["dw_bias"]), act)
        se = self.se()
        if se is not None:
            h = se.deploy_apply(p["se"], h)
        h = self.ghost("project").deploy_apply(p["project"], h)
        shortcut = (self.ghost("shortcut").deploy_apply(p["shortcut"], x)
                    if self.projects_shortcut(x.channels) else x)
        return dops.add(h, shortcut)      # in the branch's view (planes after a Ghost concat)
