"""python -m jaxar.train --config experiments/baselines/arc_tsm_resnet50_ntu60_xsub.py --workdir runs/baselines/arc_tsm_resnet50_ntu60_xsub --config.data.data_dir=/data/tfds

ARC-TSM-ResNet-50 baseline, ntu60_xsub protocol: the recipe of ``experiments/ntu60_xsub.py``
unchanged (SGD + cosine, Poly-1, batch 64, from scratch), with the network
swapped and its paper input (8 x 224^2, TSM's segment sampling replaced by the
project's clip sampler); see docs/baselines_tsm_arc.md. Equal input to X3D-UGT:
``--config.model.frames=16``.
"""
from pathlib import Path

from jaxar.train.config import load_config, model_section


def get_config():
    c = load_config(Path(__file__).parents[1] / "ntu60_xsub.py")
    c.model = model_section("arc_tsm_resnet50", num_classes=c.model.num_classes, frames=8, size=224)
    return c
