"""python -m jaxar.distill.train --config experiments/cdkd_synthetic.py --workdir runs/cdkd_kd \
    --config.kd.teacher=runs/demo            (--config.kd.enabled=false: the no-KD student)

CD-KD on CPU on REAL compressed-domain input: the synthetic set of the demo
(2000 training / 500 held-out clips, 10 classes, 8 frames of 32x32) encoded
in memory as MPEG-4 Part 2 streams (GOP 12, qscale 3), I-frames, accumulated
motion vectors and residuals extracted by the reader
(``data.source = "compressed_synthetic"``, docs/compressed.md); each clip is
extracted once and reused every epoch (``data.compressed_cache``; crops stay
random). The student is the narrow edge student (three tiny
TSM-MobileNetV2 streams); the teacher is the X3D-UGT demo run
(``experiments/synthetic_demo.py``) trained on the raw frames of the same
set. ``teacher_features=64`` is x3d_ugt_tiny's ``head_proj`` width, given
here so the no-KD arm (run without ``kd.teacher``) builds the same student;
the KD run checks it against the teacher checkpoint (leave it out and give
``kd.teacher`` to have it filled from the checkpoint). The evidence in
docs/cdkd.md ("real MPEG-4 input") uses this file unchanged.
"""
from jaxar.distill.config import distill_config


def get_config():
    c = distill_config("cdkd_mobilenetv2", num_classes=10, frames=8, size=32, tiny_streams=True,
                       teacher_features=64, decoder_width=32, decoder_heads=2, lstm_features=16,
                       gate_hidden=16, dropout=0.2)
    c.data.source = "compressed_synthetic"
    c.data.compressed_cache = True
    c.data.crop_area = (1.0, 1.0)
    c.data.synthetic_train = 2000
    c.data.synthetic_test = 500
    c.data.synthetic_frames = 8
    c.data.synthetic_size = 32
    c.optim.lr = 0.1
    c.optim.warmup_epochs = 1.0
    c.checkpoint.every_steps = 62
    c.checkpoint.keep = 2
    c.batch_size = 32
    c.epochs = 10.0
    c.eval_every = 62
    c.log_every = 31
    c.progress = False
    return c
