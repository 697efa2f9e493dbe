"""X3D (Feichtenhofer, CVPR 2020): X3D-XS, X3D-S and X3D-M.

Built as the reference implementation (PyTorchVideo's ``create_x3d``) builds them:
width factor 2.0, bottleneck factor 2.25, depth factor 2.2 (stage depths
3/5/11/7), so all three share one network and differ only in their input
(XS 4x160^2, S 13x160^2, M 16x224^2). Input ``(N, T, H, W, 3)`` float
(normalised RGB, channels-last); output logits ``(N, num_classes)`` float32::

    stem:    1x3x3 conv 3->24, stride (1,2,2) -> 5x1x1 depthwise conv -> BN -> ReLU
    stage s: depths[s] bottleneck blocks, spatial stride 2 in the first:
             1x1x1 conv C_in->E, BN, ReLU -> 3x3x3 depthwise conv (stride
             (1,s,s)), BN -> [SE, on blocks 0, 2, 4, ...] -> Swish
             -> 1x1x1 conv E->C_out, BN -> + shortcut -> ReLU
             (E = 2.25 C_out; shortcut: identity, or a strided 1x1x1 conv
             when the shape changes, + BN when the width changes)
    head:    1x1x1 conv 192->432, BN, ReLU -> global average pool
             -> linear 432->2048 (no bias), ReLU -> dropout -> linear classifier

Parameter tree: ``stem/{conv_xy, conv_t, conv_t_bn}``,
``stage{s}/block{b}/{conv_a, conv_a_bn, conv_b, conv_b_bn, se, conv_c,
conv_c_bn, shortcut, [shortcut_bn]}``, ``head/{conv, conv_bn, hidden,
classifier}``. Kernel layouts follow :mod:`jaxar.ops.conv`; the 3x3x3
depthwise kernel is DHWIO ``(k_t, k, k, 1, C)``.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

import numpy as np

from jaxar import macs
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32, hwio_to_oihw
from jaxar.deploy.network import DeployNetwork, Part
from jaxar.models.base import DTYPES, ModelConfigBase, check_clip, stage_count, FrameFeatures
from jaxar.models.stages import Stage, stage_parts
from jaxar.modules.layers import (Dense, Pointwise, SpatialConv, TemporalDepthwise, activation,
                                  batch_norm, conv_init)
from jaxar.modules.squeeze_excite import SqueezeExcite, make_divisible
from jaxar.ops import conv as ops


@dataclasses.dataclass(frozen=True)
class X3DConfig(ModelConfigBase):
    """One X3D network; the registered variants fix the paper's inputs."""
    family: ClassVar[str] = "x3d"
    # backbone (the expanded widths of X3D: base widths x width factor 2.0)
    stem_width: int = 24
    stem_temporal_kernel: int = 5
    widths: tuple[int, ...] = (24, 48, 96, 192)
    depths: tuple[int, ...] = (3, 5, 11, 7)       # (1, 2, 5, 3) x depth factor 2.2, rounded up
    bottleneck: float = 2.25                      # inner = int(bottleneck * width)
    strides: tuple[int, ...] = (2, 2, 2, 2)       # spatial stride of each stage's first block
    kernel_size: int = 3                          # spatial k of the k_t x k x k depthwise conv
    temporal_kernel: int = 3
    se_ratio: float = 1 / 16                      # hidden = make_divisible(inner * ratio, 8)
    se_every: int = 2                             # SE on blocks 0, se_every, ...; 0: no SE
    stride_shortcut_bn: bool = False              # BN after a shortcut conv that keeps the width
    # head
    head_width: int = 432
    head_hidden: int = 2048
    dropout: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        stage_count(self, "widths", "depths", "strides")
        for name in ("kernel_size", "temporal_kernel", "stem_temporal_kernel"):
            if getattr(self, name) % 2 != 1:
                raise ValueError(f"{name} must be odd, got {getattr(self, name)}")

    def inner(self, stage: int) -> int:
        """Bottleneck (depthwise) width of 1-based ``stage``."""
        return int(self.bottleneck * self.widths[stage - 1])

    def se_hidden(self, stage: int, block: int) -> int:
        """SE bottleneck width of a block (0: the block has no SE)."""
        if not self.se_every or block % self.se_every:
            return 0
        return make_divisible(self.inner(stage) * self.se_ratio)

    def frame_features(self) -> FrameFeatures:
        """The head's 1x1x1 conv + BN + ReLU ``(N, T, h, w, head_width)``, before the
        spatio-temporal pooling (X3D has no temporal stride, so one map per input
        frame): ``head/conv_bn``'s output with the ReLU the head applies."""
        return FrameFeatures(("head", "conv_bn"), self.head_width, "relu")

    def build(self) -> "X3D":
        return X3D(self)

    def small(self, frames: int = 4, size: int = 32, num_classes: int = 7, **overrides) -> "X3DConfig":
        """A narrow, shallow copy for fast CPU tests that keeps the block structure
        (identity shortcut, strided projection without BN, projection with BN;
        SE on even blocks): three stages, widths 8/16/24, depths 2/1/1, head 32 -> 32."""
        small = dict(stem_width=8, widths=(8, 16, 24), depths=(2, 1, 1), strides=(2, 2, 2), head_width=32,
                     head_hidden=32, frames=frames, size=size, num_classes=num_classes)
        small.update(overrides)
        return self.replace(**small)


