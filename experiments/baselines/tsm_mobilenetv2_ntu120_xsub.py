"""python -m jaxar.train --config experiments/baselines/tsm_mobilenetv2_ntu120_xsub.py --workdir runs/baselines/tsm_mobilenetv2_ntu120_xsub --set data.data_dir=/data/tfds

TSM-MobileNetV2 baseline, ntu120_xsub protocol: the recipe of ``experiments/ntu120_xsub.py``
unchanged (SGD + cosine, Poly-1, batch 64, from scratch), with the network
swapped and its paper input (8 x 224^2, TSM's segment sampling replaced by the
project's clip sampler); see docs/baselines.md. Equal input to X3D-UGT:
``--set data.frames=16``.
"""
import dataclasses

from experiments import ntu120_xsub


def get_config():
    cfg = ntu120_xsub.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="tsm_mobilenetv2"),
                       data=dataclasses.replace(cfg.data, frames=8, size=224))
