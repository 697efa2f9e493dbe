"""The X3D-UGT variants of the paper (Tables 1-2).

``x3d_ugt`` is the default model (TAda in the first 2 blocks of stages 3-4);
the others are the TAda-placement ablation of Table 2, each one config switch
away from the default.  Parameter counts at 60 classes (``python -m
jaxar.summary NAME``): 962.9 K / 965.5 K / 929.4 K / 934.2 K / 955.5 K.
"""
from jaxar.config import ModelConfig
from jaxar.registry import register


@register("x3d_ugt")
def x3d_ugt() -> ModelConfig:
    return ModelConfig()   # the defaults of ModelConfig are the paper's model


@register("x3d_ugt_tada_all")
def x3d_ugt_tada_all() -> ModelConfig:
    return ModelConfig(tada_stages=(1, 2, 3, 4))


@register("x3d_ugt_tada_s12")
def x3d_ugt_tada_s12() -> ModelConfig:
    return ModelConfig(tada_stages=(1, 2))


@register("x3d_ugt_tada_s3")
def x3d_ugt_tada_s3() -> ModelConfig:
    return ModelConfig(tada_stages=(3,))


@register("x3d_ugt_tada_s4")
def x3d_ugt_tada_s4() -> ModelConfig:
    return ModelConfig(tada_stages=(4,))


@register("x3d_ugt_tiny")
def x3d_ugt_tiny() -> ModelConfig:
    """Same block structure at narrow widths and shallow depths, for CPU demos and tests."""
    return ModelConfig(stem_width=8, widths=(8, 16, 24, 32), depths=(1, 1, 2, 2),
                       head_width=64, tada_reduction=8.0, frames=8, size=32, dropout=0.2)


# TSM / ARC baselines (8x224^2); configs and networks live in jaxar/models/
from jaxar.models import arc as _arc, tsm_mobilenetv2 as _mbv2, tsm_resnet as _resnet  # noqa: E402

for _fn in (_resnet.tsm_resnet18, _resnet.tsm_resnet50, _mbv2.tsm_mobilenetv2,
            _arc.arc_tsm_resnet18, _arc.arc_tsm_resnet50):
    register(_fn.__name__)(_fn)
