"""python -m jaxar.train --config experiments/smoke_tiny.py --workdir runs/smoke

A seconds-scale smoke run for tests and CI: a two-stage cut of
``x3d_ugt_tiny`` that still has every block type (UIB, T-UIB with TAda, SE,
SimAM, Ghost head), 4 frames of 16x16, a small synthetic set, a few steps.
It checks the machinery (steps, checkpoints, resume, logs), not accuracy.
"""
from jaxar.train.config import default_config, use_synthetic_data


def get_config():
    c = default_config("x3d_ugt_tiny", num_classes=10, frames=4, size=16, impl="shifted",
                       widths=(8, 16), depths=(1, 1), strides=(1, 2), tada_stages=(2,),
                       se_stages=(2,), simam_stages=(2,))
    use_synthetic_data(c, train=256, test=64)
    c.optim.lr = 0.1
    c.checkpoint.every_steps = 10
    c.checkpoint.keep = 2
    c.batch_size = 8
    c.steps = 40
    c.eval_every = 20
    c.log_every = 5
    c.progress = False
    return c