def depthwise3d(x: jax.Array, kernel: jax.Array, stride: int = 1, impl: str = "lowered") -> jax.Array:
    """Depthwise ``k_t x k x k`` conv, zero 'same' padding, spatial ``stride``.

    Args:
      x: ``(N, T, H, W, C)``; kernel: ``(k_t, k, k, 1, C)`` (DHWIO, groups = C).
    Returns:
      ``(N, T, H', W', C)``. ``"conv3d"`` is one grouped 3-D conv; the other
      formulations sum ``k_t`` depthwise ``1xkxk`` convs
      (:func:`jaxar.ops.conv.spatial_conv`) over zero-padded time slices.
    """
    impl = ops.resolve_impl(impl)
    kt, k, c = kernel.shape[0], kernel.shape[1], x.shape[-1]
    kernel = kernel.astype(x.dtype)
    p = kt // 2
    if impl == "conv3d":
        return lax.conv_general_dilated(
            x, kernel, window_strides=(1, stride, stride), padding=((p, p), ops.same_pad(k), ops.same_pad(k)),
            dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), feature_group_count=c)
    t = x.shape[1]
    xp = jnp.pad(x, ((0, 0), (p, p), (0, 0), (0, 0), (0, 0)))
    y = None
    for j in range(kt):
        term = ops.spatial_conv(lax.slice_in_dim(xp, j, j + t, axis=1), kernel[j], stride, c, impl)
        y = term if y is None else y + term
    return y


class DepthwiseConv3D(nn.Module):
    """Depthwise ``k_t x k x k`` conv layer, kernel ``(k_t, k, k, 1, C)``, no bias."""
    kernel_size: int = 3
    temporal_kernel: int = 3
    stride: int = 1
    impl: str = "auto"

    @nn.compact
    def __call__(self, x):
        kt, k, c = self.temporal_kernel, self.kernel_size, x.shape[-1]
        kernel = self.param("kernel", conv_init, (kt, k, k, 1, c), jnp.float32)
        y = depthwise3d(x, kernel, self.stride, self.impl)
        macs.record(self.scope.path, y.size * kt * k * k)
        return y


