"""Key maps for MobileNetV2: torchvision and the TSM authors.

Torchvision's ``mobilenet_v2`` (``features.0`` the stem ConvBNReLU,
``features.1..17`` the inverted residuals, ``features.18`` the last 1x1
ConvBNReLU, ``classifier.1`` the linear layer) and the TSM authors'
``archs/mobilenet_v2.py`` (same ``features`` indices; a block's ``conv`` is a
flat Sequential; the first conv of a residual block is wrapped by the shift,
``conv.0.net``; prefix ``module.base_model.``, classifier ``module.new_fc``)::

    block part        torchvision (t != 1)   torchvision (t == 1)   tsm (t != 1)   tsm (t == 1)
    expand conv/BN    conv.0.0 / conv.0.1    --                     conv.0 / .1    --
    depthwise conv/BN conv.1.0 / conv.1.1    conv.0.0 / conv.0.1    conv.3 / .4    conv.0 / .1
    project conv/BN   conv.2 / conv.3        conv.1 / conv.2        conv.6 / .7    conv.3 / .4

jaxar names: ``stem``, ``stem_bn``, ``stage{s}/block{b}/{expand, expand_bn, dw,
dw_bn, project, project_bn}``, ``head_proj/{conv, bn}``, ``head/fc``. The
depthwise OIHW ``(C, 1, 3, 3)`` becomes HWIO ``(3, 3, 1, C)``.
"""
from __future__ import annotations

from jaxar.weights.keymap import Entry, bn, conv, dense, prefixed

SOURCES = ("torchvision", "tsm")


def mobilenetv2_entries(config, source: str) -> list[Entry]:
    """Entries for a :class:`jaxar.models.tsm_mobilenetv2.TSMMobileNetV2Config`."""
    if source not in SOURCES:
        raise ValueError(f"unknown MobileNetV2 source {source!r}; choose from {list(SOURCES)}")
    out = conv("features.0.0", "stem", "conv2d") + bn("features.0.1", "stem_bn")
    i = 0
    for i, (s, b, cin, _, hidden, _, residual) in enumerate(config.layout(), 1):
        pre, dst = f"features.{i}.conv.", f"stage{s}/block{b}/"
        expand = hidden != cin
        if source == "torchvision":
            names = (["0.0", "0.1", "1.0", "1.1", "2", "3"] if expand else [None, None, "0.0", "0.1", "1", "2"])
        else:
            # the authors wrap the first conv of residual blocks with an expansion only
            names = (["0.net" if residual else "0", "1", "3", "4", "6", "7"] if expand
                     else [None, None, "0", "1", "3", "4"])
        if expand:
            out += conv(pre + names[0], dst + "expand", "pointwise2d") + bn(pre + names[1], dst + "expand_bn")
        out += conv(pre + names[2], dst + "dw", "conv2d") + bn(pre + names[3], dst + "dw_bn")
        out += conv(pre + names[4], dst + "project", "pointwise2d") + bn(pre + names[5], dst + "project_bn")
    last = f"features.{i + 1}"
    out += conv(f"{last}.0", "head_proj/conv", "pointwise2d") + bn(f"{last}.1", "head_proj/bn")
    if source == "torchvision":
        return out + dense("classifier.1", "head/fc", head=True)
    return prefixed(out, "module.base_model.") + dense("module.new_fc", "head/fc", head=True)
