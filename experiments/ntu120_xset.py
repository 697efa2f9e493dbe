"""python -m jaxar.train --config experiments/ntu120_xset.py --workdir runs/ntu120_xset --set data.data_dir=/data/tfds

Paper Table 1, NTU RGB+D 120 cross-setup (92.67 % reported): the NTU60
cross-subject recipe with 120 classes on the cross-setup split (even setup
ids train).
"""
import dataclasses

from experiments import ntu60_xsub


def get_config():
    cfg = ntu60_xsub.get_config()
    return cfg.replace(data=dataclasses.replace(cfg.data, tfds_name="ntu_rgbd/ntu120_xset",
                                                num_classes=120))
