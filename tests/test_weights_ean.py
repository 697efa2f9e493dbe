"""EAN starts from an ImageNet ResNet-50 (torchvision / timm names), as the paper does.

A narrow torchvision-layout bottleneck ResNet is built in PyTorch
(``tests/weights_torch_nets.py`` with the shift disabled: a plain per-frame
ResNet), its BN statistics and affines randomised, saved as a torchvision
``.pth`` / timm ``.safetensors`` file and imported into a narrow EAN. With the
baseline's ME and temporal conv switched off, EAN's backbone *is* that ResNet
(TSN average of per-frame logits = fc of the clip-average feature), and the
EAB / SOI-Tr start as identities, so the imported network must compute the
PyTorch logits. EAN's own modules keep their initialisation and are reported
as such. The full-size map is checked against the recorded names/shapes of the
published torchvision ResNet-50 file.
"""
from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="the source network is built in PyTorch, a test-only dependency "
                    "(pip install -r requirements-bench.txt)")

from tests import weights_torch_nets as tn  # noqa: E402
from jaxar.initialization import init_variables  # noqa: E402
from jaxar.registry import create_config  # noqa: E402
from jaxar.weights import import_state_dict, import_weights, merge  # noqa: E402
from jaxar.weights.readers import StateDict, write_state_dict  # noqa: E402
from jaxar.weights.resnet import ean_extra  # noqa: E402

CLASSES = 5
NARROW = dict(depths=(1, 2, 1, 1), widths=(4, 8, 8, 16), stem_width=16, frames=4, size=32,
              num_classes=CLASSES, dropout=0.0, soitr_heads=4, me_reduction=4)
PLAIN = dict(motion_excitation=False, temporal_conv=False)


def ean_cfg(variant="ean_r50", **kw):
    return create_config(variant, **{**NARROW, **kw})


def torch_resnet(cfg, seed=0):
    """torchvision-named bottleneck ResNet of ``cfg``'s widths, no temporal shift."""
    torch.manual_seed(seed)
    net = tn.TSMResNet("bottleneck", cfg.depths, cfg.widths, cfg.stem_width, CLASSES, cfg.frames,
                       shift_div=10 ** 6)                       # fold = C // div = 0: no shift
    return tn.randomise(net, seed)


def clips(cfg, seed=0):
    return np.random.default_rng(seed).normal(size=(2, *cfg.input_shape)).astype(np.float32)


