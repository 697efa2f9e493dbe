"""X3D (PyTorchVideo, MMAction2) and TSM-MobileNetV2 (torchvision, TSM authors)
checkpoints load into jaxar and compute the same logits.

Each source network is built in PyTorch at a tiny size with the published module
names (``tests/weights_torch_nets.py``), its BN statistics and affines randomised,
saved in the source's file format, imported with :func:`jaxar.weights.import_weights`
and run by jaxar: eval logits agree with PyTorch's to <= 1e-4 relative (the
failure cases are in ``tests/test_weights_resnet.py``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="the source networks are built in PyTorch, a test-only dependency "
                    "(pip install -r requirements-bench.txt)")

from tests import weights_torch_nets as tn  # noqa: E402
from jaxar.initialization import fast_compile_options, init_variables  # noqa: E402
from jaxar.registry import create_config  # noqa: E402
from jaxar.weights import import_weights, merge  # noqa: E402

RTOL = 1e-4
CLASSES = 5
_APPLY = {}


def jax_logits(cfg, imported, x):
    """Logits of ``cfg``'s model with the imported variables (merged into a fresh
    init when some leaves keep their initialisation)."""
    model = cfg.build()
    if imported.report.kept_init:
        v = merge(init_variables(model, jax.random.PRNGKey(0), jnp.asarray(x[:1])), imported)
    else:                                  # every leaf imported: no init needed
        v = imported.variables
    key = repr(cfg)
    if key not in _APPLY:
        _APPLY[key] = jax.jit(lambda v, x: model.apply(v, x, train=False),
                              compiler_options=fast_compile_options())
    return np.asarray(_APPLY[key](v, jnp.asarray(x))), v


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def clips(cfg, seed=0):
    return np.random.default_rng(seed).normal(size=(2, *cfg.input_shape)).astype(np.float32)


def torch_logits(net, x):
    with torch.no_grad():
        return net(x).numpy()


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
    imp = import_weights(path, cfg)
    assert imp.report.format == f"{fmt} (auto-detected)" and imp.report.head.startswith("classifier kept")
    got, _ = jax_logits(cfg, imp, x)
    print(f"tsm_mobilenetv2 <- {fmt}: max rel logit error {rel_err(got, want):.2e}")
    assert rel_err(got, want) <= RTOL


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
    imp = import_weights(path, cfg)
    assert imp.report.format == f"{fmt} (auto-detected)" and not imp.report.kept_init
    got, _ = jax_logits(cfg, imp, x)
    print(f"x3d <- {fmt}: max rel logit error {rel_err(got, want):.2e}")
    assert rel_err(got, want) <= RTOL