def deploy_depthwise3d(a: dops.Act, w, b, stride: int = 1) -> dops.Act:
    """Deploy form of :func:`depthwise3d`: kernel ``(C, k_t, k, k)``, bias ``(C,)``.

    channels-major: ONE grouped 2-D Conv -- the ``k_t`` zero-padded time
    shifts of the ``(N, C, T, H*W)`` input are concatenated on the last axis,
    so the ``(N, C*T*k_t, H, W)`` view holds, for every (channel, frame)
    group, the ``k_t`` frames that output plane reads; the kernel
    ``(C*T, k_t, k, k)`` repeats each channel's kernel over the frames.
    frames-major: the sum of ``k_t`` time-shifted ``1xkxk`` depthwise convs
    (one copy of each kernel)."""
    c, t, kt, k = a.channels, a.frames, w.shape[1], w.shape[-1]
    if a.layout == "frames-major":
        y = None
        for j in range(kt):
            term = dops.depthwise(dops.shift_act(a, j - kt // 2), w[:, j:j + 1],
                                  b if j == kt - 1 else None, stride)
            y = term if y is None else dops.add(y, term)
        return y
    taps = [dops.shift_act(a, j - kt // 2).data for j in range(kt)]        # each (N, C, T, S)
    v = jnp.concatenate(taps, axis=3).reshape(-1, c * t * kt, a.height, a.width)
    pad = ops.same_pad(k)
    y = dops.conv(v, dops.plane_kernel(w, t), None if b is None else dops.plane_kernel(b, t),
                  stride=(stride, stride), padding=(pad, pad), groups=c * t)
    return a.replace(y, "planes", height=y.shape[2], width=y.shape[3])


class X3DBlock(nn.Module):
    """X3D bottleneck: ``(N, T, H, W, C_in) -> (N, T, H/s, W/s, C_out)``.

    ``in_channels`` is the input width (fixes the shortcut rule for the deploy
    form, which reads no activations)."""
    in_channels: int
    out_channels: int
    inner: int
    stride: int = 1
    se_hidden: int = 0
    kernel_size: int = 3
    temporal_kernel: int = 3
    stride_shortcut_bn: bool = False
    train: bool = False
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.nowrap
    def shortcut_kind(self) -> str:
        """``"identity"``, ``"conv"`` (strided 1x1x1, no BN) or ``"conv_bn"``."""
        if self.stride == 1 and self.in_channels == self.out_channels:
            return "identity"
        if self.in_channels != self.out_channels or self.stride_shortcut_bn:
            return "conv_bn"
        return "conv"

    @nn.compact
    def __call__(self, x):
        if x.shape[-1] != self.in_channels:
            raise ValueError(f"{self.scope.path}: expected {self.in_channels} input channels, "
                             f"got {x.shape[-1]}")
        bn = lambda name, zero=False: batch_norm(self.train, self.dtype, name=name, zero_init=zero)
        relu = activation("relu")
        h = relu(bn("conv_a_bn")(Pointwise(self.inner, name="conv_a")(x)))
        h = DepthwiseConv3D(self.kernel_size, self.temporal_kernel, self.stride, self.impl, name="conv_b")(h)
        h = bn("conv_b_bn")(h)
        if self.se_hidden:
            h = SqueezeExcite(self.se_hidden, name="se")(h)
        h = activation("swish")(h)
        h = bn("conv_c_bn", zero=True)(Pointwise(self.out_channels, name="conv_c")(h))
        kind = self.shortcut_kind()
        if kind == "identity":
            shortcut = x
        else:
            shortcut = Pointwise(self.out_channels, self.stride, name="shortcut")(x)
            if kind == "conv_bn":
                shortcut = bn("shortcut_bn")(shortcut)
        return relu(shortcut + h)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{a: {w (E,C_in,1,1), b}, dw: {w (E,k_t,k,k), b}, [se], c: {w (C_out,E,1,1), b},
        [shortcut: {w (C_out,C_in,1,1), b or None}]}``, BN folded."""
        k = v.child("conv_b").param("kernel")                          # (k_t, k, k, 1, E)
        s, b = v.bn("conv_b_bn")
        out = {"a": v.conv_bn("conv_a", "conv_a_bn"),
               "dw": {"w": f32(np.transpose(k[..., 0, :], (3, 0, 1, 2)) * s[:, None, None, None]),
                      "b": f32(b)},
               "c": v.conv_bn("conv_c", "conv_c_bn")}
        if self.se_hidden:
            out["se"] = SqueezeExcite(self.se_hidden).deploy_params(v.child("se"))
        kind = self.shortcut_kind()
        if kind == "conv_bn":
            out["shortcut"] = v.conv_bn("shortcut", "shortcut_bn")
        elif kind == "conv":
            out["shortcut"] = {"w": f32(v.child("shortcut").param("kernel").T[:, :, None, None]), "b": None}
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: dops.Act) -> dops.Act:
        relu = activation("relu")
        h = dops.pointwise(x, p["a"]["w"], p["a"]["b"], act=relu)
        h = deploy_depthwise3d(h, p["dw"]["w"], p["dw"]["b"], self.stride)
        if self.se_hidden:
            h = SqueezeExcite(self.se_hidden).deploy_apply(p["se"], h)
        h = dops.apply(h, activation("swish"))
        h = dops.pointwise(h, p["c"]["w"], p["c"]["b"])
        if "shortcut" in p:
            x = dops.pointwise(x, p["shortcut"]["w"], p["shortcut"]["b"], stride=self.stride)
        return dops.apply(dops.add(h, x), relu)


class X3DStem(nn.Module):
    """``1x3x3`` conv (spatial stride 2) -> ``k_t x 1 x 1`` depthwise conv -> BN -> ReLU."""
    features: int
    temporal_kernel: int = 5
    train: bool = False
    dtype: Any = jnp.float32
    impl: str = "auto"

    @nn.compact
    def __call__(self, x):
        x = SpatialConv(self.features, 3, 2, impl=self.impl, name="conv_xy")(x)
        x = TemporalDepthwise(self.temporal_kernel, impl=self.impl, name="conv_t")(x)
        return activation("relu")(batch_norm(self.train, self.dtype, name="conv_t_bn")(x))

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{xy_w (C0,3,3,3), t_w (k_t, C0) (BN scale folded), t_b (C0,)}``."""
        s, b = v.bn("conv_t_bn")
        return {"xy_w": f32(hwio_to_oihw(v.child("conv_xy").param("kernel"))),
                "t_w": f32(v.child("conv_t").param("kernel") * s), "t_b": f32(b)}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, layout: str) -> dops.Act:
        """``(N, T, 3, H, W)`` -> an :class:`Act` of ``layout``."""
        _, t, c, hh, ww = x.shape
        pad = ops.same_pad(3)
        h = dops.conv(x.reshape(-1, c, hh, ww), p["xy_w"], None, stride=(2, 2), padding=(pad, pad))
        return dops.temporal(dops.from_frames(h, t, layout), p["t_w"], p["t_b"], act=activation("relu"))


class X3DHead(nn.Module):
    width: int
    hidden: int
    num_classes: int
    dropout: float
    train: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        relu = activation("relu")
        x = Pointwise(self.width, name="conv")(x)
        x = relu(batch_norm(self.train, self.dtype, name="conv_bn")(x))
        x = jnp.mean(x, axis=(1, 2, 3))
        x = relu(Dense(self.hidden, use_bias=False, name="hidden")(x))
        x = nn.Dropout(self.dropout, deterministic=not self.train)(x)
        return Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01), name="classifier")(x)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{conv: {w (C_h,C_4,1,1), b}, hidden_w (C_h, D), classifier_w (D, K), classifier_b}``."""
        w, b = v.dense("classifier")
        return {"conv": v.conv_bn("conv", "conv_bn"), "hidden_w": f32(v.child("hidden").param("kernel")),
                "classifier_w": f32(w), "classifier_b": f32(b)}

    @nn.nowrap
    def deploy_apply(self, p: dict, x: dops.Act) -> jax.Array:
        relu = activation("relu")
        x = dops.pointwise(x, p["conv"]["w"], p["conv"]["b"], act=relu)
        z = relu(dops.dense(dops.pooled_vector(x), p["hidden_w"]))
        return dops.dense(z, p["classifier_w"], p["classifier_b"])


def stem_of(cfg: X3DConfig, train: bool = False, name: str | None = "stem") -> X3DStem:
    return X3DStem(cfg.stem_width, cfg.stem_temporal_kernel, train, DTYPES[cfg.dtype], cfg.impl, name=name)


def head_of(cfg: X3DConfig, train: bool = False, name: str | None = "head") -> X3DHead:
    return X3DHead(cfg.head_width, cfg.head_hidden, cfg.num_classes, cfg.dropout, train,
                   DTYPES[cfg.dtype], name=name)


def stage_blocks(cfg: X3DConfig, s: int, train: bool = False) -> list[X3DBlock]:
    """The blocks of 1-based stage ``s`` (named ``block{b}``); training and deploy
    forms both build them here."""
    cin = cfg.widths[s - 2] if s > 1 else cfg.stem_width
    blocks = []
    for b in range(cfg.depths[s - 1]):
        blocks.append(X3DBlock(cin, cfg.widths[s - 1], cfg.inner(s), cfg.strides[s - 1] if b == 0 else 1,
                               cfg.se_hidden(s, b), cfg.kernel_size, cfg.temporal_kernel,
                               cfg.stride_shortcut_bn, train, DTYPES[cfg.dtype], cfg.impl,
                               name=f"block{b}"))
        cin = cfg.widths[s - 1]
    return blocks


class X3D(DeployNetwork, nn.Module):
    """``(N, T, H, W, 3)`` clips -> float32 logits ``(N, num_classes)``; deploy
    form from :meth:`deploy_parts` (:mod:`jaxar.deploy.network`)."""
    config: X3DConfig

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        check_clip(x, "X3D")
        x = stem_of(cfg, train)(x.astype(DTYPES[cfg.dtype]))
        for s in range(1, len(cfg.widths) + 1):
            x = Stage(partial(stage_blocks, cfg, s), train, name=f"stage{s}")(x)
        return head_of(cfg, train)(x).astype(jnp.float32)

    @nn.nowrap
    def deploy_parts(self) -> list[Part]:
        """``stem`` (:meth:`X3DStem.deploy_params`), ``stage{s}/block{b}``
        (:meth:`X3DBlock.deploy_params`), ``head`` (:meth:`X3DHead.deploy_params`)."""
        cfg = self.config
        return [Part(("stem",), stem_of(cfg)),
                *stage_parts(len(cfg.widths), lambda s: stage_blocks(cfg, s)),
                Part(("head",), head_of(cfg))]
