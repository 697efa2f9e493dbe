"""Baseline experiment configs: one file per (variant, protocol) run.

Every run is the X3D-UGT recipe of its protocol (``experiments/{protocol}.py``:
SGD + cosine, Poly-1, batch 64, person-centric crops, from scratch) with only
the network swapped, at the variant's own default input -- its paper input
(X3D-XS 4x160^2, X3D-S 13x160^2, X3D-M 16x224^2, TSM and ARC 8x224^2; TSM's
segment sampling is replaced by the project's clip sampler) -- so differences
in a Table-1-style comparison come from the network. For an equal input to
X3D-UGT add ``--config.model.frames=16 --config.model.size=224``. See
``docs/baselines.md``.

A run file loads this one with :func:`runpy.run_path` (the ``experiments``
folder is not an installed package) and returns
``baseline_config(variant, protocol)``.
"""
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1]
PROTOCOLS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset")


def baseline_config(variant: str, protocol: str):
    """Run config: ``experiments/{protocol}.py`` with ``model`` replaced by
    ``variant`` at its default frames and crop and the protocol's classes."""
    from jaxar.registry import create_config
    from jaxar.train.config import load_config, model_section
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    c = load_config(EXPERIMENTS / f"{protocol}.py")
    model = create_config(variant)
    c.model = model_section(variant, num_classes=c.model.num_classes, frames=model.frames,
                            size=model.size)
    return c
