"""python -m jaxar.train --config experiments/baselines/x3d_xs_ntu60_xsub.py --workdir runs/baselines/x3d_xs_ntu60_xsub --set data.data_dir=/data/tfds

X3D-XS baseline, ntu60_xsub protocol: the recipe of ``experiments/ntu60_xsub.py``
unchanged, with the network swapped and its paper input (4 x 160^2); see
docs/baselines.md for why. Equal input to X3D-UGT: ``--set data.frames=16 --set data.size=224``.
"""
import dataclasses

from experiments import ntu60_xsub


def get_config():
    cfg = ntu60_xsub.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="x3d_xs"),
                       data=dataclasses.replace(cfg.data, frames=4, size=160))
