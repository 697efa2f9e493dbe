"""TSM-ResNet (Lin et al., ICCV 2019): a 2-D ResNet run per frame with the
temporal shift on the residual branch of every block.

Training form :class:`TSMResNet`: clips ``(N, T, H, W, 3)`` -> logits
``(N, num_classes)`` float32. Torchvision's ResNet layout (v1.5: the stride
sits in the 3x3 conv of a bottleneck)::

    stem:     7x7 conv 3->64 stride 2, BN, ReLU, 3x3 max-pool stride 2
    stage s:  depths[s] blocks; the first block of stages 2-4 strides by 2
      basic:      shift -> 3x3 conv, BN, ReLU -> 3x3 conv, BN        (+ shortcut, ReLU)
      bottleneck: shift -> 1x1 conv, BN, ReLU -> 3x3 conv, BN, ReLU
                  -> 1x1 conv (4x width), BN                          (+ shortcut, ReLU)
      shortcut:   identity, or 1x1 conv (stride) + BN when the shape changes
    head:     per-frame global average pool, dropout, linear; mean over frames

The shift (:func:`jaxar.modules.temporal_shift.temporal_shift`, 1/8 of the
channels backward and 1/8 forward in time, zero-filled) acts on the input of
the block's first conv only; the shortcut sees the unshifted input.

Parameter tree: ``stem``, ``stem_bn``, ``stage{s}/block{b}/{conv1,bn1,conv2,
bn2[,conv3,bn3][,downsample,downsample_bn]}``, ``head/fc``. The non-pointwise
convs (stem, every 3x3) are :class:`~jaxar.modules.layers.SpatialConv`, or
:class:`~jaxar.modules.arc_conv.ARCConv` when the config's ``arc`` says so
(the ARC wrapper, :mod:`jaxar.models.arc`).

Deploy form (:meth:`ResBlock.deploy_params` / :meth:`ResBlock.deploy_apply`,
walked by :meth:`TSMResNet.deploy_parts`): frames-major ``(N*T, C, H, W)``,
BN folded into every conv, the shift as Slice/Pad/Concat, max-pool as Slices
and Max, GEMM head; no Transpose.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import ClassVar

import flax.linen as nn

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables
from jaxar.deploy.network import DeployNetwork, Op, Part, StemConv
from jaxar.models import tsm_common as common
from jaxar.models.base import DTYPES, check_clip, stage_count, FrameFeatures
from jaxar.models.stages import Stage, stage_parts
from jaxar.modules.arc_conv import ARCConv
from jaxar.modules.layers import Pointwise, SpatialConv, activation, batch_norm
from jaxar.modules.temporal_shift import deploy_temporal_shift, temporal_shift

BLOCKS = {"basic": 1, "bottleneck": 4}          # block kind -> output expansion


@dataclasses.dataclass(frozen=True)
class TSMResNetConfig(common.FrameNetConfig):
    family: ClassVar[str] = "tsm_resnet"
    block: str = "bottleneck"                    # "basic" (ResNet-18/34) | "bottleneck" (50/101)
    depths: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)  # 3x3-conv width of each stage
    stem_width: int = 64

    def __post_init__(self):
        super().__post_init__()
        if self.block not in BLOCKS:
            raise ValueError(f"block must be one of {sorted(BLOCKS)}, got {self.block!r}")
        stage_count(self, "depths", "widths")
        if min(self.depths) < 1 or min(self.widths) < 1 or self.stem_width < 1:
            raise ValueError(f"depths, widths and stem_width must be positive, got "
                             f"{self.depths}/{self.widths}/{self.stem_width}")

    @property
    def expansion(self) -> int:
        return BLOCKS[self.block]

    @property
    def arc(self) -> tuple[int, float] | None:
        """``(steps, negative_slope)`` of ARC convs in place of the non-pointwise
        convs, or None for plain convs (:mod:`jaxar.models.arc` sets it)."""
        return None

    def out_width(self, stage: int) -> int:
        """Output channels of 1-based ``stage``."""
        return self.widths[stage - 1] * self.expansion

    def stride(self, stage: int, block: int) -> int:
        return 2 if stage > 1 and block == 0 else 1

    def frame_features(self) -> FrameFeatures:
        """The last stage's output ``(N, T, h, w, 4 x width)`` (bottleneck; 1 x for basic
        blocks): the per-frame input of the consensus head. ARC inherits it (its
        convs mix frames but keep one map per frame)."""
        last = len(self.widths)
        return FrameFeatures((f"stage{last}",), self.out_width(last))

    def build(self) -> nn.Module:
        return TSMResNet(self)

    def small(self, frames: int = 4, size: int = 32, num_classes: int = 7, **overrides) -> "TSMResNetConfig":
        """Two stages (widths 8/16, depths 2/1: an identity and a strided block),
        stem 8, for fast CPU tests; same block kind and shift rule."""
        small = dict(stem_width=8, widths=(8, 16), depths=(2, 1), frames=frames, size=size,
                     num_classes=num_classes)
        small.update(overrides)
        return self.replace(**small)


def spatial_conv(features: int, kernel_size: int, stride: int, impl: str,
                 arc: tuple[int, float] | None, name: str) -> nn.Module:
    """A network's non-pointwise conv: plain, or ARC with ``arc = (steps, slope)``."""
    if arc is None:
        return SpatialConv(features, kernel_size, stride, impl=impl, name=name)
    return ARCConv(features, kernel_size, stride, arc[0], arc[1], impl, name=name)


