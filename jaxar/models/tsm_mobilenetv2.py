"""TSM-MobileNetV2 (Lin et al., ICCV 2019): MobileNetV2 per frame with the
temporal shift before the expansion conv of every inverted-residual block
that has a residual connection.

Training form :class:`TSMMobileNetV2`: clips ``(N, T, H, W, 3)`` -> logits
``(N, num_classes)`` float32. Torchvision's MobileNetV2 layout (width 1.0)::

    stem:     3x3 conv 3->32 stride 2, BN, ReLU6
    stage s:  blocks[s] = (t, c, n, stride): n inverted residuals to c channels,
              the first strided; hidden width round(C_in * t)
      block:  [shift if residual] -> [1x1 conv, BN, ReLU6 if t != 1]
              -> 3x3 depthwise conv (stride), BN, ReLU6 -> 1x1 conv, BN  (+ input if residual)
    head_proj: 1x1 conv -> last_width, BN, ReLU6
    head:     per-frame global average pool, dropout, linear; mean over frames

A block is residual when its stride is 1 and C_in == c. Parameter tree:
``stem``, ``stem_bn``, ``stage{s}/block{b}/{expand, expand_bn, dw, dw_bn,
project, project_bn}``, ``head_proj/{conv, bn}``, ``head/fc``.

Deploy form (:meth:`InvertedResidual.deploy_params` /
:meth:`InvertedResidual.deploy_apply`, walked by
:meth:`TSMMobileNetV2.deploy_parts`): frames-major ``(N*T, C, H, W)``, BN
folded, depthwise convs as 2-D grouped Convs, ReLU6 as a clip; no Transpose.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables
from jaxar.deploy.network import DeployNetwork, Part, StemConv
from jaxar.models import tsm_common as common
from jaxar.models.base import DTYPES, check_clip, FrameFeatures
from jaxar.models.stages import Stage, stage_parts
from jaxar.modules.layers import Pointwise, SpatialConv, batch_norm
from jaxar.modules.temporal_shift import deploy_temporal_shift, temporal_shift

# torchvision's inverted-residual settings (t, c, n, s)
MOBILENETV2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                      (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


@dataclasses.dataclass(frozen=True)
class TSMMobileNetV2Config(common.FrameNetConfig):
    family: ClassVar[str] = "tsm_mobilenetv2"
    blocks: tuple[tuple[int, int, int, int], ...] = MOBILENETV2_BLOCKS
    stem_width: int = 32
    last_width: int = 1280

    def __post_init__(self):
        super().__post_init__()
        if not self.blocks or any(len(b) != 4 or min(b) < 1 for b in self.blocks):
            raise ValueError(f"blocks must be non-empty (t, c, n, stride) tuples of positive "
                             f"ints, got {self.blocks}")
        if self.stem_width < 1 or self.last_width < 1:
            raise ValueError(f"stem_width/last_width must be positive, got "
                             f"{self.stem_width}/{self.last_width}")

    @property
    def widths(self) -> tuple[int, ...]:
        """Output channels of each stage (one stage per ``blocks`` entry)."""
        return tuple(b[1] for b in self.blocks)

    def layout(self):
        """Yields ``(stage, block, C_in, C_out, hidden, stride, residual)`` for every block."""
        cin = self.stem_width
        for s, (t, c, n, stride) in enumerate(self.blocks, 1):
            for b in range(n):
                st = stride if b == 0 else 1
                yield s, b, cin, c, int(round(cin * t)), st, st == 1 and cin == c
                cin = c

    def frame_features(self) -> FrameFeatures:
        """``head_proj``'s output ``(N, T, h, w, last_width)``: the per-frame input of the
        consensus head."""
        return FrameFeatures(("head_proj",), self.last_width)

    def build(self) -> nn.Module:
        return TSMMobileNetV2(self)

    def small(self, frames: int = 4, size: int = 32, num_classes: int = 7,
              **overrides) -> "TSMMobileNetV2Config":
        """Stem 8, a non-expanding block then two expanding ones (strided, then
        residual with the shift), last width 32; for fast CPU tests."""
        small = dict(stem_width=8, blocks=((1, 8, 1, 1), (6, 8, 2, 2)), last_width=32,
                     frames=frames, size=size, num_classes=num_classes)
        small.update(overrides)
        return self.replace(**small)


def relu6(x):
    return jnp.minimum(jax.nn.relu(x), 6.0)


class InvertedResidual(nn.Module):
    cout: int
    hidden: int
    stride: int
    residual: bool
    shift_div: int = 8
    impl: str = "lowered"
    train: bool = False

    @nn.nowrap
    def dw(self) -> SpatialConv:
        return SpatialConv(self.hidden, 3, self.stride, depthwise=True, impl=self.impl, name="dw")

    @nn.compact
    def __call__(self, x):
        bn = lambda name: batch_norm(self.train, x.dtype, name=name)  # noqa: E731
        h = temporal_shift(x, self.shift_div) if self.residual else x
        if self.hidden != x.shape[-1]:
            h = relu6(bn("expand_bn")(Pointwise(self.hidden, name="expand")(h)))
        h = relu6(bn("dw_bn")(self.dw()(h)))
        h = bn("project_bn")(Pointwise(self.cout, name="project")(h))
        return x + h if self.residual else h

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{[expand], dw (hidden, 1, 3, 3), project}``, each BN folded ``{w, b}``."""
        out = {"expand": v.conv_bn("expand", "expand_bn")} if v.has("expand") else {}
        out["dw"] = self.dw().deploy_params(v, "dw_bn")
        out["project"] = v.conv_bn("project", "project_bn")
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, a: dops.Act) -> dops.Act:
        r = deploy_temporal_shift(a, self.shift_div) if self.residual else a
        if "expand" in p:
            r = dops.pointwise(r, p["expand"]["w"], p["expand"]["b"], act=relu6)
        r = self.dw().deploy_apply(p["dw"], r, relu6)
        r = dops.pointwise(r, p["project"]["w"], p["project"]["b"])
        return dops.add(a, r) if self.residual else r


