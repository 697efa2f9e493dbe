"""python -m jaxar.train --config experiments/finetune_tiny.py \
       --config.init.checkpoint=resnet.pth --workdir runs/finetune_tiny

A seconds-scale fine-tuning run for tests and CI: a narrow two-stage
TSM-ResNet-18 (basic blocks, widths 8/16) on 4 frames of 16x16 from the
synthetic set, started from a torchvision-format ResNet file given on the
command line (``init.checkpoint``; the classifier is re-initialised when the
file's class count differs from the 4 classes here). It checks the machinery
(import, head, frozen parts), not accuracy. The full-size commands are in
docs/weights.md.
"""
from jaxar.train.config import default_config, use_synthetic_data


def get_config():
    c = default_config("tsm_resnet18", num_classes=4, frames=4, size=16, impl="lowered",
                       stem_width=8, widths=(8, 16), depths=(1, 1))
    c.init.format = "auto"
    use_synthetic_data(c, train=32, test=16)
    c.optim.lr = 0.05
    c.checkpoint.every_steps = 6
    c.checkpoint.keep = 1
    c.checkpoint.async_save = False
    c.batch_size = 8
    c.steps = 6
    c.eval_every = 6
    c.log_every = 3
    c.progress = False
    return c
