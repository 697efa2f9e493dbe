"""Which source format a file is, and which family's key map reads it.

=================  =========================================  ==============================================
format             recognised by                              families
=================  =========================================  ==============================================
``pytorchvideo``   ``model_state`` container, ``blocks.0.``    x3d
``mmaction2``      ``backbone.`` / ``cls_head.`` keys          tsm_resnet, arc_tsm_resnet, x3d
``tsm``            ``module.base_model.`` keys                 tsm_resnet, arc_tsm_resnet, tsm_mobilenetv2
``timm``           ResNet names in a ``.safetensors`` file     tsm_resnet, arc_tsm_resnet, ean
``torchvision``    ResNet / MobileNetV2 names in a torch file  tsm_resnet, arc_tsm_resnet, tsm_mobilenetv2, ean
``jaxar-torch``    X3D-UGT reference names (``stem_bn.``)      x3d_ugt
=================  =========================================  ==============================================

torchvision and timm name a ResNet identically, so both read the same map;
``auto`` tells them apart by the file type only for the report.
"""
from __future__ import annotations

from jaxar.weights.readers import StateDict

FORMATS = ("pytorchvideo", "mmaction2", "tsm", "timm", "torchvision", "jaxar-torch")
FAMILY_FORMATS = {
    "x3d": ("pytorchvideo", "mmaction2"),
    "tsm_resnet": ("torchvision", "timm", "mmaction2", "tsm"),
    "arc_tsm_resnet": ("torchvision", "timm", "mmaction2", "tsm"),
    "tsm_mobilenetv2": ("torchvision", "tsm"),
    "x3d_ugt": ("jaxar-torch",),
    "ean": ("torchvision", "timm"),                 # ImageNet ResNet-50 backbone (the paper's start)
}


def detect_format(sd: StateDict) -> str:
    """The source format of ``sd`` from its container and key names; raises
    ``ValueError`` (listing a few keys) when none fits."""
    keys = list(sd.tensors)
    has = lambda prefix: any(k.startswith(prefix) for k in keys)          # noqa: E731
    if sd.container == "model_state" or has("blocks.0.conv.conv_t"):
        return "pytorchvideo"
    if has("backbone.") or has("cls_head."):
        return "mmaction2"
    if has("module.base_model.") or has("base_model."):
        return "tsm"
    if has("stem_bn.") and has("head_proj."):
        return "jaxar-torch"
    if has("layer1.0.conv1.") or has("features.0.0."):
        return "timm" if sd.kind == "safetensors" else "torchvision"
    raise ValueError(f"{sd.path}: cannot tell the source format from its keys (first: "
                     f"{', '.join(keys[:5])}); pass format= one of {', '.join(FORMATS)}")


def describe_family(sd: StateDict, fmt: str) -> str:
    """The jaxar families a file of format ``fmt`` can feed, narrowed by its keys."""
    keys = sd.tensors
    if fmt in ("pytorchvideo",) or any(k.startswith("backbone.conv1_s") for k in keys):
        return "x3d"
    if fmt == "jaxar-torch":
        return "x3d_ugt"
    if any(".features.0.0." in f".{k}" for k in keys):
        return "tsm_mobilenetv2"
    if fmt in ("torchvision", "timm"):                  # an ImageNet ResNet: EAN's backbone too
        return "tsm_resnet / arc_tsm_resnet / ean (bottleneck files: ean_r50*)"
    return "tsm_resnet / arc_tsm_resnet"
