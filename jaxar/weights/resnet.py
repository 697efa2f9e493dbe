"""Key maps for ResNet backbones: torchvision, timm, MMAction2 TSM and the TSM authors.

One map serves every source, because the four only rename the same tensors
(torchvision's ResNet v1.5, stride in the 3x3 conv of a bottleneck)::

    source naming (per block: layer{s}.{b}.)        torchvision / timm   mmaction2            tsm
    stem conv / BN                                  conv1 / bn1          conv1.conv / .bn     conv1 / bn1
    block conv i / its BN                           conv{i} / bn{i}      conv{i}.conv / .bn   conv{i} / bn{i}
    block conv 1 (the shifted one)                  conv1                conv1.conv.net       conv1.net
    shortcut conv / BN                              downsample.0 / .1    downsample.conv/.bn  downsample.0 / .1
    classifier                                      fc                   cls_head.fc_cls      new_fc
    prefix                                          --                   backbone.            module.base_model.
                                                                                             (new_fc: module.)

All convs are OIHW; 3x3/7x7 become HWIO, 1x1 become ``(I, O)``
(:mod:`jaxar.weights.keymap`). The jaxar side is described by a
:class:`ResNetTarget`: TSM-ResNet's names by default (``stem``, ``stem_bn``,
``stage{s}/block{b}/conv{i}``, ``bn{i}``, ``downsample``, ``downsample_bn``,
``head/fc``); ARC-TSM-ResNet has the same names (its ARC convs hold the
same ``kernel``, plus ``embed``/``attention``/``fusion`` that keep their
initialisation). EAN (:data:`EAN_TARGET`, :func:`ean_entries`) reuses
:func:`resnet_entries` with its own names (torchvision's: ``conv1``, ``bn1``,
``layer{s}/block{b}/conv{i}``, ``downsample_conv``/``_bn``, ``fc``) and its 1x1
convs as DHWIO ``(1, 1, 1, I, O)`` kernels; its own modules (``me``,
``t_conv``, ``eab*``, ``soitr``, ``lmc``: :func:`ean_extra`) keep their
initialisation, as in the paper ("the parameters within the EABs and SOI-Tr
are randomly initialized").
"""
from __future__ import annotations

import dataclasses

from jaxar.weights.keymap import Entry, bn, conv, dense, prefixed

BLOCK_CONVS = {"basic": 2, "bottleneck": 3}


@dataclasses.dataclass(frozen=True)
class ResNetSource:
    """How a source names a ResNet's tensors (format strings on ``s`` (1-based
    stage), ``b`` (block), ``i`` (conv index))."""
    stem_conv: str = "conv1"
    stem_bn: str = "bn1"
    conv: str = "layer{s}.{b}.conv{i}"
    bn: str = "layer{s}.{b}.bn{i}"
    shifted_conv: str = "layer{s}.{b}.conv1"     # the block's first conv (TSM wraps it)
    down_conv: str = "layer{s}.{b}.downsample.0"
    down_bn: str = "layer{s}.{b}.downsample.1"
    backbone_prefix: str = ""
    head: str = "fc"                             # full name (prefix included)


SOURCES = {
    "torchvision": ResNetSource(),
    "timm": ResNetSource(),
    "mmaction2": ResNetSource(stem_conv="conv1.conv", stem_bn="conv1.bn", conv="layer{s}.{b}.conv{i}.conv",
                              bn="layer{s}.{b}.conv{i}.bn", shifted_conv="layer{s}.{b}.conv1.conv.net",
                              down_conv="layer{s}.{b}.downsample.conv",
                              down_bn="layer{s}.{b}.downsample.bn", backbone_prefix="backbone.",
                              head="cls_head.fc_cls"),
    "tsm": ResNetSource(shifted_conv="layer{s}.{b}.conv1.net", backbone_prefix="module.base_model.",
                        head="module.new_fc"),
}


@dataclasses.dataclass(frozen=True)
class ResNetTarget:
    """jaxar names of a ResNet backbone (format strings as in :class:`ResNetSource`)."""
    stem_conv: str = "stem"
    stem_bn: str = "stem_bn"
    conv: str = "stage{s}/block{b}/conv{i}"
    bn: str = "stage{s}/block{b}/bn{i}"
    down_conv: str = "stage{s}/block{b}/downsample"
    down_bn: str = "stage{s}/block{b}/downsample_bn"
    head: str | None = "head/fc"
    pointwise_layout: str = "pointwise2d"        # the 1x1 convs' kernel layout on the jaxar side


