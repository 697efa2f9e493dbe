"""python -m jaxar.train --config experiments/baselines/arc_tsm_resnet18_ntu60_xview.py --workdir runs/baselines/arc_tsm_resnet18_ntu60_xview --config.data.data_dir=/data/tfds

ARC-TSM-ResNet-18 baseline, ntu60_xview protocol: the recipe of ``experiments/ntu60_xview.py`` with the
network swapped for ``arc_tsm_resnet18`` at its paper input (8 x 224^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("arc_tsm_resnet18", "ntu60_xview")
