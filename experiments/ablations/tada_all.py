"""python -m jaxar.train --config experiments/ablations/tada_all.py --workdir runs/ablations/tada_all --set data.data_dir=/data/tfds

Paper Table 2 (TAda placement), NTU RGB+D 60 cross-subject: TAda in the
first two blocks of all four stages (v1, 965 K parameters) instead of stages 3+4; everything else is
``experiments/ntu60_xsub.py`` (the S3+S4 default, 962 K).
"""
import dataclasses

from experiments import ntu60_xsub


def get_config():
    cfg = ntu60_xsub.get_config()
    return cfg.replace(model=dataclasses.replace(cfg.model, variant="x3d_ugt_tada_all"))
