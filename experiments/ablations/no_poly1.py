"""python -m jaxar.train --config experiments/ablations/no_poly1.py --workdir runs/ablations/no_poly1 --set data.data_dir=/data/tfds

Paper section 4.3: the default model trained with plain cross-entropy
instead of Poly-1 (the paper reports Poly-1 adds 0.11 % top-1 on NTU60
cross-subject); everything else is ``experiments/ntu60_xsub.py``.
"""
import dataclasses

from experiments import ntu60_xsub


def get_config():
    cfg = ntu60_xsub.get_config()
    return cfg.replace(loss=dataclasses.replace(cfg.loss, name="ce"))
