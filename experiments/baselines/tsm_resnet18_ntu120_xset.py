"""python -m jaxar.train --config experiments/baselines/tsm_resnet18_ntu120_xset.py --workdir runs/baselines/tsm_resnet18_ntu120_xset --config.data.data_dir=/data/tfds

TSM-ResNet-18 baseline, ntu120_xset protocol: the recipe of ``experiments/ntu120_xset.py``
unchanged (SGD + cosine, Poly-1, batch 64, from scratch), with the network
swapped and its paper input (8 x 224^2, TSM's segment sampling replaced by the
project's clip sampler); see docs/baselines_tsm_arc.md. Equal input to X3D-UGT:
``--config.model.frames=16``.
"""
from pathlib import Path

from jaxar.train.config import load_config, model_section


def get_config():
    c = load_config(Path(__file__).parents[1] / "ntu120_xset.py")
    c.model = model_section("tsm_resnet18", num_classes=c.model.num_classes, frames=8, size=224)
    return c
