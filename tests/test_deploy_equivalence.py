"""Deploy form == training form (eval mode), for every registered variant.

Variables are "realistic": perturbed BN statistics and affines, non-zero TAda
``beta``, spread logits (:mod:`jaxar.demo_variables`), so a folding bug
(wrong axis, dropped mean, TAda ignored) changes the logits by far more than
the tolerance; ``test_tada_and_bn_changes_are_visible`` checks that.
Shapes are tiny (T=4, 32x32, narrow widths) to keep the suite fast.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.deploy import LAYOUTS, DeployModel, reparameterize
from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import bn_affine, fold_into_oihw
from jaxar.demo_variables import realistic_variables
from jaxar.modules.temporal_shift import deploy_temporal_shift, temporal_shift
from jaxar.registry import create_config
from tests.model_fixtures import distinct_small_variants

ATOL = 1e-4


def _compare(cfg, batch=2, seed=0, layouts=LAYOUTS):
    """Training-form logits and the deploy form's in each layout (one reference)."""
    variables = realistic_variables(cfg, seed)
    x = jax.random.normal(jax.random.PRNGKey(seed + 7), (batch, *cfg.input_shape), jnp.float32)
    ref = jax.jit(lambda v, x: cfg.build().apply(v, x, train=False))(variables, x)
    outs = {layout: np.asarray(DeployModel.from_variables(cfg, variables, layout=layout)
                               .apply_channels_last(x)) for layout in layouts}
    return np.asarray(ref), outs, variables, x


@pytest.mark.parametrize("variant", distinct_small_variants())   # every family
def test_deploy_equals_training_form(variant):
    cfg = create_config(variant).small()
    ref, outs, _, _ = _compare(cfg)
    assert np.std(ref) > 0.05, "logits too flat for a meaningful comparison"
    for layout, out in outs.items():
        assert out.shape == ref.shape == (2, cfg.num_classes), layout
        np.testing.assert_allclose(out, ref, atol=ATOL, rtol=1e-4, err_msg=layout)
        assert (out.argmax(-1) == ref.argmax(-1)).all(), layout


