"""python -m jaxar.train --config experiments/ntu60_xsub.py --workdir runs/ntu60_xsub --config.data.data_dir=/data/tfds

Paper Table 1, NTU RGB+D 60 cross-subject (95.21 % top-1 reported): the
default X3D-UGT, 16 x 224 x 224 person-centric clips, SGD lr 0.05 / momentum
0.9 / weight decay 3e-4 (PyTorch semantics), cosine over 200 epochs, Poly-1
(eps = 1). This file is the base of the other paper runs and the ablations.

Not stated in the paper, chosen here: global batch 64 (lr 0.05 is taken to
be for 64 clips; other batch sizes scale it linearly through
``optim.base_batch``), training augmentation = random resized crop of
40-100 % of the (already person-centred) frame, no flip, no warmup,
single-clip evaluation. Prepare the data first: ``python -m
data_pipelines.prepare ntu_rgbd/ntu60_xsub ...`` (docs/data.md).
"""
from jaxar.train.config import default_config


def get_config():
    c = default_config("x3d_ugt", num_classes=60, frames=16, size=224)
    c.data.source = "tfds"
    c.data.tfds_name = "ntu_rgbd/ntu60_xsub"
    c.data.crop_area = (0.4, 1.0)
    c.optim.lr = 0.05
    c.optim.base_batch = 64
    c.optim.momentum = 0.9
    c.optim.weight_decay = 3e-4
    c.checkpoint.every_steps = 1000
    c.checkpoint.keep = 3
    c.batch_size = 64
    c.epochs = 200.0
    c.eval_every = 3000
    c.log_every = 50
    return c
