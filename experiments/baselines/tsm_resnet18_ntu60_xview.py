"""python -m jaxar.train --config experiments/baselines/tsm_resnet18_ntu60_xview.py --workdir runs/baselines/tsm_resnet18_ntu60_xview --config.data.data_dir=/data/tfds

TSM-ResNet-18 baseline, ntu60_xview protocol: the recipe of ``experiments/ntu60_xview.py`` with the
network swapped for ``tsm_resnet18`` at its paper input (8 x 224^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("tsm_resnet18", "ntu60_xview")
