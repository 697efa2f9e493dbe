"""X3D (PyTorchVideo, MMAction2) and TSM-MobileNetV2 (torchvision, TSM authors)
checkpoints load into jaxar and compute the same logits.

Each source network is built in PyTorch at a tiny size with the published module
names (``tests/weights_torch_nets.py``), its BN statistics and affines randomised,
saved in the source's file format, imported with :func:`jaxar.weights.import_weights`
and run by jaxar: eval logits agree with PyTorch's to <= 1e-4 relative (the
failure cases are in ``tests/test_weights_resnet.py``).
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip(
    "torch", reason="the source networks are built in PyTorch, a test-only dependency "
                    "(pip install -r requirements-bench.txt)")

from tests import weights_torch_nets as tn  # noqa: E402
from jaxar.registry import create_config  # noqa: E402
from tests.weights_compare import CLASSES, clips, import_and_compare, torch_logits  # noqa: E402

MBV2 = dict(stem_width=8, blocks=((1, 12, 1, 1), (6, 16, 2, 2), (6, 16, 1, 1)), last_width=24)


@pytest.mark.parametrize("fmt", ["torchvision", "tsm"])
def test_mobilenetv2_sources_compute_the_pytorch_logits(fmt, tmp_path):
    cfg = create_config("tsm_mobilenetv2", num_classes=CLASSES, frames=4, size=32, impl="lowered",
                        dropout=0.0, **MBV2)
    torch.manual_seed(1)
    net = tn.randomise(tn.TSMMobileNetV2(cfg), 1)
    x = clips(cfg)
    want = torch_logits(net, tn.clips_to_frames(x))
    if fmt == "torchvision":
        path = tmp_path / "mobilenet_v2.pth"
        torch.save(net.state_dict(), path)
    else:
        path = tmp_path / "TSM_mobilenetv2.pth.tar"
        torch.save({"state_dict": tn.to_tsm_mobilenetv2(net.state_dict(), cfg)}, path)
    imp = import_and_compare(path, cfg, fmt, x, want, f"tsm_mobilenetv2 <- {fmt}")
    assert imp.report.head.startswith("classifier kept")


@pytest.mark.parametrize("fmt", ["pytorchvideo", "mmaction2"])
def test_x3d_sources_compute_the_pytorch_logits(fmt, tmp_path):
    cfg = create_config("x3d_s").small(num_classes=CLASSES, impl="lowered", dropout=0.0,
                                       stride_shortcut_bn=fmt == "mmaction2")
    torch.manual_seed(2)
    net = tn.randomise(tn.X3D(cfg), 2)
    x = clips(cfg)
    want = torch_logits(net, tn.clips_to_ncthw(x))
    if fmt == "pytorchvideo":
        path = tmp_path / "X3D_S.pyth"
        torch.save({"model_state": net.state_dict(), "epoch": 300}, path)
    else:
        path = tmp_path / "x3d_s_mmaction2.pth"
        torch.save({"meta": {}, "state_dict": tn.to_mmaction2_x3d(net.state_dict())}, path)
    imp = import_and_compare(path, cfg, fmt, x, want, f"x3d <- {fmt}")
    assert not imp.report.kept_init


