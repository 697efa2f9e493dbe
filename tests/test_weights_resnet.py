"""ResNet checkpoints (torchvision, timm, MMAction2 TSM, TSM authors) load into
TSM-ResNet / ARC-TSM-ResNet and compute the same logits; errors name every key.

Each source network is built in PyTorch at a tiny size with the published module
names (``tests/weights_torch_nets.py``), its BN statistics and affines randomised,
saved in the source's file format, imported with :func:`jaxar.weights.import_weights`
and run by jaxar: eval logits agree with PyTorch's to <= 1e-4 relative. A spatially
transposed kernel, a missing, an unexpected or a mis-shaped key all fail.
"""
from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="the source networks are built in PyTorch, a test-only dependency "
                    "(pip install -r requirements-bench.txt)")

from tests import weights_torch_nets as tn  # noqa: E402
from jaxar.initialization import init_variables  # noqa: E402
from jaxar.registry import create_config  # noqa: E402
from jaxar.weights import (TorchMissingError, WeightImportError, import_weights, merge,  # noqa: E402
                           read_state_dict)
from jaxar.weights.readers import write_state_dict  # noqa: E402
from tests.weights_compare import (CLASSES, RTOL, clips, import_and_compare, logit_error,  # noqa: E402
                                   torch_logits)

RESNET = {"basic": dict(variant="tsm_resnet18", stem_width=8, widths=(8, 16), depths=(2, 1)),
          "bottleneck": dict(variant="tsm_resnet50", stem_width=8, widths=(4, 8), depths=(1, 2))}


def resnet_cfg(block, **kw):
    spec = dict(RESNET[block])
    variant = kw.pop("variant", spec.pop("variant"))
    spec.pop("variant", None)
    return create_config(variant, **{"num_classes": CLASSES, "frames": 4, "size": 32, "impl": "lowered",
                                     "dropout": 0.0, **spec, **kw})


def torch_resnet(cfg, seed=0):
    torch.manual_seed(seed)
    net = tn.TSMResNet(cfg.block, cfg.depths, cfg.widths, cfg.stem_width, CLASSES, cfg.frames, cfg.shift_div)
    return tn.randomise(net, seed)


def save(fmt, state, tmp_path):
    """``state`` (torchvision names) saved the way ``fmt`` publishes its files."""
    if fmt == "timm":                      # timm's hub files: safetensors, torchvision names
        path = tmp_path / "model.safetensors"
        write_state_dict({k: v.numpy() for k, v in state.items()}, path)
    elif fmt == "torchvision":
        path = tmp_path / "resnet.pth"
        torch.save(state, path)
    elif fmt == "mmaction2":
        path = tmp_path / "tsm_mmaction2.pth"
        torch.save({"meta": {"epoch": 50}, "state_dict": tn.to_mmaction2_resnet(state)}, path)
    else:                                  # tsm authors: a .pth.tar with best_prec1 etc.
        path = tmp_path / "TSM_kinetics_RGB.pth.tar"
        torch.save({"epoch": 50, "best_prec1": 71.2, "state_dict": tn.to_tsm_resnet(state)}, path)
    return path


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_resnet_sources_compute_the_pytorch_logits(block, tmp_path):
    cfg = resnet_cfg(block)
    net = torch_resnet(cfg)
    x = clips(cfg)
    want = torch_logits(net, tn.clips_to_frames(x))
    for fmt in ("torchvision", "timm", "mmaction2", "tsm"):
        path = save(fmt, net.state_dict(), tmp_path)
        imp = import_and_compare(path, cfg, fmt, x, want, f"tsm_resnet {block} <- {fmt}")
        assert imp.report.head.startswith("classifier kept")
        assert not imp.report.kept_init and not imp.report.errors
        assert all(k.endswith("num_batches_tracked") for k in imp.report.ignored) and imp.report.ignored


def test_transposed_kernel_fails_the_comparison(tmp_path):
    """Same shapes, wrong layout: kernels with H and W swapped (what an OIHW -> HWIO
    conversion that mixes up the spatial axes gives) import without complaint but
    no longer compute the source network's logits."""
    cfg = resnet_cfg("basic")
    net = torch_resnet(cfg)
    x = clips(cfg)
    want = torch_logits(net, tn.clips_to_frames(x))
    state = dict(net.state_dict())
    for k, w in state.items():
        if w.ndim == 4 and w.shape[-1] > 1:
            state[k] = w.transpose(2, 3).contiguous()
    err = logit_error(cfg, import_weights(save("torchvision", state, tmp_path), cfg), x, want,
                         "transposed kernels")
    assert err > 10 * RTOL


