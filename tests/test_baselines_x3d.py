"""X3D-XS/S/M: full-size counts (shape tracing only), structure, the depthwise
3-D conv against a direct loop, and per variant at tiny shapes: init, forward,
finite gradients, deploy form == training form, ONNX checker + TensorRT
allow-list + ONNX Runtime parity."""
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import optax
import pytest

from export.allowlist import validate_for_tensorrt
from export.onnx_jax2onnx import export_jax2onnx
from export.parity import compare
from export.runtimes import OrtRunner
from jaxar.deploy import DeployModel
from jaxar.deploy.demo_variables import realistic_variables
from jaxar.initialization import init_variables
from jaxar.models.x3d import X3DConfig, depthwise3d
from jaxar.profile import init_shapes, profile
from jaxar.registry import create_config, list_variants
from tests.conftest import ROOT

VARIANTS = ("x3d_xs", "x3d_s", "x3d_m")
# Targets at 400 classes: parameters incl. BN affines; multiply-adds of convs and linear layers.
TARGET_PARAMS = 3_794_274
TARGET_GMACS = {"x3d_xs": 0.604, "x3d_s": 1.962, "x3d_m": 4.732}
PAPER_INPUT = {"x3d_xs": (4, 160), "x3d_s": (13, 160), "x3d_m": (16, 224)}


def tiny(name, frames=4):
    """Narrow and shallow, keeping the block rules (stride and projection
    shortcut in first blocks, SE on block 0 but not block 1 of stage 1)."""
    return create_config(name).replace(num_classes=7, frames=frames, size=32, stem_width=8,
                                       widths=(8, 16, 16, 24), depths=(2, 1, 1, 1),
                                       head_width=32, head_hidden=48)


def test_variants_registered_with_paper_inputs():
    assert set(VARIANTS) <= set(list_variants("x3d"))
    assert not set(VARIANTS) & set(list_variants("x3d_ugt"))
    for name, (t, s) in PAPER_INPUT.items():
        cfg = create_config(name)
        assert isinstance(cfg, X3DConfig) and cfg.input_shape == (t, s, s, 3)


@pytest.mark.parametrize("name", VARIANTS)
def test_full_size_counts_meet_targets(name):
    prof = profile(create_config(name, num_classes=400))
    assert prof.input_shape == (1, *create_config(name).input_shape)
    assert prof.params == TARGET_PARAMS                 # PyTorchVideo's count, exactly (0.5 % allowed)
    assert abs(prof.macs / 1e9 / TARGET_GMACS[name] - 1) <= 0.02, prof.macs
    assert [r["name"] for r in prof.rows] == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert all(r["macs"] > 0 and r["params"] > 0 for r in prof.rows)


def test_full_size_structure():
    """Depths 3/5/11/7, SE exactly on blocks 0, 2, 4, ..., projection shortcut only
    in the first block of a stage, params without BN about 3.76 M; SlowFast's
    BN on the stride-only shortcut adds one 24-channel BN."""
    cfg = create_config("x3d_xs", num_classes=400)
    v, _ = init_shapes(cfg)
    p = v["params"]
    se_hidden = {1: 8, 2: 8, 3: 16, 4: 32}               # make_divisible(2.25 * width / 16, 8)
    for s, depth in enumerate((3, 5, 11, 7), start=1):
        assert len(p[f"stage{s}"]) == depth
        for b in range(depth):
            blk = p[f"stage{s}"][f"block{b}"]
            assert ("se" in blk) == (b % 2 == 0), (s, b)
            if "se" in blk:
                assert blk["se"]["reduce"]["kernel"].shape == (cfg.inner(s), se_hidden[s])
            assert ("shortcut" in blk) == (b == 0), (s, b)
            # BN on the projection only where the width changes (24 -> 24 in stage 1 only strides)
            assert ("shortcut_bn" in blk) == (b == 0 and s > 1), (s, b)
            assert blk["conv_b"]["kernel"].shape == (3, 3, 3, 1, cfg.inner(s))
    assert p["stem"]["conv_t"]["kernel"].shape == (5, 24)
    assert p["head"]["hidden"]["kernel"].shape == (432, 2048) and "bias" not in p["head"]["hidden"]
    leaves = jax.tree_util.tree_leaves_with_path(p)
    no_bn = sum(int(np.prod(l.shape)) for k, l in leaves if "_bn" not in jax.tree_util.keystr(k))
    assert abs(no_bn / 3.76e6 - 1) < 0.005, no_bn
    slowfast = profile(cfg.replace(stride_shortcut_bn=True)).params
    assert slowfast - profile(cfg).params == 2 * 24


