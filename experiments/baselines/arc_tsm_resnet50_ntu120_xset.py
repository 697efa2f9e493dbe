"""python -m jaxar.train --config experiments/baselines/arc_tsm_resnet50_ntu120_xset.py --workdir runs/baselines/arc_tsm_resnet50_ntu120_xset --set data.data_dir=/data/tfds

ARC-TSM-ResNet-50 baseline, ntu120_xset protocol: the recipe of ``experiments/ntu120_xset.py``
unchanged (SGD + cosine, Poly-1, batch 64, from scratch), with the network
swapped and its paper input (8 x 224^2, TSM's segment sampling replaced by the
project's clip sampler); see docs/baselines.md. Equal input to X3D-UGT:
``--set data.frames=16``.
"""
import dataclasses

from experiments import ntu120_xset


def get_config():
    cfg = ntu120_xset.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="arc_tsm_resnet50"),
                       data=dataclasses.replace(cfg.data, frames=8, size=224))
