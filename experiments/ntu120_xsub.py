"""python -m jaxar.train --config experiments/ntu120_xsub.py --workdir runs/ntu120_xsub --set data.data_dir=/data/tfds

Paper Table 1, NTU RGB+D 120 cross-subject (90.88 % reported): the NTU60
cross-subject recipe with 120 classes.
"""
import dataclasses

from experiments import ntu60_xsub


def get_config():
    cfg = ntu60_xsub.get_config()
    return cfg.replace(data=dataclasses.replace(cfg.data, tfds_name="ntu_rgbd/ntu120_xsub",
                                                num_classes=120))
