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
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxar import macs
from jaxar.config import DTYPES
from jaxar.modules.layers import Dense, Pointwise, SpatialConv, TemporalDepthwise, batch_norm, conv_init
from jaxar.modules.squeeze_excite import SqueezeExcite, make_divisible
from jaxar.ops import conv as ops


@dataclasses.dataclass(frozen=True)
class X3DConfig:
    """One X3D network; the registered variants fix the paper's inputs."""
    family: ClassVar[str] = "x3d"
    # task and input
    num_classes: int = 60
    frames: int = 16
    size: int = 224
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
    # execution
    impl: str = "lowered"                         # "lowered" | "conv3d" | "shifted" (same maths)
    dtype: str = "float32"

    def __post_init__(self):
        n = len(self.widths)
        if not (len(self.depths) == len(self.strides) == n):
            raise ValueError(f"widths/depths/strides must have equal lengths, got "
                             f"{self.widths}/{self.depths}/{self.strides}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        ops.check_impl(self.impl)
        if self.num_classes < 1 or self.frames < 1 or self.size < 1:
            raise ValueError(f"num_classes/frames/size must be positive, got "
                             f"{self.num_classes}/{self.frames}/{self.size}")
        for name in ("kernel_size", "temporal_kernel", "stem_temporal_kernel"):
            if getattr(self, name) % 2 != 1:
                raise ValueError(f"{name} must be odd, got {getattr(self, name)}")

    def replace(self, **kw: Any) -> "X3DConfig":
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown X3DConfig fields: {sorted(unknown)}")
        return dataclasses.replace(self, **kw)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Per-clip input shape ``(T, H, W, 3)``."""
        return (self.frames, self.size, self.size, 3)

    def inner(self, stage: int) -> int:
        """Bottleneck (depthwise) width of 1-based ``stage``."""
        return int(self.bottleneck * self.widths[stage - 1])

    def se_hidden(self, stage: int, block: int) -> int:
        """SE bottleneck width of a block (0: the block has no SE)."""
        if not self.se_every or block % self.se_every:
            return 0
        return make_divisible(self.inner(stage) * self.se_ratio)

    def build(self, bn_axis_name: str | None = None) -> "X3D":
        return X3D(self, bn_axis_name=bn_axis_name)

    def deploy_functions(self):
        """``(reparameterize, deploy_apply)`` of the deploy form (:mod:`jaxar.models.x3d_deploy`)."""
        from jaxar.models import x3d_deploy
        return x3d_deploy.reparameterize, x3d_deploy.deploy_apply


def depthwise3d(x: jax.Array, kernel: jax.Array, stride: int = 1, impl: str = "lowered") -> jax.Array:
    """Depthwise ``k_t x k x k`` conv, zero 'same' padding, spatial ``stride``.

    Args:
      x: ``(N, T, H, W, C)``; kernel: ``(k_t, k, k, 1, C)`` (DHWIO, groups = C).
    Returns:
      ``(N, T, H', W', C)``. ``"conv3d"`` is one grouped 3-D conv; the other
      formulations sum ``k_t`` depthwise ``1xkxk`` convs
      (:func:`jaxar.ops.conv.spatial_conv`) over zero-padded time slices.
    """
    ops.check_impl(impl)
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
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        kt, k, c = self.temporal_kernel, self.kernel_size, x.shape[-1]
        kernel = self.param("kernel", conv_init, (kt, k, k, 1, c), jnp.float32)
        y = depthwise3d(x, kernel, self.stride, self.impl)
        macs.record(self.scope.path, y.size * kt * k * k)
        return y


class X3DBlock(nn.Module):
    """X3D bottleneck: ``(N, T, H, W, C_in) -> (N, T, H/s, W/s, C_out)``."""
    out_channels: int
    inner: int
    stride: int = 1
    se_hidden: int = 0
    kernel_size: int = 3
    temporal_kernel: int = 3
    stride_shortcut_bn: bool = False
    train: bool = False
    bn_axis_name: str | None = None
    dtype: Any = jnp.float32
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        bn = lambda name, zero=False: batch_norm(self.train, self.bn_axis_name, self.dtype, name=name,
                                                 zero_init=zero)
        h = nn.relu(bn("conv_a_bn")(Pointwise(self.inner, name="conv_a")(x)))
        h = DepthwiseConv3D(self.kernel_size, self.temporal_kernel, self.stride, self.impl, name="conv_b")(h)
        h = bn("conv_b_bn")(h)
        if self.se_hidden:
            h = SqueezeExcite(self.se_hidden, name="se")(h)
        h = nn.swish(h)
        h = bn("conv_c_bn", zero=True)(Pointwise(self.out_channels, name="conv_c")(h))
        if self.stride == 1 and x.shape[-1] == self.out_channels:
            shortcut = x
        else:
            shortcut = Pointwise(self.out_channels, self.stride, name="shortcut")(x)
            if x.shape[-1] != self.out_channels or self.stride_shortcut_bn:
                shortcut = bn("shortcut_bn")(shortcut)
        return nn.relu(shortcut + h)


class X3DStem(nn.Module):
    features: int
    temporal_kernel: int = 5
    train: bool = False
    bn_axis_name: str | None = None
    dtype: Any = jnp.float32
    impl: str = "lowered"

    @nn.compact
    def __call__(self, x):
        x = SpatialConv(self.features, 3, 2, impl=self.impl, name="conv_xy")(x)
        x = TemporalDepthwise(self.temporal_kernel, impl=self.impl, name="conv_t")(x)
        return nn.relu(batch_norm(self.train, self.bn_axis_name, self.dtype, name="conv_t_bn")(x))


class X3DHead(nn.Module):
    width: int
    hidden: int
    num_classes: int
    dropout: float
    train: bool = False
    bn_axis_name: str | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        x = Pointwise(self.width, name="conv")(x)
        x = nn.relu(batch_norm(self.train, self.bn_axis_name, self.dtype, name="conv_bn")(x))
        x = jnp.mean(x, axis=(1, 2, 3))
        x = nn.relu(Dense(self.hidden, use_bias=False, name="hidden")(x))
        x = nn.Dropout(self.dropout, deterministic=not self.train)(x)
        return Dense(self.num_classes, kernel_init=nn.initializers.normal(0.01), name="classifier")(x)


class X3DStage(nn.Module):
    config: X3DConfig
    index: int                      # 1-based
    train: bool = False
    bn_axis_name: str | None = None
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x):
        cfg, s = self.config, self.index
        for b in range(cfg.depths[s - 1]):
            x = X3DBlock(cfg.widths[s - 1], cfg.inner(s), cfg.strides[s - 1] if b == 0 else 1,
                         cfg.se_hidden(s, b), cfg.kernel_size, cfg.temporal_kernel,
                         cfg.stride_shortcut_bn, self.train,
                         self.bn_axis_name, self.dtype, cfg.impl, name=f"block{b}")(x)
        return x


class X3D(nn.Module):
    config: X3DConfig
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        if x.ndim != 5 or x.shape[-1] != 3:
            raise ValueError(f"X3D expects (N, T, H, W, 3) clips, got shape {x.shape}")
        dtype = DTYPES[cfg.dtype]
        common = dict(train=train, bn_axis_name=self.bn_axis_name, dtype=dtype)
        x = X3DStem(cfg.stem_width, cfg.stem_temporal_kernel, impl=cfg.impl, name="stem",
                    **common)(x.astype(dtype))
        for s in range(1, len(cfg.widths) + 1):
            x = X3DStage(cfg, s, **common, name=f"stage{s}")(x)
        x = X3DHead(cfg.head_width, cfg.head_hidden, cfg.num_classes, cfg.dropout, name="head",
                    **common)(x)
        return x.astype(jnp.float32)