@pytest.mark.parametrize("overrides", [
    dict(pre_dw="stride", simam_pool="spatiotemporal", activation="hard_swish"),
    dict(widths=(6, 10, 14, 18), head_width=45, ghost_ratio=3, pre_dw="none"),   # Ghost slices
    dict(strides=(1, 2, 3, 2), size=36),          # a stride that does not divide the height
])
def test_deploy_equals_training_form_other_paths(overrides):
    cfg = create_config("x3d_ugt").small(**overrides)
    ref, outs, *_ = _compare(cfg, batch=3, seed=3)
    for layout, out in outs.items():
        np.testing.assert_allclose(out, ref, atol=ATOL, rtol=1e-4, err_msg=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deploy_temporal_shift_is_bit_exact(layout):
    """The deploy shift (a one-hot temporal Conv channels-major, slices frames-major)
    moves values without arithmetic: equal to the training shift bit for bit."""
    n, t, c, h, w = 2, 5, 19, 3, 4
    x = np.random.default_rng(0).normal(size=(n, t, h, w, c)).astype(np.float32) * 1e3
    want = np.asarray(temporal_shift(jnp.asarray(x), 8))
    frames = jnp.asarray(x.transpose(0, 1, 4, 2, 3).reshape(n * t, c, h, w))
    got = deploy_temporal_shift(dops.from_frames(frames, t, layout), 8).view_as("planes")
    if layout == "channels-major":                                      # (N, C*T, H, W)
        got = np.asarray(got).reshape(n, c, t, h, w).transpose(0, 2, 3, 4, 1)
    else:                                                               # (N*T, C, H, W)
        got = np.asarray(got).reshape(n, t, c, h, w).transpose(0, 1, 3, 4, 2)
    np.testing.assert_array_equal(got, want)


def test_unknown_layout_is_rejected():
    cfg = create_config("x3d_ugt").small()
    with pytest.raises(ValueError, match="layout"):
        DeployModel.from_variables(cfg, realistic_variables(cfg), layout="nchw")


def test_tada_and_bn_changes_are_visible():
    """The comparison above can fail: ignoring TAda or one BN's mean moves the logits."""
    cfg = create_config("x3d_ugt").small()
    ref, outs, variables, x = _compare(cfg, layouts=("channels-major",))
    np.testing.assert_allclose(outs["channels-major"], ref, atol=ATOL, rtol=1e-4)
    tree = reparameterize(cfg, variables)
    no_tada = jax.tree_util.tree_map(lambda a: a, tree)
    for s in (3, 4):
        for blk in no_tada[f"stage{s}"].values():
            if "tada" in blk:                        # calibration a = 1 everywhere
                blk["tada"]["expand_w"] = np.zeros_like(blk["tada"]["expand_w"])
                blk["tada"]["expand_b"] = np.ones_like(blk["tada"]["expand_b"])
    bad = np.asarray(DeployModel(cfg, no_tada).apply_channels_last(x))
    assert np.abs(bad - ref).max() > 10 * ATOL
    stats = jax.tree_util.tree_map(np.asarray, variables)
    stats["batch_stats"]["stem_bn"]["mean"] = np.zeros_like(stats["batch_stats"]["stem_bn"]["mean"])
    bad = np.asarray(DeployModel.from_variables(cfg, stats).apply_channels_last(x))
    assert np.abs(bad - ref).max() > 10 * ATOL


def test_bn_fold_matches_conv_then_bn():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 3, 3, 3))
    x = rng.normal(size=(3, 3, 3))                      # one receptive field (C_in, k, k)
    params = {"scale": rng.uniform(0.5, 2, 5), "bias": rng.normal(size=5)}
    stats = {"mean": rng.normal(size=5), "var": rng.uniform(0.2, 3, 5)}
    conv = np.einsum("oikl,ikl->o", w, x)
    bn = (conv - stats["mean"]) / np.sqrt(stats["var"] + 1e-5) * params["scale"] + params["bias"]
    s, b = bn_affine(params, stats)
    wf, bf = fold_into_oihw(w, s, b)
    np.testing.assert_allclose(np.einsum("oikl,ikl->o", wf, x) + bf, bn, rtol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deploy_graph_is_4d_without_3d_convs(layout):
    """Every intermediate of the deploy jaxpr has <= 4 dims; all convs are 2-D;
    channels-major has one transpose (the layout switch after the stem),
    frames-major none."""
    cfg = create_config("x3d_ugt").small()
    dm = DeployModel.from_variables(cfg, realistic_variables(cfg), layout=layout)
    x = jnp.zeros((1, cfg.frames, 3, cfg.size, cfg.size))
    jaxpr = jax.make_jaxpr(dm.as_function())(x)

    def walk(jp):
        for e in jp.eqns:
            yield e
            for p in e.params.values():
                inner = getattr(p, "jaxpr", None)
                if inner is not None:
                    yield from walk(getattr(inner, "jaxpr", inner) if not hasattr(inner, "eqns") else inner)

    n_conv = n_transpose = 0
    for i, e in enumerate(walk(jaxpr.jaxpr)):
        n_transpose += e.primitive.name == "transpose"
        if i == 0:
            assert e.primitive.name in ("reshape", "convert_element_type")   # the 5-D input fold
            continue
        for v in e.outvars:
            assert len(v.aval.shape) <= 4, f"{e.primitive} makes a {len(v.aval.shape)}-D tensor"
        if e.primitive.name == "conv_general_dilated":
            n_conv += 1
            assert len(e.params["window_strides"]) == 2
    assert n_conv > 10 and n_transpose == (1 if layout == "channels-major" else 0)


def test_bad_variables_name_the_missing_path():
    cfg = create_config("x3d_ugt").small()
    variables = realistic_variables(cfg)
    params = dict(variables["params"])
    del params["head_proj"]
    with pytest.raises(KeyError, match="head_proj"):
        reparameterize(cfg, {"params": params, "batch_stats": variables["batch_stats"]})
    with pytest.raises(ValueError, match="params"):
        reparameterize(cfg, {"weights": 1})


def test_deploy_hook_rejects_configs_without_a_deploy_form():
    class NoDeploy:
        def build(self):
            return object()

    with pytest.raises(TypeError, match="deploy_params"):
        reparameterize(NoDeploy(), {"params": {}})
    with pytest.raises(TypeError, match="no deploy form"):
        reparameterize(object(), {"params": {}})


def test_expanded_width_is_padded_with_exact_zero_channels():
    """The deploy form rounds each block's expanded width up to CHANNEL_ALIGN
    (ONNX Runtime's blocked kernels) with Ghost channels that are exactly zero:
    every tensor indexed by the expanded channels is zero at the padded places."""
    from jaxar.modules.ghost import GhostPointwise
    from jaxar.modules.uib import CHANNEL_ALIGN
    cfg = create_config("x3d_ugt").small()
    tree = reparameterize(cfg, realistic_variables(cfg))
    e = cfg.expanded(1)
    blk = tree["stage1"]["block0"]
    width = blk["dw_spatial"].shape[0]
    assert e % CHANNEL_ALIGN and width % CHANNEL_ALIGN == 0 and e < width < e + CHANNEL_ALIGN
    pad = np.setdiff1d(np.arange(width), GhostPointwise(e, cfg.ghost_ratio).aligned_index(CHANNEL_ALIGN))
    assert len(pad) == width - e
    m = blk["expand"]["primary"]["w"].shape[0]
    for name, part in blk["expand"].items():            # the extra rows of both Ghost convs
        assert not part["w"][m - len(pad) // 2:].any() and not part["b"][m - len(pad) // 2:].any(), name
    for a in (blk["dw_spatial"][pad], blk["dw_temporal"][:, pad], blk["dw_bias"][pad],
              blk["project"]["primary"]["w"][:, pad]):
        assert a.size and not a.any()
    assert blk["dw_spatial"][np.setdiff1d(np.arange(width), pad)].any()
