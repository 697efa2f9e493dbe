"""python -m jaxar.train --config experiments/ntu120_xsub.py --workdir runs/ntu120_xsub --config.data.data_dir=/data/tfds

Paper Table 1, NTU RGB+D 120 cross-subject (90.88 % reported): the NTU60
cross-subject recipe with 120 classes.
"""
from pathlib import Path

from jaxar.train.config import load_config


def get_config():
    c = load_config(Path(__file__).parent / "ntu60_xsub.py")
    c.data.tfds_name = "ntu_rgbd/ntu120_xsub"
    c.model.num_classes = 120
    return c
