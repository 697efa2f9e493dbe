"""python -m jaxar.train --config experiments/baselines/x3d_m_ntu120_xset.py --workdir runs/baselines/x3d_m_ntu120_xset --config.data.data_dir=/data/tfds

X3D-M baseline, ntu120_xset protocol: the recipe of ``experiments/ntu120_xset.py`` with the
network swapped for ``x3d_m`` at its paper input (16 x 224^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("x3d_m", "ntu120_xset")
