"""python -m jaxar.train --config experiments/ntu60_xview.py --workdir runs/ntu60_xview --set data.data_dir=/data/tfds

Paper Table 1, NTU RGB+D 60 cross-view (98.31 % reported): the NTU60
cross-subject recipe on the cross-view split (train cameras 2 and 3).
"""
import dataclasses

from experiments import ntu60_xsub


def get_config():
    cfg = ntu60_xsub.get_config()
    return cfg.replace(data=dataclasses.replace(cfg.data, tfds_name="ntu_rgbd/ntu60_xview"))
