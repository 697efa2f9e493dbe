"""python -m jaxar.distill.train --config experiments/cdkd_proxy.py --workdir runs/cdkd_kd \
    --config.kd.teacher=runs/demo            (--config.kd.enabled=false: the no-KD student)

CD-KD on CPU: the tiny edge student (three narrow TSM-MobileNetV2 streams) on
the compressed-domain PROXY of the synthetic set (jaxar.distill.proxy_data;
data.source="compressed_synthetic" is the real MPEG-4 form where the data
branch is merged), taught by the X3D-UGT demo run (python -m jaxar.train.demo).
"""
from jaxar.distill.config import distill_config
from jaxar.train.config import use_demo_schedule, use_synthetic_data


def get_config():
    c = distill_config("cdkd_mobilenetv2", num_classes=10, frames=8, size=32, tiny_streams=True,
                       teacher_features=64, decoder_width=32, decoder_heads=2, lstm_features=16,
                       gate_hidden=16, dropout=0.2)
    use_synthetic_data(c, train=2000, test=500, source="compressed_proxy")
    use_demo_schedule(c)
    c.eval_every = 100
    return c
