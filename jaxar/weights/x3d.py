"""Key maps for X3D: PyTorchVideo (``.pyth`` hub files) and MMAction2.

============================  ==========================================  ===============================
jaxar                         PyTorchVideo (``blocks.*``)                   MMAction2 (``backbone.*``)
============================  ==========================================  ===============================
stem/conv_xy (1x3x3)          blocks.0.conv.conv_t                          conv1_s.conv
stem/conv_t (5x1x1 dw)        blocks.0.conv.conv_xy                         conv1_t.conv
stem/conv_t_bn                blocks.0.norm                                 conv1_t.bn
stage{s}/block{b}/            blocks.{s}.res_blocks.{b}.                    layer{s}.{b}.
  conv_a / conv_a_bn          branch2.conv_a / branch2.norm_a               conv1.conv / conv1.bn
  conv_b / conv_b_bn          branch2.conv_b / branch2.norm_b.0             conv2.conv / conv2.bn
  se/reduce, se/expand        branch2.norm_b.1.block.0 / .2                 se_module.fc1 / fc2
  conv_c / conv_c_bn          branch2.conv_c / branch2.norm_c               conv3.conv / conv3.bn
  shortcut / shortcut_bn      branch1_conv / branch1_norm                   downsample.conv / .bn
head/conv / conv_bn           blocks.5.pool.pre_conv / pre_norm             conv5.conv / conv5.bn
head/hidden (no bias)         blocks.5.pool.post_conv                       cls_head.fc1
head/classifier               blocks.5.proj                                 cls_head.fc2
============================  ==========================================  ===============================

(PyTorchVideo names the stem's spatial conv ``conv_t`` and its temporal conv
``conv_xy``; the map follows the kernel shapes, not the names.) Layouts:
pointwise ``(O, I, 1, 1, 1)`` -> ``(I, O)``, the 3x3x3 depthwise ``(C, 1, 3, 3,
3)`` -> DHWIO ``(3, 3, 3, 1, C)``, the stem ``(24, 3, 1, 3, 3)`` -> HWIO, the
5x1x1 depthwise ``(C, 1, 5, 1, 1)`` -> ``(5, C)``, SE 1x1x1 convs with bias ->
dense ``(I, O)``. MMAction2's X3D puts a BN on every shortcut conv, so its
files need ``stride_shortcut_bn=True`` (PyTorchVideo: BN only when the width
changes, jaxar's default).
"""
from __future__ import annotations

from jaxar.weights.keymap import Entry, bn, conv, dense

SOURCES = ("pytorchvideo", "mmaction2")


def x3d_entries(config, source: str) -> list[Entry]:
    """Entries for a :class:`jaxar.models.x3d.X3DConfig`."""
    from jaxar.models.x3d import stage_blocks
    if source not in SOURCES:
        raise ValueError(f"unknown X3D source {source!r}; choose from {list(SOURCES)}")
    ptv = source == "pytorchvideo"
    if not ptv and not config.stride_shortcut_bn:
        raise ValueError("MMAction2's X3D has a BN after every shortcut conv: set the model's "
                         "stride_shortcut_bn=True (--config.model.stride_shortcut_bn=true)")
    if ptv:
        out = (conv("blocks.0.conv.conv_t", "stem/conv_xy", "conv3d_xy")
               + conv("blocks.0.conv.conv_xy", "stem/conv_t", "temporal3d") + bn("blocks.0.norm", "stem/conv_t_bn"))
    else:
        out = (conv("backbone.conv1_s.conv", "stem/conv_xy", "conv3d_xy")
               + conv("backbone.conv1_t.conv", "stem/conv_t", "temporal3d")
               + bn("backbone.conv1_t.bn", "stem/conv_t_bn"))
    for s in range(1, len(config.widths) + 1):
        for blk in stage_blocks(config, s):
            b = int(blk.name[len("block"):])
            dst = f"stage{s}/{blk.name}/"
            if ptv:
                p = f"blocks.{s}.res_blocks.{b}."
                names = dict(a=p + "branch2.conv_a", a_bn=p + "branch2.norm_a", b=p + "branch2.conv_b",
                             b_bn=p + "branch2.norm_b.0", se1=p + "branch2.norm_b.1.block.0",
                             se2=p + "branch2.norm_b.1.block.2", c=p + "branch2.conv_c",
                             c_bn=p + "branch2.norm_c", sc=p + "branch1_conv", sc_bn=p + "branch1_norm")
            else:
                p = f"backbone.layer{s}.{b}."
                names = dict(a=p + "conv1.conv", a_bn=p + "conv1.bn", b=p + "conv2.conv", b_bn=p + "conv2.bn",
                             se1=p + "se_module.fc1", se2=p + "se_module.fc2", c=p + "conv3.conv",
                             c_bn=p + "conv3.bn", sc=p + "downsample.conv", sc_bn=p + "downsample.bn")
            out += conv(names["a"], dst + "conv_a", "pointwise3d") + bn(names["a_bn"], dst + "conv_a_bn")
            out += conv(names["b"], dst + "conv_b", "depthwise3d") + bn(names["b_bn"], dst + "conv_b_bn")
            if blk.se_hidden:
                out += dense(names["se1"], dst + "se/reduce", "pointwise3d")
                out += dense(names["se2"], dst + "se/expand", "pointwise3d")
            out += conv(names["c"], dst + "conv_c", "pointwise3d") + bn(names["c_bn"], dst + "conv_c_bn")
            kind = blk.shortcut_kind()
            if kind != "identity":
                out += conv(names["sc"], dst + "shortcut", "pointwise3d")
            if kind == "conv_bn":
                out += bn(names["sc_bn"], dst + "shortcut_bn")
    if ptv:
        h = f"blocks.{len(config.widths) + 1}."          # blocks.5 for the paper's four stages
        out += (conv(h + "pool.pre_conv", "head/conv", "pointwise3d") + bn(h + "pool.pre_norm", "head/conv_bn")
                + dense(h + "pool.post_conv", "head/hidden", "pointwise3d", bias=False)
                + dense(h + "proj", "head/classifier", head=True))
    else:
        out += (conv("backbone.conv5.conv", "head/conv", "pointwise3d") + bn("backbone.conv5.bn", "head/conv_bn")
                + dense("cls_head.fc1", "head/hidden", bias=False) + dense("cls_head.fc2", "head/classifier", head=True))
    return out