EAN_TARGET = ResNetTarget(stem_conv="conv1", stem_bn="bn1", conv="layer{s}/block{b}/conv{i}",
                          bn="layer{s}/block{b}/bn{i}", down_conv="layer{s}/block{b}/downsample_conv",
                          down_bn="layer{s}/block{b}/downsample_bn", head="fc",
                          pointwise_layout="pointwise2d_5d")


def resnet_entries(source: str, block: str, depths, widths, stem_width: int,
                   shifted: bool = True, target: ResNetTarget = ResNetTarget()) -> list[Entry]:
    """Entries of a ResNet (``block`` "basic"|"bottleneck", per-stage ``depths`` and
    3x3 ``widths``) named as ``source`` into ``target``. ``shifted``: the source is a
    TSM network whose first block conv sits inside a shift wrapper (mmaction2 and
    tsm sources name it ``...net``); an ImageNet file (torchvision, timm) is not."""
    if source not in SOURCES:
        raise ValueError(f"unknown ResNet source {source!r}; choose from {sorted(SOURCES)}")
    if block not in BLOCK_CONVS:
        raise ValueError(f"unknown block {block!r}")
    src, expansion = SOURCES[source], 4 if block == "bottleneck" else 1
    out = conv(src.stem_conv, target.stem_conv, "conv2d") + bn(src.stem_bn, target.stem_bn)
    cin = stem_width
    for s, (depth, width) in enumerate(zip(depths, widths), 1):
        for b in range(depth):
            f = dict(s=s, b=b)
            stride = 2 if s > 1 and b == 0 else 1
            for i in range(1, BLOCK_CONVS[block] + 1):
                name = (src.shifted_conv if i == 1 and shifted else src.conv).format(i=i, **f)
                layout = target.pointwise_layout if block == "bottleneck" and i != 2 else "conv2d"
                out += conv(name, target.conv.format(i=i, **f), layout)
                out += bn(src.bn.format(i=i, **f), target.bn.format(i=i, **f))
            if stride != 1 or cin != width * expansion:
                out += conv(src.down_conv.format(**f), target.down_conv.format(**f),
                            target.pointwise_layout)
                out += bn(src.down_bn.format(**f), target.down_bn.format(**f))
            cin = width * expansion
    out = prefixed(out, src.backbone_prefix)
    if target.head:
        out += dense(src.head, target.head, head=True)
    return out


def tsm_resnet_entries(config, source: str) -> list[Entry]:
    """Entries for a :class:`jaxar.models.tsm_resnet.TSMResNetConfig` (or ARC's)."""
    return resnet_entries(source, config.block, config.depths, config.widths, config.stem_width,
                          shifted=source in ("mmaction2", "tsm"))


def arc_extra(path) -> bool:
    """ARC's own parameters (``embed`` We, ``attention`` Wa, ``fusion`` Wf): no
    ImageNet/TSM file has them; they keep their initialisation."""
    return path[0] == "params" and path[-1] in ("embed", "attention", "fusion")


EAN_MODULES = ("me", "t_conv", "soitr", "lmc")


def ean_entries(config, source: str) -> list[Entry]:
    """Entries for a :class:`jaxar.models.ean.EANConfig` from an ImageNet ResNet
    (torchvision / timm names): the backbone convs and BNs, and the classifier
    (kept only when the class count matches, i.e. never for a 1000-class file
    and a 174/60/120-class model)."""
    if source not in ("torchvision", "timm"):
        raise ValueError(f"EAN starts from an ImageNet ResNet (torchvision or timm), not {source!r}")
    return resnet_entries(source, "bottleneck", config.depths, config.widths, config.stem_width,
                          shifted=False, target=EAN_TARGET)


def ean_extra(path) -> bool:
    """EAN's own modules (the baseline's ``me`` / ``t_conv`` in every block, ``eab{s}``,
    ``soitr``, ``lmc``): no ImageNet file has them; they keep their initialisation."""
    return path[0] in ("params", "batch_stats") and any(
        p in EAN_MODULES or (p.startswith("eab") and p[3:].isdigit()) for p in path[1:])
