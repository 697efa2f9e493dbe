"""python -m jaxar.train --config experiments/baselines.py:x3d_s,ntu60_xsub --workdir runs/baselines/x3d_s_ntu60_xsub --config.data.data_dir=/data/tfds

The baseline runs of Table 1, one config per ``VARIANT,PROTOCOL`` argument
(big_vision's ``config.py:arg``; every variant of :data:`VARIANTS` with every
protocol of :data:`PROTOCOLS`, 32 runs).

Every run is the X3D-UGT recipe of its protocol (``experiments/{protocol}.py``:
SGD + cosine, Poly-1, batch 64, person-centric crops, from scratch) with only
the network swapped, at the variant's own default input -- its paper input
(X3D-XS 4x160^2, X3D-S 13x160^2, X3D-M 16x224^2, TSM and ARC 8x224^2; TSM's
segment sampling is replaced by the project's clip sampler) -- so differences
in a Table-1-style comparison come from the network. For an equal input to
X3D-UGT add ``--config.model.frames=16 --config.model.size=224``. See
``docs/baselines.md``.
"""
from pathlib import Path

from jaxar.registry import create_config
from jaxar.train.config import load_config, model_section

EXPERIMENTS = Path(__file__).resolve().parent
VARIANTS = ("x3d_xs", "x3d_s", "x3d_m", "tsm_resnet18", "tsm_resnet50", "tsm_mobilenetv2",
            "arc_tsm_resnet18", "arc_tsm_resnet50")
PROTOCOLS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset")


def get_config(arg: str | None = None):
    """``arg`` = ``"VARIANT,PROTOCOL"``: ``experiments/{PROTOCOL}.py`` with
    ``model`` replaced by ``VARIANT`` at its default frames and crop and the
    protocol's classes."""
    parts = (arg or "").split(",")
    if len(parts) != 2:
        raise ValueError(f"experiments/baselines.py: give VARIANT,PROTOCOL after the file name "
                         f"(e.g. experiments/baselines.py:x3d_s,ntu60_xsub), got {arg!r}")
    variant, protocol = (p.strip() for p in parts)
    if variant not in VARIANTS:
        raise ValueError(f"experiments/baselines.py: variant must be one of {VARIANTS}, got {variant!r}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"experiments/baselines.py: protocol must be one of {PROTOCOLS}, got {protocol!r}")
    c = load_config(EXPERIMENTS / f"{protocol}.py")
    model = create_config(variant)
    c.model = model_section(variant, num_classes=c.model.num_classes, frames=model.frames,
                            size=model.size)
    return c