def run(cfg, imported, x):
    model = cfg.build()
    v = merge(init_variables(model, jax.random.PRNGKey(1), jnp.asarray(x[:1])), imported)
    return np.asarray(jax.jit(lambda v, x: model.apply(v, x, train=False))(v, jnp.asarray(x))), v


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_plain_backbone_computes_the_torchvision_logits(tmp_path):
    cfg = ean_cfg("ean_r50_base", **PLAIN)
    net = torch_resnet(cfg)
    x = clips(cfg)
    with torch.no_grad():
        want = net(tn.clips_to_frames(x)).numpy()
    path = tmp_path / "resnet50.pth"
    torch.save(net.state_dict(), path)
    imp = import_weights(path, cfg)
    r = imp.report
    assert r.format == "torchvision (auto-detected)" and not r.errors and not r.kept_init
    assert r.head.startswith("classifier kept")
    got, v = run(cfg, imp, x)
    print(f"ean_r50_base (no ME/temporal conv) <- torchvision: max rel logit error {rel_err(got, want):.2e}")
    assert rel_err(got, want) <= 1e-4
    # the stem conv lands as HWIO and the 1x1 convs as DHWIO (1, 1, 1, I, O)
    np.testing.assert_array_equal(v["params"]["conv1"]["kernel"],
                                  net.conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(v["params"]["layer2"]["block1"]["conv3"]["kernel"][0, 0, 0],
                                  net.layer2[1].conv3.weight.detach().numpy()[:, :, 0, 0].T)
    np.testing.assert_array_equal(v["batch_stats"]["layer3"]["block0"]["downsample_bn"]["var"],
                                  net.layer3[0].downsample[1].running_var.numpy())


def test_stem_conv_output_equals_torch(tmp_path):
    """The imported stem (conv1 + bn1 + ReLU + max-pool) on one frame equals torch's."""
    cfg = ean_cfg("ean_r50")
    net = torch_resnet(cfg)
    torch.save(net.state_dict(), tmp_path / "r50.pth")
    imp = import_weights(tmp_path / "r50.pth", cfg)
    x = clips(cfg)
    p, s = imp.variables["params"], imp.variables["batch_stats"]
    y = jax.lax.conv_general_dilated(jnp.asarray(x[:, 0]), p["conv1"]["kernel"], (2, 2), ((3, 3), (3, 3)),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    y = (y - s["bn1"]["mean"]) / np.sqrt(s["bn1"]["var"] + 1e-5) * p["bn1"]["scale"] + p["bn1"]["bias"]
    with torch.no_grad():
        frames = torch.from_numpy(np.ascontiguousarray(x[:, 0].transpose(0, 3, 1, 2)))
        want = torch.relu(net.bn1(net.conv1(frames))).numpy().transpose(0, 2, 3, 1)
    assert rel_err(np.maximum(np.asarray(y), 0), want) <= 1e-5


def test_ean_modules_keep_their_init_and_start_as_the_imported_resnet(tmp_path):
    """EAB and SOI-Tr (identities at init) on the imported plain backbone: the network
    is still the PyTorch ResNet. With the paper's ME and temporal conv too, every
    EAN-only leaf is reported as kept and the backbone leaves are the file's."""
    cfg = ean_cfg("ean_r50", **PLAIN)
    net = torch_resnet(cfg)
    x = clips(cfg)
    with torch.no_grad():
        want = net(tn.clips_to_frames(x)).numpy()
    path = tmp_path / "model.safetensors"                          # timm's hub layout
    write_state_dict({k: t.numpy() for k, t in net.state_dict().items()}, path)
    imp = import_weights(path, cfg)
    assert imp.report.format == "timm (auto-detected)" and not imp.report.errors
    kept = imp.report.kept_init
    assert kept and all(p.split("/")[1] in ("eab1", "eab2", "eab3", "eab4", "soitr") for p in kept)
    got, _ = run(cfg, imp, x)
    print(f"ean_r50 (no ME/temporal conv) <- timm: max rel logit error {rel_err(got, want):.2e}")
    assert rel_err(got, want) <= 1e-4

    full = ean_cfg("ean_r50", num_classes=3)                     # ME + temporal conv, other classes
    imp = import_weights(path, full)
    r = imp.report
    assert r.head.startswith("classifier re-initialised: the file has 5 classes, the model 3")
    shapes = jax.eval_shape(lambda: full.build().init(jax.random.PRNGKey(0), jnp.zeros((1, *full.input_shape))))
    leaves = ["/".join(str(getattr(k, "key", k)) for k in path)
              for path, _ in jax.tree_util.tree_leaves_with_path(shapes)]
    own = [p for p in leaves if ean_extra(tuple(p.split("/")))]
    assert any("/me/" in p for p in own) and any("/t_conv/" in p for p in own)
    assert sorted(r.kept_init) == sorted(own + ["params/fc/kernel", "params/fc/bias"])
    assert len(r.loaded) + len(r.kept_init) == len(leaves)
    got_full, v = run(full, imp, x)
    assert np.all(np.isfinite(got_full))
    np.testing.assert_array_equal(v["params"]["layer1"]["block0"]["conv2"]["kernel"],
                                  net.layer1[0].conv2.weight.detach().numpy().transpose(2, 3, 1, 0))


def test_only_imagenet_formats_feed_ean(tmp_path):
    cfg = ean_cfg("ean_r50")
    state = {"backbone." + k: t for k, t in torch_resnet(cfg).state_dict().items()}
    torch.save({"state_dict": state}, tmp_path / "tsm_mmaction2.pth")
    with pytest.raises(ValueError, match="format 'mmaction2' does not map to family 'ean'"):
        import_weights(tmp_path / "tsm_mmaction2.pth", cfg)


def test_optimizer_groups_label_ean_modules_new():
    """init.backbone_lr_mult scales the imported backbone only: fc is the head and
    EAN's own modules (no file has them) are 'new'."""
    from jaxar.train.init_from import param_labels
    cfg = ean_cfg("ean_r50_lmc", frames=8, segment_frames=2, lmc_patch=16, lmc_latent=16, lmc_groups=4)
    shapes = jax.eval_shape(lambda: cfg.build().init(jax.random.PRNGKey(0), jnp.zeros((1, *cfg.input_shape))))
    labels = param_labels(shapes["params"], cfg)
    assert labels["fc"]["kernel"] == "head"
    assert labels["conv1"]["kernel"] == "backbone" and labels["layer4"]["block0"]["bn3"]["scale"] == "backbone"
    assert labels["layer1"]["block0"]["me"]["conv1"]["kernel"] == "new"
    assert labels["layer1"]["block0"]["t_conv"]["kernel"] == "new"
    assert all(v == "new" for k in ("eab1", "eab4", "soitr", "lmc") for v in jax.tree.leaves(labels[k]))


def test_full_size_ean_r50_takes_every_tensor_of_the_published_resnet50():
    """Names and shapes of torchvision's resnet50-*.pth (recorded fixture; zeros,
    no download) fit the full-size ean_r50 (eval_shape only): all 265 backbone tensors land."""
    doc = json.loads((Path(__file__).resolve().parent / "fixtures" / "weights"
                      / "torchvision_resnet50.json").read_text())
    sd = StateDict({k: np.zeros(s, np.float32) for k, s in doc["keys"].items()}, None,
                   Path("resnet50-11ad3fa6.pth"), "torch")
    imp = import_state_dict(sd, create_config("ean_r50", num_classes=174))
    r = imp.report
    assert not r.errors and r.format == "torchvision (auto-detected)"
    assert r.head.startswith("classifier re-initialised: the file has 1000 classes, the model 174")
    counted = [k for k in doc["keys"] if not k.endswith("num_batches_tracked") and not k.startswith("fc.")]
    assert sorted(s for s, _ in r.loaded) == sorted(counted)
    assert imp.leaves[("params", "layer1", "block0", "conv1", "kernel")].shape == (1, 1, 1, 64, 64)
    assert {p.split("/")[1] for p in r.kept_init} == {"layer1", "layer2", "layer3", "layer4", "eab1",
                                                      "eab2", "eab3", "eab4", "soitr", "fc"}