class HeadProjection(nn.Module):
    features: int
    train: bool = False

    @nn.compact
    def __call__(self, x):
        x = Pointwise(self.features, name="conv")(x)
        return relu6(batch_norm(self.train, x.dtype, name="bn")(x))

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        return v.conv_bn("conv", "bn")

    @nn.nowrap
    def deploy_apply(self, p: dict, a: dops.Act) -> dops.Act:
        return dops.pointwise(a, p["w"], p["b"], act=relu6)


def stage_blocks(cfg: TSMMobileNetV2Config, s: int, train: bool = False) -> list[InvertedResidual]:
    """The inverted residuals of 1-based stage ``s`` (named ``block{b}``)."""
    return [InvertedResidual(cout, hidden, stride, residual, cfg.shift_div, cfg.impl, train,
                             name=f"block{b}")
            for s_, b, _, cout, hidden, stride, residual in cfg.layout() if s_ == s]


class TSMMobileNetV2(DeployNetwork, nn.Module):
    config: TSMMobileNetV2Config

    @nn.nowrap
    def stem(self) -> SpatialConv:
        return SpatialConv(self.config.stem_width, 3, 2, impl=self.config.impl, name="stem")

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        check_clip(x, type(self).__name__)
        dtype = DTYPES[cfg.dtype]
        x = self.stem()(x.astype(dtype))
        x = relu6(batch_norm(train, dtype, name="stem_bn")(x))
        for s in range(1, len(cfg.blocks) + 1):
            x = Stage(partial(stage_blocks, cfg, s), train, name=f"stage{s}")(x)
        x = HeadProjection(cfg.last_width, train, name="head_proj")(x)
        return common.FrameConsensusHead(cfg.num_classes, cfg.dropout, train, name="head")(x)

    @nn.nowrap
    def deploy_parts(self) -> list[Part]:
        """``stem``, ``stage{s}/block{b}`` (:meth:`InvertedResidual.deploy_params`),
        ``head_proj``, ``fc {w, b}`` (the head's classifier)."""
        cfg = self.config
        return [Part(("stem",), StemConv(self.stem(), "stem_bn", relu6, frames_only=True), scope=()),
                *stage_parts(len(cfg.blocks), lambda s: stage_blocks(cfg, s)),
                Part(("head_proj",), HeadProjection(cfg.last_width)),
                Part(("fc",), common.FrameConsensusHead(cfg.num_classes, cfg.dropout), scope=("head",))]


def tsm_mobilenetv2() -> TSMMobileNetV2Config:
    """TSM-MobileNetV2, 8x224^2 (2,736,272 parameters / 2.40 G multiply-adds at 400 classes)."""
    return TSMMobileNetV2Config()
