"""Run configuration of a CD-KD distillation run: the run config of
:mod:`jaxar.train.config` plus a ``kd`` section.

``kd``:
    ``enabled`` (the KD on/off switch; off = the student trained with CE only),
    ``teacher`` (a jaxar work directory or checkpoint step directory of a
    TSM-ResNet / TSM-MobileNetV2 / X3D-UGT run; required when enabled),
    ``lambda_spatial`` (0.1) and ``lambda_temporal`` (1.0) of Eq. 7, ``gate``
    (attention-gate weights on; off: alpha_t = 1), ``normalize``, ``mu``,
    ``sigma``, ``a``, ``b``, ``c``, ``base_graph`` (:mod:`jaxar.distill.losses`).

The model section is a ``cdkd_*`` variant; ``model.teacher_features`` must
equal the teacher's feature width (the run says which value when it differs).
"""
from __future__ import annotations

import ml_collections

from jaxar.train.config import default_config


def kd_section(enabled: bool = True, teacher: str = "") -> ml_collections.ConfigDict:
    kd = ml_collections.ConfigDict()
    kd.enabled = enabled
    kd.teacher = teacher
    kd.lambda_spatial = 0.1
    kd.lambda_temporal = 1.0
    kd.gate = True
    kd.normalize = True
    kd.mu = "clip"
    kd.sigma = 1.0
    kd.a = 1.0
    kd.b = 1.0
    kd.c = 1.0
    kd.base_graph = False
    return kd


def distill_config(variant: str = "cdkd_mobilenetv2", **model_fields) -> ml_collections.ConfigDict:
    """:func:`jaxar.train.config.default_config` of a CD-KD student + ``kd``, on the proxy source."""
    c = default_config(variant, **model_fields)
    c.data.source = "compressed_proxy"
    c.data.proxy_gop = 4
    c.loss.name = "ce"
    c.kd = kd_section()
    return c


def validate_kd(cfg: ml_collections.ConfigDict) -> None:
    from jaxar.distill.step import KDSettings
    if "kd" not in cfg:
        raise ValueError("run config has no kd section; start from jaxar.distill.config.distill_config()")
    KDSettings.from_section(cfg.kd)
    if cfg.kd.enabled and not cfg.kd.teacher:
        raise ValueError("kd.enabled is true but kd.teacher is empty: give the work directory of a "
                         "trained TSM / X3D-UGT run (--config.kd.teacher=DIR), or set "
                         "--config.kd.enabled=false")
