"""The table of named model variants: name -> function returning a config.

``x3d_ugt`` is the paper's model (TAda in the first 2 blocks of stages 3-4);
``x3d_ugt_tada_*`` are the TAda-placement ablation of Table 2, each one field
away from the default; ``x3d_ugt_tiny`` is a narrow, shallow cut for CPU
demos and tests. Parameter counts at 60 classes (``python -m jaxar.summary
NAME``): 962.9 K / 965.5 K / 929.4 K / 934.2 K / 955.5 K.

The baselines (``docs/baselines.md``) live in :mod:`jaxar.models`:
``x3d_xs`` / ``x3d_s`` / ``x3d_m`` (one X3D network, the paper's three
inputs), ``tsm_resnet18`` / ``tsm_resnet50`` / ``tsm_mobilenetv2`` (TSM) and
``arc_tsm_resnet18`` / ``arc_tsm_resnet50`` (ARC around TSM-ResNet); each
variant's default frames and crop are its paper input. Every config returned
here derives from :class:`jaxar.models.base.ModelConfigBase`. Nothing in
:mod:`jaxar.models` imports the registry, so :mod:`jaxar.registry` can import
this table without a cycle.
"""
from __future__ import annotations

from typing import Callable

from jaxar.models.arc import arc_tsm_resnet18, arc_tsm_resnet50
from jaxar.models.tsm_mobilenetv2 import tsm_mobilenetv2
from jaxar.models.tsm_resnet import tsm_resnet18, tsm_resnet50
from jaxar.models.x3d import X3DConfig
from jaxar.models.x3d_ugt import X3DUGTConfig


def x3d_ugt() -> X3DUGTConfig:
    return X3DUGTConfig()   # the defaults of X3DUGTConfig are the paper's model


def x3d_ugt_tiny() -> X3DUGTConfig:
    """Same block structure at narrow widths and shallow depths."""
    return X3DUGTConfig(stem_width=8, widths=(8, 16, 24, 32), depths=(1, 1, 2, 2),
                       head_width=64, tada_reduction=8.0, frames=8, size=32, dropout=0.2)


VARIANTS: dict[str, Callable[[], object]] = {
    "x3d_ugt": x3d_ugt,
    "x3d_ugt_tada_all": lambda: X3DUGTConfig(tada_stages=(1, 2, 3, 4)),
    "x3d_ugt_tada_s12": lambda: X3DUGTConfig(tada_stages=(1, 2)),
    "x3d_ugt_tada_s3": lambda: X3DUGTConfig(tada_stages=(3,)),
    "x3d_ugt_tada_s4": lambda: X3DUGTConfig(tada_stages=(4,)),
    "x3d_ugt_tiny": x3d_ugt_tiny,
    # X3D baselines (Feichtenhofer 2020): one network, the paper's three inputs.
    "x3d_xs": lambda: X3DConfig(frames=4, size=160),
    "x3d_s": lambda: X3DConfig(frames=13, size=160),
    "x3d_m": lambda: X3DConfig(frames=16, size=224),
    # TSM (Lin et al. 2019) and ARC around TSM-ResNet: 8x224^2.
    "tsm_resnet18": tsm_resnet18,
    "tsm_resnet50": tsm_resnet50,
    "tsm_mobilenetv2": tsm_mobilenetv2,
    "arc_tsm_resnet18": arc_tsm_resnet18,
    "arc_tsm_resnet50": arc_tsm_resnet50,
}

from jaxar.models.cdkd import VARIANTS as _CDKD_VARIANTS  # noqa: E402  (compressed-domain students)
VARIANTS.update(_CDKD_VARIANTS)
from jaxar.models.ean import VARIANTS as _EAN_VARIANTS  # noqa: E402  (EAN family, docs/ean.md)
VARIANTS.update(_EAN_VARIANTS)
