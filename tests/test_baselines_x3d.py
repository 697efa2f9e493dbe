"""X3D-XS/S/M: full-size counts and structure (shape tracing only), the
depthwise 3-D conv against a direct loop, the deploy form at an odd clip
length and a stride that does not divide the height, and that folding errors
are visible. Init/forward/gradients, deploy == training in both layouts and
ONNX export at tiny shapes run in the generic per-variant tests
(test_variants.py, test_deploy_equivalence.py, test_export_variants.py)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.demo_variables import realistic_variables
from jaxar.complexity import init_shapes, profile
from jaxar.deploy import LAYOUTS, DeployModel
from jaxar.models.x3d import X3DConfig, depthwise3d
from jaxar.registry import create_config, list_variants

VARIANTS = ("x3d_xs", "x3d_s", "x3d_m")
# Targets at 400 classes: parameters incl. BN affines; multiply-adds of convs and linear layers.
TARGET_PARAMS = 3_794_274
TARGET_GMACS = {"x3d_xs": 0.604, "x3d_s": 1.962, "x3d_m": 4.732}
PAPER_INPUT = {"x3d_xs": (4, 160), "x3d_s": (13, 160), "x3d_m": (16, 224)}


def test_variants_registered_with_paper_inputs():
    assert set(VARIANTS) <= set(list_variants())
    for name, (t, s) in PAPER_INPUT.items():
        cfg = create_config(name)
        assert isinstance(cfg, X3DConfig) and cfg.input_shape == (t, s, s, 3)


@pytest.mark.parametrize("name", VARIANTS)
def test_full_size_counts_meet_targets(name):
    prof = profile(create_config(name, num_classes=400))
    assert prof.input_shape == (1, *create_config(name).input_shape)
    assert prof.params == TARGET_PARAMS                 # PyTorchVideo's count, exactly
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


def test_bad_input_and_config_are_named():
    cfg = create_config("x3d_xs").small()
    with pytest.raises(ValueError, match="N, T, H, W, 3"):
        cfg.build().init(jax.random.PRNGKey(0), jnp.ones((1, 4, 32, 32)))
    with pytest.raises(ValueError, match="unknown X3DConfig fields"):
        cfg.replace(tada_stages=(3,))
    with pytest.raises(ValueError, match="impl"):
        cfg.replace(impl="conv2d")
    dm = DeployModel.from_variables(cfg, realistic_variables(cfg))
    with pytest.raises(ValueError, match=r"\(N, 4, 3, H, W\)"):
        dm(jnp.ones((1, 5, 3, 32, 32)))


def _deploy_pair(cfg, seed):
    variables = realistic_variables(cfg, seed)
    x = np.random.default_rng(seed).normal(size=(2, *cfg.input_shape)).astype(np.float32)
    ref = np.asarray(jax.jit(lambda v, x: cfg.build().apply(v, x, train=False))(variables, x))
    return variables, x, ref


def test_deploy_odd_frames_and_non_dividing_stride():
    """T=3 (every time tap reaches past an edge) and 36x36 input (stage 3 sees
    9x9 maps, stride 2 does not divide): both layouts equal the training form."""
    cfg = create_config("x3d_s").small(frames=3, size=36)
    variables, x, ref = _deploy_pair(cfg, seed=5)
    assert np.std(ref) > 0.05, "logits too flat for a meaningful comparison"
    for layout in LAYOUTS:
        out = np.asarray(DeployModel.from_variables(cfg, variables, layout).apply_channels_last(x))
        np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4, err_msg=layout)


def test_deploy_folding_errors_are_visible():
    """The equivalence tests can fail: a dropped BN mean or time-reversed
    depthwise taps move the logits; variables of another config are named."""
    cfg = create_config("x3d_xs").small()
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


@pytest.mark.slow
def test_tiny_x3d_trains_restores_and_exports(tmp_path):
    """End to end through the family-agnostic paths: 2 training steps of a tiny
    X3D (run config via ``model_section``), the checkpoint read back with its
    X3D config, exported to a parity-checked ONNX."""
    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_checkpoint
    from jaxar.train.config import load_config, model_section
    from jaxar.train.loop import train_and_evaluate
    from tests.conftest import ROOT

    cfg = load_config(os.path.join(ROOT, "experiments", "smoke_tiny.py"))
    cfg.model = model_section("x3d_xs", num_classes=10, frames=4, size=16, stem_width=8, widths=(8, 16),
                              depths=(1, 1), strides=(1, 2), head_width=16, head_hidden=16)
    cfg.steps, cfg.eval_every, cfg.checkpoint.every_steps = 2, 2, 2
    res = train_and_evaluate(cfg, tmp_path / "run")
    assert res["step"] == 2 and res["eval"]["count"] == cfg.data.synthetic_test
    bundle = from_checkpoint(tmp_path / "run")
    assert isinstance(bundle.config, X3DConfig) and bundle.config.widths == (8, 16) and bundle.step == 2
    opts = ExportOptions(routes=("jax2onnx",), savedmodel=False, num_clips=4, profile=False, tensorrt=False)
    result = export(bundle, tmp_path / "export", opts, log=lambda m: None)
    assert result["parity"]["passed"] and (tmp_path / "export" / "model.onnx").is_file()
