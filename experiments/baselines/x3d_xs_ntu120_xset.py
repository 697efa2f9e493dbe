"""python -m jaxar.train --config experiments/baselines/x3d_xs_ntu120_xset.py --workdir runs/baselines/x3d_xs_ntu120_xset --config.data.data_dir=/data/tfds

X3D-XS baseline, ntu120_xset protocol: the recipe of ``experiments/ntu120_xset.py`` with the
network swapped for ``x3d_xs`` at its paper input (4 x 160^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("x3d_xs", "ntu120_xset")
