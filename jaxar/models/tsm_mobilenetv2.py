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

Deploy form (:func:`convert` + :func:`deploy_apply`): frames-major
``(N*T, C, H, W)``, BN folded, depthwise convs as 2-D grouped Convs, ReLU6
as a clip; no Transpose.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.config import DTYPES
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import f32
from jaxar.models import tsm_common as common
from jaxar.models.tsm_resnet import conv_bn_params, lookup
from jaxar.modules.layers import Pointwise, SpatialConv, batch_norm
from jaxar.modules.temporal_shift import temporal_shift

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

    def build(self) -> nn.Module:
        return TSMMobileNetV2(self)

    # -- deploy form (module functions below), used by common.FrameNetDeploy
    def deploy_convert(self, variables: Mapping) -> dict:
        return convert(self, variables)

    def deploy_forward(self, params: Mapping, x: jax.Array) -> jax.Array:
        return deploy_apply(self, params, x)


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

    @nn.compact
    def __call__(self, x):
        bn = lambda name: batch_norm(self.train, x.dtype, name=name)  # noqa: E731
        h = temporal_shift(x, self.shift_div) if self.residual else x
        if self.hidden != x.shape[-1]:
            h = relu6(bn("expand_bn")(Pointwise(self.hidden, name="expand")(h)))
        h = relu6(bn("dw_bn")(SpatialConv(self.hidden, 3, self.stride, depthwise=True,
                                          impl=self.impl, name="dw")(h)))
        h = bn("project_bn")(Pointwise(self.cout, name="project")(h))
        return x + h if self.residual else h


class HeadProjection(nn.Module):
    features: int
    train: bool = False

    @nn.compact
    def __call__(self, x):
        x = Pointwise(self.features, name="conv")(x)
        return relu6(batch_norm(self.train, x.dtype, name="bn")(x))


class MBStage(nn.Module):
    """The blocks of one ``blocks`` entry: ``specs`` are ``(C_out, hidden, stride, residual)``."""
    specs: tuple[tuple[int, int, int, bool], ...]
    shift_div: int = 8
    impl: str = "lowered"
    train: bool = False

    @nn.compact
    def __call__(self, x):
        for b, (cout, hidden, stride, residual) in enumerate(self.specs):
            x = InvertedResidual(cout, hidden, stride, residual, self.shift_div, self.impl,
                                 self.train, name=f"block{b}")(x)
        return x


class TSMMobileNetV2(common.FrameNetDeploy, nn.Module):
    config: TSMMobileNetV2Config

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        common.check_clip(x, type(self).__name__)
        dtype = DTYPES[cfg.dtype]
        x = SpatialConv(cfg.stem_width, 3, 2, impl=cfg.impl, name="stem")(x.astype(dtype))
        x = relu6(batch_norm(train, dtype, name="stem_bn")(x))
        specs: dict[int, list] = {}
        for s, _, _, cout, hidden, stride, residual in cfg.layout():
            specs.setdefault(s, []).append((cout, hidden, stride, residual))
        for s, spec in specs.items():
            x = MBStage(tuple(spec), cfg.shift_div, cfg.impl, train, name=f"stage{s}")(x)
        x = HeadProjection(cfg.last_width, train, name="head_proj")(x)
        return common.FrameConsensusHead(cfg.num_classes, cfg.dropout, train, name="head")(x)


# ---------------------------------------------------------------- deploy form
def convert(config: TSMMobileNetV2Config, variables: Mapping) -> dict:
    """Trained ``{"params", "batch_stats"}`` -> deploy tree (numpy float32, OIHW, BN folded)::

        stem;  stage{s}/block{b}: {[expand], dw (hidden, 1, 3, 3), project};
        head_proj;  fc: {w, b}          (each conv {w, b})
    """
    if not isinstance(variables, Mapping) or "params" not in variables:
        raise ValueError("variables must be a mapping with 'params' and 'batch_stats'")
    params, stats = variables["params"], variables.get("batch_stats", {})
    tree: dict = {"stem": conv_bn_params(params, stats, "stem", "stem_bn")}
    for s, b, cin, _, hidden, _, _ in config.layout():
        pre = f"stage{s}/block{b}"
        p, st = lookup(params, pre), lookup(stats, pre)
        blk = {}
        if hidden != cin:
            blk["expand"] = conv_bn_params(p, st, "expand", "expand_bn")
        blk["dw"] = conv_bn_params(p, st, "dw", "dw_bn")
        blk["project"] = conv_bn_params(p, st, "project", "project_bn")
        tree.setdefault(f"stage{s}", {})[f"block{b}"] = blk
    tree["head_proj"] = conv_bn_params(params, stats, "head_proj/conv", "head_proj/bn")
    tree["fc"] = {"w": f32(lookup(params, "head/fc/kernel")), "b": f32(lookup(params, "head/fc/bias"))}
    return tree


def deploy_apply(config: TSMMobileNetV2Config, params: Mapping, x: jax.Array) -> jax.Array:
    """Deploy-form forward: ``(N, T, 3, H, W)`` -> logits ``(N, num_classes)``."""
    t = config.frames
    h = common.frames_first(x, t)
    p = params["stem"]
    h = relu6(dops.conv(h, p["w"], p["b"], (2, 2), ((1, 1), (1, 1))))
    for s, b, cin, _, hidden, stride, residual in config.layout():
        p = params[f"stage{s}"][f"block{b}"]
        r = common.shift_frames(h, t, config.shift_div) if residual else h
        if "expand" in p:
            r = relu6(dops.conv(r, p["expand"]["w"], p["expand"]["b"]))
        r = relu6(dops.conv(r, p["dw"]["w"], p["dw"]["b"], (stride, stride), ((1, 1), (1, 1)),
                            groups=hidden))
        r = dops.conv(r, p["project"]["w"], p["project"]["b"])
        h = h + r if residual else r
    h = relu6(dops.conv(h, params["head_proj"]["w"], params["head_proj"]["b"]))
    return common.deploy_head(h, t, params["fc"]["w"], params["fc"]["b"])


def tsm_mobilenetv2() -> TSMMobileNetV2Config:
    """TSM-MobileNetV2, 8x224^2 (2,736,272 parameters / 2.40 G multiply-adds at 400 classes)."""
    return TSMMobileNetV2Config()
