"""python -m jaxar.train --config experiments/ntu60_xview.py --workdir runs/ntu60_xview --config.data.data_dir=/data/tfds

Paper Table 1, NTU RGB+D 60 cross-view (98.31 % reported): the NTU60
cross-subject recipe on the cross-view split (train cameras 2 and 3).
"""
from pathlib import Path

from jaxar.train.config import load_config


def get_config():
    c = load_config(Path(__file__).parent / "ntu60_xsub.py")
    c.data.tfds_name = "ntu_rgbd/ntu60_xview"
    return c
