"""python -m jaxar.train --config experiments/smoke_tiny.py --workdir runs/smoke

A seconds-scale smoke run for tests and CI: a two-stage cut of
``x3d_ugt_tiny`` that still has every block type (UIB, T-UIB with TAda, SE,
SimAM, Ghost head), 4 frames of 16x16, a small synthetic set, a few steps.
It checks the machinery (steps, checkpoints, resume, logs), not accuracy.
"""
from jaxar.train.config import CheckpointSpec, DataSpec, ModelSpec, OptimSpec, TrainConfig

SMOKE_MODEL = {"widths": (8, 16), "depths": (1, 1), "strides": (1, 2), "tada_stages": (2,),
               "se_stages": (2,), "simam_stages": (2,)}


def get_config() -> TrainConfig:
    return TrainConfig(
        model=ModelSpec(variant="x3d_ugt_tiny", impl="shifted", overrides=dict(SMOKE_MODEL)),
        data=DataSpec(source="synthetic", num_classes=10, frames=4, size=16, crop_area=(1.0, 1.0),
                      synthetic_train=256, synthetic_test=64, synthetic_frames=4,
                      synthetic_size=16),
        optim=OptimSpec(lr=0.1),
        checkpoint=CheckpointSpec(every_steps=10, keep=2),
        batch_size=8,
        steps=40,
        eval_every=20,
        log_every=5,
        progress=False,
    )
