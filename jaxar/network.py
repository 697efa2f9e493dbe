"""X3D-UGT assembled from a :class:`~jaxar.config.ModelConfig`.

Input ``(N, T, H, W, 3)`` float (normalised RGB, channels-last); output
logits ``(N, num_classes)`` float32.

    stem:    1x3x3 conv, stride (1,2,2) -> BN -> act
    stage s: depths[s] UIB-3D blocks (T-UIB: TAda in the first K blocks of
             the TAda stages; SE in the SE stages); the first block of the
             stage strides by strides[s]; SimAM after the SimAM stages
    head:    Ghost 1x1x1 projection to head_width (BN, act) -> global average
             pool -> dropout -> linear classifier

Parameter tree: ``stem``, ``stem_bn``, ``stage{s}/block{b}/...``, ``head_proj``,
``classifier`` (see the block modules for the inner names).
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxar.config import DTYPES, ModelConfig
from jaxar.modules.ghost import GhostPointwise
from jaxar.modules.layers import Dense, SpatialConv, activation, batch_norm
from jaxar.modules.simam import simam
from jaxar.modules.squeeze_excite import make_divisible
from jaxar.modules.tada import tada_hidden
from jaxar.modules.uib import UIB3D


class Stage(nn.Module):
    """One stage: ``depth`` UIB-3D blocks, then optional SimAM."""
    config: ModelConfig
    index: int                    # 1-based stage number
    train: bool = False

    @nn.compact
    def __call__(self, x):
        cfg, s = self.config, self.index
        expanded = cfg.expanded(s)
        se_hidden = make_divisible(expanded * cfg.se_ratio) if s in cfg.se_stages else 0
        for b in range(cfg.depths[s - 1]):
            use_tada = s in cfg.tada_stages and b < cfg.tada_blocks
            stride = cfg.strides[s - 1] if b == 0 else 1
            pre_dw = cfg.pre_dw == "all" or (cfg.pre_dw == "stride" and stride > 1)
            x = UIB3D(
                out_channels=cfg.widths[s - 1], expanded=expanded, stride=stride, pre_dw=pre_dw,
                kernel_size=cfg.kernel_size, temporal_kernel=cfg.temporal_kernel,
                shift_div=cfg.shift_div, ghost_ratio=cfg.ghost_ratio,
                ghost_kernel=cfg.ghost_kernel, se_hidden=se_hidden,
                tada_hidden=tada_hidden(expanded, cfg.tada_reduction) if use_tada else 0,
                act=cfg.activation, train=self.train,
                dtype=DTYPES[cfg.dtype], impl=cfg.impl, name=f"block{b}")(x)
        if s in cfg.simam_stages:
            x = simam(x, cfg.simam_pool, cfg.simam_lambda)
        return x


class X3DUGT(nn.Module):
    config: ModelConfig

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        if x.ndim != 5 or x.shape[-1] != 3:
            raise ValueError(f"X3DUGT expects (N, T, H, W, 3) clips, got shape {x.shape}")
        dtype = DTYPES[cfg.dtype]
        act = activation(cfg.activation)
        x = x.astype(dtype)
        x = SpatialConv(cfg.stem_width, 3, 2, impl=cfg.impl, name="stem")(x)
        x = act(batch_norm(train, dtype=dtype, name="stem_bn")(x))
        for s in range(1, len(cfg.widths) + 1):
            x = Stage(cfg, s, train, name=f"stage{s}")(x)
        x = GhostPointwise(cfg.head_width, cfg.ghost_ratio, cfg.ghost_kernel, 1, cfg.activation,
                           train, dtype=dtype, impl=cfg.impl, name="head_proj")(x)
        x = jnp.mean(x, axis=(1, 2, 3))
        x = nn.Dropout(cfg.dropout, deterministic=not train)(x)
        x = Dense(cfg.num_classes, kernel_init=nn.initializers.normal(0.01), name="classifier")(x)
        return x.astype(jnp.float32)
