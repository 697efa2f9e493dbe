"""python -m jaxar.train --config experiments/baselines/tsm_resnet18_ntu120_xsub.py --workdir runs/baselines/tsm_resnet18_ntu120_xsub --config.data.data_dir=/data/tfds

TSM-ResNet-18 baseline, ntu120_xsub protocol: the recipe of ``experiments/ntu120_xsub.py`` with the
network swapped for ``tsm_resnet18`` at its paper input (8 x 224^2); see
``experiments/baselines/__init__.py`` and docs/baselines.md.
"""
import runpy
from pathlib import Path

_baselines = runpy.run_path(str(Path(__file__).with_name("__init__.py")))


def get_config():
    return _baselines["baseline_config"]("tsm_resnet18", "ntu120_xsub")
