"""python -m jaxar.train --config experiments/ablations/tada_s3.py --workdir runs/ablations/tada_s3 --config.data.data_dir=/data/tfds

Paper Table 2 (TAda placement), NTU RGB+D 60 cross-subject: TAda in the
first two blocks of stage 3 only (934 K) instead of stages 3+4; everything else is
``experiments/ntu60_xsub.py`` (the S3+S4 default, 962 K).
"""
from pathlib import Path

from jaxar.train.config import load_config


def get_config():
    c = load_config(Path(__file__).parents[1] / "ntu60_xsub.py")
    c.model.variant = "x3d_ugt_tada_s3"
    return c
