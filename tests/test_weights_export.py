"""X3D-UGT <-> the project's PyTorch reference: import, reverse export, round trip.

The reference network (``jaxar/weights/torch_x3d_ugt.py``) with randomised BN statistics and a TAda
gate far from 1 is saved as a state dict; jaxar imports it (format
``jaxar-torch``) and computes the same logits; ``python -m jaxar.weights
to-torch`` on a jaxar checkpoint of those variables writes a state dict that
loads into a fresh reference with ``strict=True`` and gives the same logits;
export(import(file)) reproduces the file tensor for tensor.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="the PyTorch reference is a test/benchmark-only dependency "
                    "(pip install -r requirements-bench.txt)")

from tests import weights_torch_nets as tn  # noqa: E402
from jaxar.weights import torch_x3d_ugt as ref  # noqa: E402
from jaxar.checkpoint import Checkpointer  # noqa: E402
from jaxar.registry import config_to_json  # noqa: E402
from jaxar.registry import create_config  # noqa: E402
from jaxar.weights import import_weights  # noqa: E402
from jaxar.weights.__main__ import main as weights_cli  # noqa: E402
from jaxar.weights.readers import read_state_dict  # noqa: E402
from jaxar.weights.x3d_ugt import export_state_dict  # noqa: E402
from tests.weights_compare import RTOL, clips, import_and_compare, rel_err  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Config, the randomised reference, its saved state dict, an input batch, its logits."""
    cfg = create_config("x3d_ugt_tiny", num_classes=6, frames=4, size=16, impl="lowered", dropout=0.0,
                        widths=(8, 16), depths=(1, 1), strides=(1, 2), tada_stages=(2,),
                        se_stages=(2,), simam_stages=(2,))
    torch.manual_seed(0)
    net = tn.randomise(ref.X3DUGT(cfg), 0)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, ref.TAdaGate):
                m.beta.fill_(1.0)
    path = tmp_path_factory.mktemp("ugt") / "x3d_ugt.pt"
    torch.save(net.state_dict(), path)
    x = clips(cfg)
    with torch.no_grad():
        want = net(tn.clips_to_ncthw(x)).numpy()
    return cfg, net, path, x, want


def test_reference_state_dict_imports_and_exports_back_exactly(source):
    cfg, net, path, x, want = source
    imp = import_and_compare(path, cfg, "jaxar-torch", x, want, "x3d_ugt <- reference state dict")
    assert not imp.report.kept_init
    back = export_state_dict(imp.variables)
    sd = net.state_dict()
    assert set(back) == set(sd)
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        np.testing.assert_array_equal(back[k], v.numpy(), err_msg=k)


def test_to_torch_cli_round_trip_from_a_checkpoint(source, tmp_path, capsys):
    cfg, net, path, x, want = source
    variables = import_weights(path, cfg).variables
    ckpt = Checkpointer(tmp_path / "run", keep=1, async_save=False)
    ckpt.save(3, jax.tree.map(jnp.asarray, variables),
              {"step": 3, "model_config": config_to_json(cfg), "class_names": list("abcdef")})
    ckpt.close()
    out = tmp_path / "model.pt"
    assert weights_cli(["to-torch", "--checkpoint", str(tmp_path / "run"), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    fresh = ref.X3DUGT(cfg).eval()
    fresh.load_state_dict(torch.load(out, weights_only=True), strict=True)
    with torch.no_grad():
        got = fresh(tn.clips_to_ncthw(x)).numpy()
    print(f"x3d_ugt -> to-torch -> reference: max rel logit error {rel_err(got, want):.2e}")
    assert rel_err(got, want) <= RTOL
    st = tmp_path / "model.safetensors"                   # the torch-free output format
    assert weights_cli(["to-torch", "--checkpoint", str(tmp_path / "run"), "--out", str(st)]) == 0
    a, b = read_state_dict(st).tensors, read_state_dict(out).tensors
    assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_inspect_names_format_family_and_report(source, capsys):
    cfg, _, path, _, _ = source
    assert weights_cli(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format: jaxar-torch (auto-detected); maps to: x3d_ugt" in out
    assert weights_cli(["inspect", str(path), "--variant", "x3d_ugt_tiny"]) == 2   # 4 stages, not 2
    err = capsys.readouterr().err
    assert "missing in file: stage3.block0.dw_temporal.weight" in err
    assert "shape mismatch: head_proj.primary.weight (32, 16, 1, 1, 1)" in err
