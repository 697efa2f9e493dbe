"""X3D-UGT (the paper's model): its configuration and its network.

Input ``(N, T, H, W, 3)`` float (normalised RGB, channels-last); output
logits ``(N, num_classes)`` float32.

    stem:    1x3x3 conv, stride (1,2,2) -> BN -> act
    stage s: depths[s] UIB-3D blocks (T-UIB: TAda in the first K blocks of
             the TAda stages; SE in the SE stages); the first block of the
             stage strides by strides[s]; SimAM after the SimAM stages
    head:    Ghost 1x1x1 projection to head_width (BN, act) -> global average
             pool -> dropout -> linear classifier

Every architectural choice the paper leaves open is a field of
:class:`X3DUGTConfig`; the named variants in :mod:`jaxar.variants` fix them
(see ``docs/architecture.md`` for why these values). Stages are numbered
1..4 as in the paper.

Parameter tree: ``stem``, ``stem_bn``, ``stage{s}/block{b}/...``, ``head_proj``,
``classifier`` (see the block modules for the inner names).

The blocks come from :func:`stage_blocks` and :meth:`X3DUGT.head`, read by
both the training forward and the deploy form (:meth:`X3DUGT.deploy_parts`,
walked by :mod:`jaxar.deploy.network`), which calls each block's own
conversion and deploy apply.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jaxar.deploy.network import DeployNetwork, Op, Part, Pooled, StemConv
from jaxar.models.base import DTYPES, ModelConfigBase, check_clip, stage_count, FrameFeatures
from jaxar.models.stages import Stage, stage_parts
from jaxar.modules.ghost import GhostPointwise
from jaxar.modules.layers import Dense, SpatialConv, activation, batch_norm
from jaxar.modules.simam import deploy_simam, simam
from jaxar.modules.squeeze_excite import make_divisible
from jaxar.modules.tada import tada_hidden
from jaxar.modules.uib import UIB3D

STEM_STRIDE = 2


@dataclasses.dataclass(frozen=True)
class X3DUGTConfig(ModelConfigBase):
    """The X3D-UGT network (checkpoints written before the move name this class
    ``ModelConfig``; :mod:`jaxar.registry` reads that name too)."""
    family: ClassVar[str] = "x3d_ugt"
    # backbone
    stem_width: int = 24
    widths: tuple[int, ...] = (24, 48, 96, 192)      # stage output channels
    depths: tuple[int, ...] = (6, 6, 7, 5)
    expansion: float = 2.25                           # expanded = round(expansion * width)
    strides: tuple[int, ...] = (1, 2, 2, 2)           # spatial stride of each stage's first block
    pre_dw: str = "all"                               # "all" | "stride" | "none"
    kernel_size: int = 3                              # spatial depthwise kernel k (1xkxk)
    temporal_kernel: int = 3                          # (3x1x1) temporal depthwise kernel
    shift_div: int = 8                                # TSM: 1/8 forward, 1/8 backward
    activation: str = "relu"
    # Ghost pointwise
    ghost_ratio: int = 2
    ghost_kernel: int = 3                             # cheap op: depthwise 1xkxk
    # squeeze-excite
    se_stages: tuple[int, ...] = (4,)
    se_ratio: float = 1 / 16                          # hidden = make_divisible(expanded * ratio, 8)
    # TAda
    tada_stages: tuple[int, ...] = (3, 4)
    tada_blocks: int = 2                              # first K blocks of each TAda stage
    tada_reduction: float = 27.0                      # hidden = round(expanded / reduction)
    # SimAM
    simam_stages: tuple[int, ...] = (3, 4)
    simam_pool: str = "spatial"                       # "spatial" | "spatiotemporal"
    simam_lambda: float = 1e-4
    # head
    head_width: int = 432
    dropout: float = 0.5

    def __post_init__(self):
        super().__post_init__()
        n = stage_count(self, "widths", "depths", "strides")
        for name in ("se_stages", "tada_stages", "simam_stages"):
            bad = [s for s in getattr(self, name) if not 1 <= s <= n]
            if bad:
                raise ValueError(f"{name} has stage numbers {bad} outside 1..{n}")
        if self.pre_dw not in ("all", "stride", "none"):
            raise ValueError(f"pre_dw must be 'all', 'stride' or 'none', got {self.pre_dw!r}")

    def frame_features(self) -> FrameFeatures:
        """``head_proj``'s output ``(N, T, h, w, head_width)``: the Ghost projection before
        the spatio-temporal pooling (X3D-UGT has no temporal stride, so one map per
        input frame)."""
        return FrameFeatures(("head_proj",), self.head_width)

    def build(self) -> "X3DUGT":
        return X3DUGT(self)

    def expanded(self, stage: int) -> int:
        return int(round(self.expansion * self.widths[stage - 1]))

    def small(self, frames: int = 4, size: int = 32, num_classes: int = 7, **overrides) -> "X3DUGTConfig":
        """A narrow, shallow copy that keeps the block structure (TAda/SE/SimAM
        stages, strides, pre-depthwise rule, Ghost ratio), for fast CPU tests:
        widths 8/16/24/32, depths 1/1/2/2 (two blocks in stages 3-4, so the
        "first K blocks" TAda rule shows), head 64."""
        n = len(self.widths)
        small = dict(stem_width=8, widths=(8, 16, 24, 32)[:n] if n <= 4 else self.widths,
                     depths=(1, 1, 2, 2)[:n] if n <= 4 else self.depths, head_width=64,
                     tada_reduction=min(self.tada_reduction, 8.0), frames=frames, size=size,
                     num_classes=num_classes)
        small.update(overrides)
        return self.replace(**small)


def stage_blocks(cfg: X3DUGTConfig, s: int, train: bool = False) -> list[UIB3D]:
    """The UIB-3D blocks of stage ``s`` (1-based), named ``block{b}``."""
    expanded = cfg.expanded(s)
    se_hidden = make_divisible(expanded * cfg.se_ratio) if s in cfg.se_stages else 0
    blocks = []
    for b in range(cfg.depths[s - 1]):
        use_tada = s in cfg.tada_stages and b < cfg.tada_blocks
        stride = cfg.strides[s - 1] if b == 0 else 1
        blocks.append(UIB3D(
            out_channels=cfg.widths[s - 1], expanded=expanded, stride=stride,
            pre_dw=cfg.pre_dw == "all" or (cfg.pre_dw == "stride" and stride > 1),
            kernel_size=cfg.kernel_size, temporal_kernel=cfg.temporal_kernel,
            shift_div=cfg.shift_div, ghost_ratio=cfg.ghost_ratio,
            ghost_kernel=cfg.ghost_kernel, se_hidden=se_hidden,
            tada_hidden=tada_hidden(expanded, cfg.tada_reduction) if use_tada else 0,
            act=cfg.activation, train=train, dtype=DTYPES[cfg.dtype], impl=cfg.impl,
            name=f"block{b}"))
    return blocks


class X3DUGT(DeployNetwork, nn.Module):
    config: X3DUGTConfig

    @nn.nowrap
    def stem(self) -> SpatialConv:
        return SpatialConv(self.config.stem_width, 3, STEM_STRIDE, impl=self.config.impl, name="stem")

    @nn.nowrap
    def head(self, train: bool = False) -> GhostPointwise:
        cfg = self.config
        return GhostPointwise(cfg.head_width, cfg.ghost_ratio, cfg.ghost_kernel, 1, cfg.activation,
                              train, DTYPES[cfg.dtype], cfg.impl, name="head_proj")

    @nn.nowrap
    def classifier(self) -> Dense:
        return Dense(self.config.num_classes, kernel_init=nn.initializers.normal(0.01), name="classifier")

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        check_clip(x, "X3DUGT")
        dtype = DTYPES[cfg.dtype]
        act = activation(cfg.activation)
        x = x.astype(dtype)
        x = self.stem()(x)
        x = act(batch_norm(train, dtype, name="stem_bn")(x))
        for s in range(1, len(cfg.widths) + 1):
            after = (partial(simam, pool=cfg.simam_pool, lam=cfg.simam_lambda)
                     if s in cfg.simam_stages else None)
            x = Stage(partial(stage_blocks, cfg, s), train, after, name=f"stage{s}")(x)
        x = self.head(train)(x)
        x = jnp.mean(x, axis=(1, 2, 3))
        x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
        x = self.classifier()(x)
        return x.astype(jnp.float32)

    @nn.nowrap
    def deploy_parts(self) -> list[Part]:
        """``stem {w (C0,3,3,3), b}`` (per frame, then the layout's one
        Transpose), ``stage{s}/block{b}`` (:meth:`UIB3D.deploy_params`) with
        SimAM after the SimAM stages, ``head_proj`` (Ghost), ``classifier
        {w (C_head, classes), b}`` on the clip mean."""
        cfg = self.config

        def after(s: int):
            if s in cfg.simam_stages:
                return Op(lambda a: deploy_simam(a, cfg.simam_pool, cfg.simam_lambda))
            return None

        return [Part(("stem",), StemConv(self.stem(), "stem_bn", activation(cfg.activation)), scope=()),
                *stage_parts(len(cfg.widths), lambda s: stage_blocks(cfg, s), after),
                Part(("head_proj",), self.head()),
                Part(("classifier",), Pooled(self.classifier()))]