class ResBlock(nn.Module):
    """One basic or bottleneck block, shift on the residual branch (see module doc)."""
    block: str                      # "basic" | "bottleneck"
    width: int
    stride: int
    shift_div: int = 8
    impl: str = "auto"
    arc: tuple[int, float] | None = None
    train: bool = False

    @nn.nowrap
    def conv(self, stride: int, name: str) -> nn.Module:
        """The block's 3x3 conv ``name`` (plain or ARC)."""
        return spatial_conv(self.width, 3, stride, self.impl, self.arc, name)

    @nn.nowrap
    def out_channels(self) -> int:
        return self.width * BLOCKS[self.block]

    @nn.compact
    def __call__(self, x):
        dtype = x.dtype
        bn = lambda name: batch_norm(self.train, dtype, name=name)  # noqa: E731
        out = self.out_channels()
        h = temporal_shift(x, self.shift_div)
        if self.block == "basic":
            h = nn.relu(bn("bn1")(self.conv(self.stride, "conv1")(h)))
            h = bn("bn2")(self.conv(1, "conv2")(h))
        else:
            h = nn.relu(bn("bn1")(Pointwise(self.width, name="conv1")(h)))
            h = nn.relu(bn("bn2")(self.conv(self.stride, "conv2")(h)))
            h = bn("bn3")(Pointwise(out, name="conv3")(h))
        if self.stride != 1 or x.shape[-1] != out:
            x = bn("downsample_bn")(Pointwise(out, self.stride, name="downsample")(x))
        return nn.relu(x + h)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        """``{conv1, conv2[, conv3][, downsample]}``, each BN folded ``{w, b}``
        (an ARC conv: its :meth:`ARCConv.deploy_params`)."""
        if self.block == "basic":
            out = {"conv1": self.conv(self.stride, "conv1").deploy_params(v, "bn1"),
                   "conv2": self.conv(1, "conv2").deploy_params(v, "bn2")}
        else:
            out = {"conv1": v.conv_bn("conv1", "bn1"),
                   "conv2": self.conv(self.stride, "conv2").deploy_params(v, "bn2"),
                   "conv3": v.conv_bn("conv3", "bn3")}
        if v.has("downsample"):
            out["downsample"] = v.conv_bn("downsample", "downsample_bn")
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, a: dops.Act) -> dops.Act:
        relu = activation("relu")
        r = deploy_temporal_shift(a, self.shift_div)
        if self.block == "basic":
            r = dops.apply(self.conv(self.stride, "conv1").deploy_apply(p["conv1"], r), relu)
            r = self.conv(1, "conv2").deploy_apply(p["conv2"], r)
        else:
            r = dops.pointwise(r, p["conv1"]["w"], p["conv1"]["b"], act=relu)
            r = dops.apply(self.conv(self.stride, "conv2").deploy_apply(p["conv2"], r), relu)
            r = dops.pointwise(r, p["conv3"]["w"], p["conv3"]["b"])
        if "downsample" in p:
            a = dops.pointwise(a, p["downsample"]["w"], p["downsample"]["b"], stride=self.stride)
        return dops.apply(dops.add(a, r), relu)


def stage_blocks(cfg: TSMResNetConfig, s: int, train: bool = False) -> list[ResBlock]:
    """The blocks of 1-based stage ``s`` (named ``block{b}``); training and deploy
    forms both build them here."""
    return [ResBlock(cfg.block, cfg.widths[s - 1], cfg.stride(s, b), cfg.shift_div, cfg.impl, cfg.arc,
                     train, name=f"block{b}") for b in range(cfg.depths[s - 1])]


class TSMResNet(DeployNetwork, nn.Module):
    config: TSMResNetConfig

    @nn.nowrap
    def stem(self) -> nn.Module:
        cfg = self.config
        return spatial_conv(cfg.stem_width, 7, 2, cfg.impl, cfg.arc, "stem")

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        check_clip(x, type(self).__name__)
        dtype = DTYPES[cfg.dtype]
        x = self.stem()(x.astype(dtype))
        x = nn.relu(batch_norm(train, dtype, name="stem_bn")(x))
        x = common.max_pool_3x3_s2(x)
        for s in range(1, len(cfg.widths) + 1):
            x = Stage(partial(stage_blocks, cfg, s), train, name=f"stage{s}")(x)
        return common.FrameConsensusHead(cfg.num_classes, cfg.dropout, train, name="head")(x)

    @nn.nowrap
    def deploy_parts(self) -> list[Part]:
        """``stem`` (conv + BN folded, or ARC), max-pool, ``stage{s}/block{b}``
        (:meth:`ResBlock.deploy_params`), ``fc {w, b}`` (the head's classifier)."""
        cfg = self.config
        return [Part(("stem",), StemConv(self.stem(), "stem_bn", activation("relu"), frames_only=True),
                     scope=()),
                Part(None, Op(common.deploy_max_pool)),
                *stage_parts(len(cfg.widths), lambda s: stage_blocks(cfg, s)),
                Part(("fc",), common.FrameConsensusHead(cfg.num_classes, cfg.dropout), scope=("head",))]


def tsm_resnet18() -> TSMResNetConfig:
    """TSM-ResNet-18, 8x224^2 (11.3 M parameters / 14.6 G multiply-adds at 174 classes)."""
    return TSMResNetConfig(block="basic", depths=(2, 2, 2, 2))


def tsm_resnet50() -> TSMResNetConfig:
    """TSM-ResNet-50, 8x224^2 (24,327,632 parameters / 32.70 G multiply-adds at 400 classes)."""
    return TSMResNetConfig(block="bottleneck", depths=(3, 4, 6, 3))
