"""Run configuration of a CD-KD distillation run: the run config of
:mod:`jaxar.train.config` plus a ``kd`` section.

``kd``:
    ``enabled`` (the KD on/off switch; off = the student trained with CE only),
    ``teacher`` (a jaxar work directory or checkpoint step directory of a run
    whose family declares per-frame features, :mod:`jaxar.distill.teacher`;
    required when enabled),
    ``lambda_spatial`` (0.1) and ``lambda_temporal`` (1.0) of Eq. 7, ``gate``
    (attention-gate weights on; off: alpha_t = 1), ``normalize``, ``mu``,
    ``sigma``, ``a``, ``b``, ``c``, ``base_graph`` (:mod:`jaxar.distill.losses`).

The model section is a ``cdkd_*`` variant. ``model.teacher_features`` (the
width of the teacher's per-frame features ``h_t``) is filled from the teacher
checkpoint by :func:`resolve_teacher_features` whenever ``kd.teacher`` is
set (also with KD off, so both arms build the same student); a value given
in the config or on the command line must agree with the teacher, else the
run stops naming both. Without a teacher it keeps the variant's default.
"""
from __future__ import annotations

import ml_collections

from jaxar.train.config import RUN_KINDS, default_config


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


RUN_KINDS["kd"] = distill_config      # a stored config with a kd section reads back (jaxar.evaluate)


def validate_kd(cfg: ml_collections.ConfigDict) -> None:
    from jaxar.distill.step import KDSettings
    if "kd" not in cfg:
        raise ValueError("run config has no kd section; start from jaxar.distill.config.distill_config()")
    KDSettings.from_section(cfg.kd)
    if cfg.kd.enabled and not cfg.kd.teacher:
        raise ValueError("kd.enabled is true but kd.teacher is empty: give the work directory of a "
                         "trained X3D-UGT / X3D / TSM / ARC run (--config.kd.teacher=DIR), or set "
                         "--config.kd.enabled=false")


def resolve_teacher_features(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``cfg`` with ``model.teacher_features`` filled from ``kd.teacher``'s checkpoint.

    Returns ``cfg`` itself when ``kd.teacher`` is empty; otherwise a copy whose
    ``model.teacher_features`` is the teacher's per-frame feature width
    (:func:`jaxar.distill.teacher.teacher_width`, read from the checkpoint's
    model config, no weights loaded). A value already set that differs raises
    ``ValueError`` naming the teacher, its width and the set value.
    """
    from jaxar.distill.teacher import teacher_width
    if not cfg.kd.teacher:
        return cfg
    width = teacher_width(cfg.kd.teacher)
    given = cfg.model.get("teacher_features")
    if given is not None and int(given) != width:
        raise ValueError(f"model.teacher_features={given}, but the teacher kd.teacher="
                         f"{cfg.kd.teacher} gives {width}-channel per-frame features; leave "
                         f"model.teacher_features unset (it is filled from the teacher) or set "
                         f"--config.model.teacher_features={width}")
    if given is not None:
        return cfg
    out = cfg.copy_and_resolve_references()
    out.model.teacher_features = width
    return out
