"""python -m jaxar.train --config experiments/baselines/x3d_s_ntu60_xsub.py --workdir runs/baselines/x3d_s_ntu60_xsub --config.data.data_dir=/data/tfds

X3D-S baseline, ntu60_xsub protocol: the recipe of ``experiments/ntu60_xsub.py`` with the
network swapped for ``x3d_s`` at its paper input (13 x 160^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("x3d_s", "ntu60_xsub")
