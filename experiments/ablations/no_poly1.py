"""python -m jaxar.train --config experiments/ablations/no_poly1.py --workdir runs/ablations/no_poly1 --config.data.data_dir=/data/tfds

Paper section 4.3: the default model trained with plain cross-entropy
instead of Poly-1 (the paper reports Poly-1 adds 0.11 % top-1 on NTU60
cross-subject); everything else is ``experiments/ntu60_xsub.py``.
"""
from pathlib import Path

from jaxar.train.config import load_config


def get_config():
    c = load_config(Path(__file__).parents[1] / "ntu60_xsub.py")
    c.loss.name = "ce"
    return c
