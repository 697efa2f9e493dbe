"""The X3D-UGT network configuration (one frozen dataclass).

Every architectural choice the paper leaves open is a field here; the named
variants in :mod:`jaxar.variants` fix them (see ``docs/architecture.md`` for
why these values).  Stages are numbered 1..4 as in the paper.

Model configuration protocol (every model family follows it, so the registry,
training, checkpoints and summaries are family-agnostic): a frozen dataclass
with the fields ``num_classes``, ``frames``, ``size``, ``impl`` and ``dtype``,
a ``replace(**fields)`` that rejects unknown fields, the ``input_shape``
property ``(T, H, W, 3)`` and ``build() -> flax.linen.Module``.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp

from jaxar.ops.formulation import IMPL_CHOICES

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    # task and input
    num_classes: int = 60
    frames: int = 16
    size: int = 224
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
    # execution
    impl: str = "auto"                                # "auto" | "lowered" | "conv3d" | "shifted" (same maths)
    dtype: str = "float32"                            # compute dtype; params stay float32

    def __post_init__(self):
        n = len(self.widths)
        if not (len(self.depths) == len(self.strides) == n):
            raise ValueError(f"widths/depths/strides must have equal lengths, got "
                             f"{self.widths}/{self.depths}/{self.strides}")
        for name in ("se_stages", "tada_stages", "simam_stages"):
            bad = [s for s in getattr(self, name) if not 1 <= s <= n]
            if bad:
                raise ValueError(f"{name} has stage numbers {bad} outside 1..{n}")
        if self.pre_dw not in ("all", "stride", "none"):
            raise ValueError(f"pre_dw must be 'all', 'stride' or 'none', got {self.pre_dw!r}")
        if self.impl not in IMPL_CHOICES:
            raise ValueError(f"impl must be one of {IMPL_CHOICES}, got {self.impl!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.num_classes < 1 or self.frames < 1 or self.size < 1:
            raise ValueError(f"num_classes/frames/size must be positive, got "
                             f"{self.num_classes}/{self.frames}/{self.size}")

    def replace(self, **kw: Any) -> "ModelConfig":
        unknown = set(kw) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        return dataclasses.replace(self, **kw)

    def build(self):
        """The Flax module of this configuration: :class:`jaxar.network.X3DUGT`."""
        from jaxar.network import X3DUGT
        return X3DUGT(self)

    def expanded(self, stage: int) -> int:
        return int(round(self.expansion * self.widths[stage - 1]))

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Per-clip input shape ``(T, H, W, 3)``."""
        return (self.frames, self.size, self.size, 3)
