"""python -m jaxar.train --config experiments/baselines/x3d_m_ntu60_xview.py --workdir runs/baselines/x3d_m_ntu60_xview --set data.data_dir=/data/tfds

X3D-M baseline, ntu60_xview protocol: the recipe of ``experiments/ntu60_xview.py``
unchanged, with the network swapped and its paper input (16 x 224^2); see
docs/baselines.md for why. Equal input to X3D-UGT: ``--set data.frames=16 --set data.size=224``.
"""
import dataclasses

from experiments import ntu60_xview


def get_config():
    cfg = ntu60_xview.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="x3d_m"),
                       data=dataclasses.replace(cfg.data, frames=16, size=224))
