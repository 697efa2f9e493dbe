"""python -m jaxar.train.demo --workdir runs/demo

(or, the training part alone: python -m jaxar.train --config experiments/synthetic_demo.py --workdir runs/demo)

The CPU demo: the narrow ``x3d_ugt_tiny`` network on the embedded synthetic
action set (10 motion classes, 8 frames of 32x32), trained from scratch in a
few minutes on 2 CPU cores. Same optimizer, schedule and loss as the paper
runs, at a demo scale (lr, batch and length tuned for CPU).
"""
from jaxar.train.config import default_config, use_demo_schedule, use_synthetic_data


def get_config():
    c = default_config("x3d_ugt_tiny", num_classes=10, frames=8, size=32, impl="shifted")
    use_synthetic_data(c, train=2000, test=500)
    use_demo_schedule(c)
    c.eval_every = 200
    return c
