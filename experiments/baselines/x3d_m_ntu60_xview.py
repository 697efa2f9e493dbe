"""python -m jaxar.train --config experiments/baselines/x3d_m_ntu60_xview.py --workdir runs/baselines/x3d_m_ntu60_xview --config.data.data_dir=/data/tfds

X3D-M baseline, ntu60_xview protocol: the recipe of ``experiments/ntu60_xview.py`` with the
network swapped for ``x3d_m`` at its paper input (16 x 224^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("x3d_m", "ntu60_xview")
