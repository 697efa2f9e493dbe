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
convs (stem, every 3x3) come from :meth:`TSMResNetConfig.conv_layer`, which
the ARC wrapper (:mod:`jaxar.models.arc`) overrides.

Deploy form (:func:`convert` + :func:`deploy_apply`): frames-major
``(N*T, C, H, W)``, BN folded into every conv, the shift as Slice/Pad/Concat,
MaxPool, GEMM head; no Transpose.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Mapping

import flax.linen as nn
import jax
import numpy as np

from jaxar.config import DTYPES
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import bn_affine, f32, fold_into_oihw, hwio_to_oihw, pointwise_to_oihw
from jaxar.models import tsm_common as common
from jaxar.modules.layers import Pointwise, SpatialConv, batch_norm
from jaxar.modules.temporal_shift import temporal_shift

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
        if len(self.depths) != len(self.widths) or not self.depths:
            raise ValueError(f"depths and widths must have equal non-zero lengths, got "
                             f"{self.depths}/{self.widths}")
        if min(self.depths) < 1 or min(self.widths) < 1 or self.stem_width < 1:
            raise ValueError(f"depths, widths and stem_width must be positive, got "
                             f"{self.depths}/{self.widths}/{self.stem_width}")

    @property
    def expansion(self) -> int:
        return BLOCKS[self.block]

    def out_width(self, stage: int) -> int:
        """Output channels of 1-based ``stage``."""
        return self.widths[stage - 1] * self.expansion

    def stride(self, stage: int, block: int) -> int:
        return 2 if stage > 1 and block == 0 else 1

    def build(self) -> nn.Module:
        return TSMResNet(self)

    # -- deploy form (module functions below), used by common.FrameNetDeploy
    def deploy_convert(self, variables: Mapping) -> dict:
        return convert(self, variables)

    def deploy_forward(self, params: Mapping, x: jax.Array) -> jax.Array:
        return deploy_apply(self, params, x)

    # -- the non-pointwise conv: a plain conv here, an ARC layer in jaxar.models.arc
    def conv_layer(self, features: int, kernel_size: int, stride: int, name: str) -> nn.Module:
        return SpatialConv(features, kernel_size, stride, impl=self.impl, name=name)

    def convert_conv(self, params: Mapping, stats: Mapping, conv: str, bn: str) -> dict:
        """Deploy params of ``conv`` followed by ``bn`` (BN folded): ``{w (O,I,k,k), b}``."""
        return conv_bn_params(params, stats, conv, bn)

    def deploy_conv(self, x: jax.Array, p: Mapping, stride: int) -> jax.Array:
        """``conv + BN`` on ``(N*T, C, H, W)`` from :meth:`convert_conv`'s params."""
        k = p["w"].shape[-1]
        return dops.conv(x, p["w"], p["b"], (stride, stride), ((k // 2, k // 2),) * 2)


class ResBlock(nn.Module):
    """One basic or bottleneck block, shift on the residual branch (see module doc)."""
    config: TSMResNetConfig
    width: int
    stride: int
    train: bool = False

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        dtype = x.dtype
        bn = lambda name: batch_norm(self.train, dtype, name=name)  # noqa: E731
        out = self.width * cfg.expansion
        h = temporal_shift(x, cfg.shift_div)
        if cfg.block == "basic":
            h = nn.relu(bn("bn1")(cfg.conv_layer(self.width, 3, self.stride, "conv1")(h)))
            h = bn("bn2")(cfg.conv_layer(self.width, 3, 1, "conv2")(h))
        else:
            h = nn.relu(bn("bn1")(Pointwise(self.width, name="conv1")(h)))
            h = nn.relu(bn("bn2")(cfg.conv_layer(self.width, 3, self.stride, "conv2")(h)))
            h = bn("bn3")(Pointwise(out, name="conv3")(h))
        if self.stride != 1 or x.shape[-1] != out:
            x = bn("downsample_bn")(Pointwise(out, self.stride, name="downsample")(x))
        return nn.relu(x + h)


class ResStage(nn.Module):
    config: TSMResNetConfig
    index: int                      # 1-based
    train: bool = False

    @nn.compact
    def __call__(self, x):
        cfg, s = self.config, self.index
        for b in range(cfg.depths[s - 1]):
            x = ResBlock(cfg, cfg.widths[s - 1], cfg.stride(s, b), self.train, name=f"block{b}")(x)
        return x


class TSMResNet(common.FrameNetDeploy, nn.Module):
    config: TSMResNetConfig

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        common.check_clip(x, type(self).__name__)
        dtype = DTYPES[cfg.dtype]
        x = cfg.conv_layer(cfg.stem_width, 7, 2, "stem")(x.astype(dtype))
        x = nn.relu(batch_norm(train, dtype, name="stem_bn")(x))
        x = common.max_pool_3x3_s2(x)
        for s in range(1, len(cfg.widths) + 1):
            x = ResStage(cfg, s, train, name=f"stage{s}")(x)
        return common.FrameConsensusHead(cfg.num_classes, cfg.dropout, train, name="head")(x)


# ---------------------------------------------------------------- deploy form
def lookup(tree: Mapping, path: str):
    node = tree
    for key in path.split("/"):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(f"variables lack {path!r} (missing {key!r}); do they belong to this "
                           f"model config?")
        node = node[key]
    return node


def conv_bn_params(params: Mapping, stats: Mapping, conv: str, bn: str) -> dict:
    kernel = np.asarray(lookup(params, f"{conv}/kernel"))
    w = pointwise_to_oihw(kernel) if kernel.ndim == 2 else hwio_to_oihw(kernel)
    s, b = bn_affine(lookup(params, bn), lookup(stats, bn))
    w, b = fold_into_oihw(w, s, b)
    return {"w": f32(w), "b": f32(b)}


def convert(config: TSMResNetConfig, variables: Mapping) -> dict:
    """Trained ``{"params", "batch_stats"}`` -> deploy tree (numpy float32, OIHW)::

        stem: conv;  stage{s}/block{b}: {conv1, conv2[, conv3][, downsample]};  fc: {w, b}
    """
    if not isinstance(variables, Mapping) or "params" not in variables:
        raise ValueError("variables must be a mapping with 'params' and 'batch_stats'")
    params, stats = variables["params"], variables.get("batch_stats", {})
    tree: dict = {"stem": config.convert_conv(params, stats, "stem", "stem_bn")}
    cin = config.stem_width
    for s in range(1, len(config.widths) + 1):
        for b in range(config.depths[s - 1]):
            pre = f"stage{s}/block{b}"
            p, st = lookup(params, pre), lookup(stats, pre)
            blk = {}
            if config.block == "basic":
                blk["conv1"] = config.convert_conv(p, st, "conv1", "bn1")
                blk["conv2"] = config.convert_conv(p, st, "conv2", "bn2")
            else:
                blk["conv1"] = conv_bn_params(p, st, "conv1", "bn1")
                blk["conv2"] = config.convert_conv(p, st, "conv2", "bn2")
                blk["conv3"] = conv_bn_params(p, st, "conv3", "bn3")
            if config.stride(s, b) != 1 or cin != config.out_width(s):
                blk["downsample"] = conv_bn_params(p, st, "downsample", "downsample_bn")
            tree.setdefault(f"stage{s}", {})[f"block{b}"] = blk
            cin = config.out_width(s)
    tree["fc"] = {"w": f32(lookup(params, "head/fc/kernel")), "b": f32(lookup(params, "head/fc/bias"))}
    return tree


def _pointwise(x, p, stride=1):
    return dops.conv(x, p["w"], p["b"], (stride, stride))


def deploy_apply(config: TSMResNetConfig, params: Mapping, x: jax.Array) -> jax.Array:
    """Deploy-form forward: ``(N, T, 3, H, W)`` -> logits ``(N, num_classes)``."""
    t = config.frames
    relu = lambda v: jax.nn.relu(v)                    # noqa: E731  (looked up at trace time)
    h = common.frames_first(x, t)
    h = common.deploy_max_pool(relu(config.deploy_conv(h, params["stem"], 2)))
    for s in range(1, len(config.widths) + 1):
        for b in range(config.depths[s - 1]):
            p = params[f"stage{s}"][f"block{b}"]
            stride = config.stride(s, b)
            r = common.shift_frames(h, t, config.shift_div)
            if config.block == "basic":
                r = relu(config.deploy_conv(r, p["conv1"], stride))
                r = config.deploy_conv(r, p["conv2"], 1)
            else:
                r = relu(_pointwise(r, p["conv1"]))
                r = relu(config.deploy_conv(r, p["conv2"], stride))
                r = _pointwise(r, p["conv3"])
            if "downsample" in p:
                h = _pointwise(h, p["downsample"], stride)
            h = relu(h + r)
    return common.deploy_head(h, t, params["fc"]["w"], params["fc"]["b"])


def tsm_resnet18() -> TSMResNetConfig:
    """TSM-ResNet-18, 8x224^2 (11.3 M parameters / 14.6 G multiply-adds at 174 classes)."""
    return TSMResNetConfig(block="basic", depths=(2, 2, 2, 2))


def tsm_resnet50() -> TSMResNetConfig:
    """TSM-ResNet-50, 8x224^2 (24,327,632 parameters / 32.70 G multiply-adds at 400 classes)."""
    return TSMResNetConfig(block="bottleneck", depths=(3, 4, 6, 3))
