"""python -m jaxar.train --config experiments/baselines/x3d_s_ntu120_xsub.py --workdir runs/baselines/x3d_s_ntu120_xsub --set data.data_dir=/data/tfds

X3D-S baseline, ntu120_xsub protocol: the recipe of ``experiments/ntu120_xsub.py``
unchanged, with the network swapped and its paper input (13 x 160^2); see
docs/baselines.md for why. Equal input to X3D-UGT: ``--set data.frames=16 --set data.size=224``.
"""
import dataclasses

from experiments import ntu120_xsub


def get_config():
    cfg = ntu120_xsub.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="x3d_s"),
                       data=dataclasses.replace(cfg.data, frames=13, size=160))
