"""The key maps at full size against the names and shapes of the published files.

``tests/fixtures/weights/*.json`` record every tensor name and shape of the
published checkpoints (torchvision ResNet-18/50 and MobileNetV2, timm's ResNet
(same names), MMAction2's TSM-R50 and X3D-S, the TSM authors' R50 and
MobileNetV2, PyTorchVideo's X3D-S; see ``make_fixtures.py`` there, which checks
the published parameter counts). Each file's tensors (zeros of the recorded
shapes; no torch needed) must import into the full-size jaxar variant with
nothing missing, unexpected or mis-shaped, the format auto-detected and the
classifier kept; with another class count the classifier is re-initialised.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jaxar.registry import create_config
from jaxar.weights import import_state_dict
from jaxar.weights.readers import StateDict

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "weights"

CASES = [  # fixture, suffix, container, variant, overrides, expected format
    ("torchvision_resnet18", ".pth", None, "tsm_resnet18", {}, "torchvision"),
    ("torchvision_resnet18", ".pth", None, "arc_tsm_resnet18", {}, "torchvision"),
    ("torchvision_resnet50", ".safetensors", None, "tsm_resnet50", {}, "timm"),
    ("mmaction2_tsm_r50_kinetics400", ".pth", "state_dict", "tsm_resnet50", {}, "mmaction2"),
    ("tsm_authors_r50_kinetics400", ".pth", "state_dict", "arc_tsm_resnet50", {}, "tsm"),
    ("torchvision_mobilenet_v2", ".pth", None, "tsm_mobilenetv2", {}, "torchvision"),
    ("tsm_authors_mobilenetv2_kinetics400", ".pth", "state_dict", "tsm_mobilenetv2", {}, "tsm"),
    ("pytorchvideo_x3d_s", ".pyth", "model_state", "x3d_s", {}, "pytorchvideo"),
    ("pytorchvideo_x3d_s", ".pyth", "model_state", "x3d_m", {}, "pytorchvideo"),
    ("mmaction2_x3d_s", ".pth", "state_dict", "x3d_s", {"stride_shortcut_bn": True}, "mmaction2"),
]


def fixture_state(name: str, suffix: str, container):
    doc = json.loads((FIXTURES / f"{name}.json").read_text())
    tensors = {k: np.zeros(shape, np.float32) for k, shape in doc["keys"].items()}
    return doc, StateDict(tensors, container, Path(f"{name}{suffix}"),
                          "safetensors" if suffix == ".safetensors" else "torch")


@pytest.mark.parametrize("name, suffix, container, variant, overrides, fmt", CASES,
                         ids=[f"{c[0]}->{c[3]}" for c in CASES])
def test_published_file_fits_the_full_size_variant(name, suffix, container, variant, overrides, fmt):
    doc, sd = fixture_state(name, suffix, container)
    cfg = create_config(variant, num_classes=doc["classes"], **overrides)
    imp = import_state_dict(sd, cfg)
    r = imp.report
    assert r.format == f"{fmt} (auto-detected)" and not r.errors
    assert r.head.startswith(f"classifier kept from the file ({doc['classes']} classes)")
    counted = [k for k in doc["keys"] if not k.endswith("num_batches_tracked")]
    assert len(r.loaded) == len(counted) and sorted(s for s, _ in r.loaded) == sorted(counted)
    assert sorted(r.ignored) == sorted(k for k in doc["keys"] if k.endswith("num_batches_tracked"))
    if variant.startswith("arc"):
        assert r.kept_init and all(p.rsplit("/", 1)[1] in ("embed", "attention", "fusion") for p in r.kept_init)
    else:
        assert not r.kept_init


def test_ntu_class_count_reinitialises_the_kinetics_head():
    doc, sd = fixture_state("pytorchvideo_x3d_s", ".pyth", "model_state")
    imp = import_state_dict(sd, create_config("x3d_s", num_classes=60))
    assert imp.report.head.startswith("classifier re-initialised: the file has 400 classes, the model 60")
    assert imp.report.kept_init == ["params/head/classifier/kernel", "params/head/classifier/bias"]


def test_mmaction2_x3d_needs_the_shortcut_bn_setting():
    _, sd = fixture_state("mmaction2_x3d_s", ".pth", "state_dict")
    with pytest.raises(ValueError, match="stride_shortcut_bn=True"):
        import_state_dict(sd, create_config("x3d_s", num_classes=400))


def test_resnet_map_serves_another_family_through_its_target_names():
    """The ResNet map is reusable (e.g. for a ResNet-50-based EAN backbone): the
    same torchvision tensors map onto other jaxar names given as a ResNetTarget."""
    from jaxar.weights.keymap import ImportReport, apply_entries, to_jaxar
    from jaxar.weights.resnet import ResNetTarget, resnet_entries
    doc, sd = fixture_state("torchvision_resnet50", ".pth", None)
    target = ResNetTarget(stem_conv="backbone/conv1", stem_bn="backbone/bn1",
                          conv="backbone/layer{s}/{b}/conv{i}", bn="backbone/layer{s}/{b}/bn{i}",
                          down_conv="backbone/layer{s}/{b}/down", down_bn="backbone/layer{s}/{b}/down_bn",
                          head=None)
    entries = resnet_entries("torchvision", "bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), 64,
                             shifted=False, target=target)
    # the other family's leaves: the converted shapes (a real family passes its eval_shape tree)
    shapes = {e.dst: to_jaxar(e.layout, sd.tensors[e.src]).shape for e in entries}
    tensors = {k: v for k, v in sd.tensors.items() if not k.startswith("fc.")}
    report = ImportReport("resnet50.pth", "torchvision", "ean-like")
    out = apply_entries(tensors, entries, shapes, report)
    assert out[("params", "backbone", "layer4", "2", "conv2", "kernel")].shape == (3, 3, 512, 512)
    assert out[("batch_stats", "backbone", "layer1", "0", "down_bn", "var")].shape == (256,)
