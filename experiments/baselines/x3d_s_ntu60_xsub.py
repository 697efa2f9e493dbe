"""python -m jaxar.train --config experiments/baselines/x3d_s_ntu60_xsub.py --workdir runs/baselines/x3d_s_ntu60_xsub --config.data.data_dir=/data/tfds

X3D-S baseline, ntu60_xsub protocol: the recipe of ``experiments/ntu60_xsub.py``
unchanged, with the network swapped for ``x3d_s`` at its paper input
(13 x 160^2); see docs/baselines.md for why. Equal input to X3D-UGT:
``--config.model.frames=16 --config.model.size=224``.
"""
from pathlib import Path

from jaxar.train.config import load_config, model_section


def get_config():
    c = load_config(Path(__file__).parents[1] / "ntu60_xsub.py")
    c.model = model_section("x3d_s", num_classes=60, frames=13, size=160)
    return c
