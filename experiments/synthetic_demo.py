"""python -m jaxar.train.demo --workdir runs/demo

(or, the training part alone: python -m jaxar.train --config experiments/synthetic_demo.py --workdir runs/demo)

The CPU demo: the narrow ``x3d_ugt_tiny`` network on the embedded synthetic
action set (10 motion classes, 8 frames of 32x32), trained from scratch in a
few minutes on 2 CPU cores. Same optimizer, schedule and loss as the paper
runs, at a demo scale (lr, batch and length tuned for CPU).
"""
from jaxar.train.config import CheckpointSpec, DataSpec, ModelSpec, OptimSpec, TrainConfig


def get_config() -> TrainConfig:
    return TrainConfig(
        model=ModelSpec(variant="x3d_ugt_tiny"),
        data=DataSpec(source="synthetic", num_classes=10, frames=8, size=32,
                      crop_area=(1.0, 1.0), synthetic_train=2000, synthetic_test=500,
                      synthetic_frames=8, synthetic_size=32),
        optim=OptimSpec(lr=0.1, warmup_epochs=1.0),
        checkpoint=CheckpointSpec(every_steps=100, keep=2),
        batch_size=32,
        epochs=15,
        eval_every=200,
        log_every=10,
    )