def test_summary_cli_counts_at_paper_input():
    out = subprocess.run([sys.executable, "-m", "jaxar.summary", "x3d_s", "--num-classes", "400",
                          "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["input_shape"] == [1, 13, 160, 160, 3]
    assert abs(d["macs"] / 1.962e9 - 1) <= 0.02 and abs(d["params"] / TARGET_PARAMS - 1) <= 0.005


@pytest.mark.parametrize("impl", ["lowered", "conv3d", "shifted"])
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise3d_matches_direct_loop(impl, stride):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 3, 6, 5, 4)).astype(np.float32)            # T=3, odd W
    k = rng.normal(size=(3, 3, 3, 1, 4)).astype(np.float32)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)))
    ho, wo = (6 - 1) // stride + 1, (5 - 1) // stride + 1
    ref = np.zeros((1, 3, ho, wo, 4))
    for t in range(3):
        for i in range(ho):
            for j in range(wo):
                win = xp[0, t:t + 3, i * stride:i * stride + 3, j * stride:j * stride + 3]
                ref[0, t, i, j] = np.einsum("abcd,abcd->d", win, k[..., 0, :])
    out = np.asarray(depthwise3d(jnp.asarray(x), jnp.asarray(k), stride, impl))
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_tiny_init_forward_grad():
    """One network serves all three variants (they differ only in input size,
    which the per-variant deploy test below covers); compiled once to keep CI short."""
    cfg = tiny("x3d_xs")
    model = cfg.build()
    x = jax.random.normal(jax.random.PRNGKey(1), (2, *cfg.input_shape))
    labels = jnp.array([0, 3])
    v = init_variables(model, jax.random.PRNGKey(0), x)

    def loss_fn(params):
        variables = {"params": params, "batch_stats": v["batch_stats"]}
        out, _ = model.apply(variables, x, train=True, mutable=["batch_stats"],
                             rngs={"dropout": jax.random.PRNGKey(2)})
        return optax.softmax_cross_entropy_with_integer_labels(out, labels).mean(), \
            model.apply(variables, x, train=False)

    (loss, logits), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(v["params"])
    assert logits.shape == (2, 7) and logits.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(logits))) and np.isfinite(float(loss))
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert np.all(np.isfinite(np.asarray(g))), jax.tree_util.keystr(path)
    assert float(jnp.abs(grads["head"]["classifier"]["kernel"]).max()) > 0
    # the zero-initialised last BN of each block still lets its scale learn
    assert float(jnp.abs(grads["stage1"]["block0"]["conv_c_bn"]["scale"]).max()) > 0


def test_bad_input_and_config_are_named():
    cfg = tiny("x3d_xs")
    with pytest.raises(ValueError, match="N, T, H, W, 3"):
        cfg.build().init(jax.random.PRNGKey(0), jnp.ones((1, 4, 32, 32)))
    with pytest.raises(ValueError, match="unknown X3DConfig fields"):
        cfg.replace(tada_stages=(3,))
    with pytest.raises(ValueError, match="impl"):
        cfg.replace(impl="conv2d")


def _deploy_pair(cfg, seed):
    variables = realistic_variables(cfg, seed)
    x = np.random.default_rng(seed).normal(size=(2, *cfg.input_shape)).astype(np.float32)
    ref = np.asarray(jax.jit(lambda v, x: cfg.build().apply(v, x, train=False))(variables, x))
    return variables, x, ref


@pytest.mark.parametrize("name,frames", [("x3d_xs", 4), ("x3d_s", 5), ("x3d_m", 4)])
def test_deploy_form_equals_training_form_and_exports(name, frames, tmp_path):
    cfg = tiny(name, frames)
    variables, x, ref = _deploy_pair(cfg, seed=frames)
    dm = DeployModel.from_variables(cfg, variables)
    out = np.asarray(dm.apply_channels_last(x))
    assert np.std(ref) > 0.05, "logits too flat for a meaningful comparison"
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)
    assert dm.num_params < sum(int(np.prod(l.shape)) for l in jax.tree_util.tree_leaves(variables["params"]))

    path = tmp_path / f"{name}.onnx"
    model = export_jax2onnx(dm.as_function(), (1, cfg.frames, 3, cfg.size, cfg.size), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    ops = [n.op_type for n in model.graph.node]
    assert {"GatherND", "Einsum", "Range"}.isdisjoint(ops) and ops.count("Transpose") == 1
    runner = OrtRunner(path)
    x_ntchw = np.transpose(x, (0, 1, 4, 2, 3))
    onnx_out = np.concatenate([runner(x_ntchw[i:i + 1]) for i in range(len(x))])
    row = compare(ref, onnx_out)
    assert row["passed"], row


def test_deploy_folding_errors_are_visible():
    """The equivalence above can fail: a dropped BN mean or a wrong temporal tap moves the logits."""
    cfg = tiny("x3d_xs")
    variables, x, ref = _deploy_pair(cfg, seed=1)
    stats = jax.tree_util.tree_map(np.asarray, variables)
    stats["batch_stats"]["stage2"]["block0"]["conv_b_bn"]["mean"] = \
        np.zeros_like(stats["batch_stats"]["stage2"]["block0"]["conv_b_bn"]["mean"])
    bad = np.asarray(DeployModel.from_variables(cfg, stats).apply_channels_last(x))
    assert np.abs(bad - ref).max() > 1e-3
    dm = DeployModel.from_variables(cfg, variables)
    tree = jax.tree_util.tree_map(lambda a: a, dm.params)
    w = tree["stage1"]["block1"]["dw"]["w"]
    tree["stage1"]["block1"]["dw"]["w"] = w[:, ::-1].copy()            # time-reversed taps
    bad = np.asarray(DeployModel(cfg, tree).apply_channels_last(x))
    assert np.abs(bad - ref).max() > 1e-3
    with pytest.raises(KeyError, match="head"):
        DeployModel.from_variables(cfg, {"params": {k: v for k, v in variables["params"].items()
                                                   if k != "head"},
                                         "batch_stats": variables["batch_stats"]})