def test_head_reinitialised_when_classes_differ_and_backbone_identical(tmp_path):
    cfg = resnet_cfg("basic")
    net = torch_resnet(cfg)
    path = save("torchvision", net.state_dict(), tmp_path)
    imp = import_weights(path, cfg.replace(num_classes=3))
    assert imp.report.head.startswith("classifier re-initialised: the file has 5 classes, the model 3")
    assert imp.report.kept_init == ["params/head/fc/kernel", "params/head/fc/bias"]
    k = imp.variables["params"]["stage1"]["block0"]["conv1"]["kernel"]
    np.testing.assert_array_equal(k, net.layer1[0].conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
    m = imp.variables["batch_stats"]["stem_bn"]["var"]
    np.testing.assert_array_equal(m, net.bn1.running_var.numpy())


def test_arc_keeps_its_own_parameters_and_one_step_arc_is_the_pretrained_net(tmp_path):
    """ARC-TSM-ResNet reads the same files; We/Wa/Wf keep their initialisation
    (We = Wf = 0). With steps=1 an ARC conv is its plain conv, so the imported
    network computes the pretrained one exactly."""
    base = resnet_cfg("basic")
    net = torch_resnet(base)
    x = clips(base)
    want = torch_logits(net, tn.clips_to_frames(x))
    path = save("tsm", net.state_dict(), tmp_path)
    one = resnet_cfg("basic", variant="arc_tsm_resnet18", steps=1)
    imp = import_weights(path, one)
    assert imp.report.kept_init and all(p.rsplit("/", 1)[1] in ("embed", "attention", "fusion")
                                        for p in imp.report.kept_init)
    err = logit_error(one, imp, x, want, "arc_tsm_resnet18 (steps=1) <- tsm")
    assert err <= RTOL
    four = resnet_cfg("basic", variant="arc_tsm_resnet18", steps=4, depths=(1,), widths=(8,))
    net4 = torch_resnet(four)
    imp4 = import_weights(save("torchvision", net4.state_dict(), tmp_path), four)
    v4 = merge(init_variables(four.build(), jax.random.PRNGKey(0), jnp.asarray(clips(four)[:1])), imp4)
    stem = v4["params"]["stem"]
    assert not np.any(np.asarray(stem["embed"])) and not np.any(np.asarray(stem["fusion"]))
    np.testing.assert_array_equal(np.asarray(stem["kernel"]), net4.conv1.weight.detach().numpy().transpose(2, 3, 1, 0))


def test_every_problem_is_reported_by_name(tmp_path):
    cfg = resnet_cfg("basic")
    state = dict(torch_resnet(cfg).state_dict())
    del state["layer2.0.bn1.running_var"]
    state["layer9.0.conv1.weight"] = torch.zeros(3, 3, 3, 3)
    state["layer1.0.conv2.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(WeightImportError) as e:
        import_weights(save("torchvision", state, tmp_path), cfg)
    msg = str(e.value)
    assert "missing in file: layer2.0.bn1.running_var (for batch_stats/stage2/block0/bn1/var)" in msg
    assert "unexpected in file: layer9.0.conv1.weight (3, 3, 3, 3)" in msg
    assert "shape mismatch: layer1.0.conv2.weight (8, 8, 5, 5) -> params/stage1/block0/conv2/kernel" in msg
    deeper = resnet_cfg("basic", depths=(2, 2))
    with pytest.raises(WeightImportError, match="missing in file: layer2.1.conv1.weight"):
        import_weights(save("torchvision", torch_resnet(cfg).state_dict(), tmp_path), deeper)


def test_format_and_family_must_agree(tmp_path):
    cfg = resnet_cfg("basic")
    path = save("torchvision", torch_resnet(cfg).state_dict(), tmp_path)
    x3d = create_config("x3d_s").small()
    with pytest.raises(ValueError, match="format 'torchvision' does not map to family 'x3d'"):
        import_weights(path, x3d)
    with pytest.raises(ValueError, match="unknown weight format 'caffe'"):
        import_weights(path, cfg, "caffe")
    imp = import_weights(path, cfg, "torchvision")
    assert imp.report.format == "torchvision"


def test_torch_files_without_torch_name_the_extra(tmp_path, monkeypatch):
    cfg = resnet_cfg("basic")
    path = save("torchvision", torch_resnet(cfg).state_dict(), tmp_path)
    monkeypatch.setitem(sys.modules, "torch", None)          # import torch -> ImportError
    with pytest.raises(TorchMissingError, match=r"pip install 'jaxar\[torch\]'"):
        read_state_dict(path)
    st = tmp_path / "m.safetensors"                          # safetensors needs no torch
    write_state_dict({"fc.weight": np.ones((2, 3), np.float32)}, st)
    assert read_state_dict(st).tensors["fc.weight"].shape == (2, 3)
