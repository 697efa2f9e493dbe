"""python -m jaxar.train --config experiments/baselines/x3d_xs_ntu120_xset.py --workdir runs/baselines/x3d_xs_ntu120_xset --set data.data_dir=/data/tfds

X3D-XS baseline, ntu120_xset protocol: the recipe of ``experiments/ntu120_xset.py``
unchanged, with the network swapped and its paper input (4 x 160^2); see
docs/baselines.md for why. Equal input to X3D-UGT: ``--set data.frames=16 --set data.size=224``.
"""
import dataclasses

from experiments import ntu120_xset


def get_config():
    cfg = ntu120_xset.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="x3d_xs"),
                       data=dataclasses.replace(cfg.data, frames=4, size=160))
