"""EAN's exact identities (issue 18, item 3):

* with the zero-initialised residual convs (EAB ``expand``, SOI-Tr ``fuse_bn``,
  LMC ``decode``) the network at initialisation equals its ResNet baseline
  with the same backbone weights (on the segments' anchor frames);
* restricting the mixing matrix M to blocks that connect equal-sized spatial
  and temporal kernels turns the EAB branch into (2+1)-D convs (Eq. 2's
  special case), checked against direct 3-D convolutions;
* every saliency map sums to 1 over space;
* self-attention is equivariant to permuting the object tokens;
* a constant segment gives zero RGB differences and LMC adds exactly nothing.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxar.deploy.bn_fold import Variables
from jaxar.initialization import init_variables
from jaxar.modules.ean_layers import Conv3D
from jaxar.modules.event_adaptive import EventAdaptiveBlock, group_sizes
from jaxar.modules.latent_motion import LatentMotionCode
from jaxar.modules.soi_transformer import SaliencyNet, TransformerBlock
from jaxar.registry import create_config
from tests.ean_fixtures import eval_fn, perturbed_module_variables, perturbed_variables


@pytest.fixture(scope="module")
def initial():
    """A real initialisation of the tiny RGB+LMC network (every EAN module)."""
    cfg = create_config("ean_r50_lmc").small()
    v = init_variables(cfg.build(), jax.random.PRNGKey(0), jnp.zeros((1, *cfg.input_shape)))
    return cfg, jax.tree_util.tree_map(np.asarray, v)


def test_network_at_init_equals_its_backbone(initial):
    cfg, v = initial
    base = create_config("ean_r50_base").small()
    assert base.frames == cfg.segments
    bv = {col: {k: t for k, t in v[col].items() if k in ("conv1", "bn1", "fc") or k.startswith("layer")}
          for col in v}
    x = jax.random.normal(jax.random.PRNGKey(3), (2, *cfg.input_shape))
    anchors = x[:, cfg.lmc_anchor::cfg.segment_frames]
    full = np.asarray(eval_fn(cfg)(v, x))
    backbone = np.asarray(eval_fn(base)(bv, anchors))
    np.testing.assert_allclose(full, backbone, rtol=1e-5, atol=1e-6 * np.abs(backbone).max())
    # ... and the identity is the zero-initialised convs' doing, not an accident:
    moved = jax.tree_util.tree_map(lambda a: a, v)
    moved["params"]["eab3"]["expand"]["kernel"] = np.full_like(v["params"]["eab3"]["expand"]["kernel"], 0.1)
    assert np.abs(np.asarray(eval_fn(cfg)(moved, x)) - full).max() > 1e-4 * np.abs(full).max()


def test_each_module_is_an_identity_at_init(initial):
    cfg, v = initial
    x = jax.random.normal(jax.random.PRNGKey(4), (2, 4, 8, 8, cfg.stage_width(2)))
    eab = cfg.build().eab(2)
    np.testing.assert_array_equal(np.asarray(eab.apply({"params": v["params"]["eab2"],
                                                        "batch_stats": v["batch_stats"]["eab2"]}, x)),
                                  np.asarray(x))
    assert float(np.abs(v["params"]["lmc"]["decode"]["kernel"]).max()) == 0.0
    assert float(np.abs(v["params"]["soitr"]["fuse_bn"]["scale"]).max()) == 0.0


# ------------------------------------------------------------------ Eq. 2's special case
def _conv(x, kernel, dilation):
    """Direct 3-D conv ``(N, T, H, W, C)`` x DHWIO, 'same' padding."""
    pads = [((k - 1) * d // 2,) * 2 for k, d in zip(kernel.shape[:3], dilation)]
    return lax.conv_general_dilated(x, kernel, (1, 1, 1), pads, rhs_dilation=dilation,
                                    dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))


@pytest.mark.parametrize("block_diagonal", [True, False])
def test_block_diagonal_mixing_gives_2plus1d_convs(block_diagonal):
    """M restricted to the equal-size blocks: the EAB branch is, per group g, the
    (2+1)-D conv  T'_g(ReLU(BN(S_g(h_g)))) with T'_g = T_g o M_gg (S_1 = T_1 = identity,
    sizes 3 and 5 = dilated 3). A full M mixes the groups and breaks that."""
    cin, c = 24, 6
    eab = EventAdaptiveBlock(squeeze_groups=2, order="spatial_first")
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 7, 7, cin))
    v = perturbed_module_variables(eab, x, seed=2)
    rng = np.random.default_rng(1)
    m = rng.normal(size=(c, c)).astype(np.float32)
    sizes = group_sizes(c)
    starts = np.cumsum((0,) + sizes)
    if block_diagonal:
        mask = np.zeros((c, c), bool)
        for g in range(3):
            mask[starts[g]:starts[g + 1], starts[g]:starts[g + 1]] = True
        m = np.where(mask, m, 0.0)
    p = jax.tree_util.tree_map(np.asarray, v["params"])
    p["esp"]["fc"]["kernel"] = np.zeros_like(p["esp"]["fc"]["kernel"])      # M = m for every video
    p["esp"]["fc"]["bias"] = m.reshape(-1)
    p["pool_proj"]["kernel"] = np.zeros_like(p["pool_proj"]["kernel"])      # only the conv branch
    got = np.asarray(eab.apply({"params": p, "batch_stats": v["batch_stats"]}, x)) - np.asarray(x)

    h = np.asarray(Conv3D(c, groups=2).apply({"params": p["compress"]}, x))
    s, b = Variables(p, v["batch_stats"]).bn("mid_bn")
    outs = []
    for g in range(3):
        hg = h[..., starts[g]:starts[g + 1]]
        sl = slice(starts[g], starts[g + 1])
        if g:
            hg = _conv(hg, p[f"first{g}"]["kernel"], (1, g, g))
        hg = np.maximum(np.asarray(hg) * s[sl] + b[sl], 0.0)
        mg = m[sl, sl]                                                    # (out i, in j)
        if g:
            tk = np.asarray(p[f"second{g}"]["kernel"])                      # (3, 1, 1, in, out)
            composed = np.einsum("ij,kabio->kabjo", mg, tk)                 # T_g o M_gg
            outs.append(_conv(jnp.asarray(hg, jnp.float32), jnp.asarray(composed, jnp.float32), (g, 1, 1)))
        else:
            outs.append(hg @ mg.T)
    y = np.concatenate([np.asarray(o) for o in outs], axis=-1)
    w = np.asarray(p["expand"]["kernel"])[0, 0, 0]                          # (c/2, C/2) per group
    want = np.concatenate([y[..., :3] @ w[:, :12], y[..., 3:] @ w[:, 12:]], axis=-1)
    close = np.allclose(got, want, atol=1e-4 * np.abs(want).max())
    assert close == block_diagonal, np.abs(got - want).max()


# ------------------------------------------------------------------ SOI-Tr
def test_saliency_maps_sum_to_one_over_space():
    net = SaliencyNet(objects=4, reduction=2)
    h = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 5, 6, 16)) * 3.0
    v = perturbed_module_variables(net, h, seed=4)
    o = np.asarray(net.apply(v, h))
    assert o.shape == (2, 3, 5, 6, 4) and (o >= 0).all()
    np.testing.assert_allclose(o.sum(axis=(2, 3)), 1.0, atol=1e-6)
    assert o.std() > 1e-3                                                  # not uniform maps


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_attention_is_permutation_equivariant(norm):
    block = TransformerBlock(heads=4, norm=norm)
    tokens = jax.random.normal(jax.random.PRNGKey(1), (2, 12, 16))
    v = perturbed_module_variables(block, tokens, seed=5)
    perm = np.random.default_rng(0).permutation(12)
    out = np.asarray(block.apply(v, tokens))
    np.testing.assert_allclose(np.asarray(block.apply(v, tokens[:, perm])), out[:, perm], atol=1e-5)
    assert np.abs(out[:, perm] - out).max() > 1e-3                          # the tokens do differ
    # deploy form of the block: same function (BN folded, rank-4 attention)
    p = block.deploy_params(Variables(v["params"], v.get("batch_stats", {})))
    np.testing.assert_allclose(np.asarray(block.deploy_apply(p, tokens)), out, atol=1e-4)


# ------------------------------------------------------------------ LMC
def test_constant_segments_give_zero_motion():
    """Any weights (bias-free encoder, H_m, decoder): still segments -> m == 0 exactly."""
    lmc = LatentMotionCode(out_channels=16, patch=16, latent=32, groups=4)
    still = jnp.repeat(jax.random.normal(jax.random.PRNGKey(0), (2, 3, 1, 32, 32, 3)), 5, axis=2)
    v = perturbed_module_variables(lmc, still, seed=6)
    m = np.asarray(lmc.apply(v, still))
    assert m.shape == (2, 3, 8, 8, 16)
    np.testing.assert_array_equal(m, 0.0)
    moving = still.at[:, :, 3].add(0.5)
    assert np.abs(np.asarray(lmc.apply(v, moving))).max() > 1e-3


def test_lmc_adds_nothing_to_a_still_video_in_the_network():
    cfg = create_config("ean_r50_lmc").small()
    v = perturbed_variables(cfg, seed=8)
    frames = jax.random.normal(jax.random.PRNGKey(5), (1, cfg.segments, 1, cfg.size, cfg.size, 3))
    x = jnp.repeat(frames, cfg.segment_frames, axis=2).reshape(1, *cfg.input_shape)
    silent = jax.tree_util.tree_map(np.asarray, v)
    silent["params"]["lmc"]["decode"]["kernel"] = np.zeros_like(silent["params"]["lmc"]["decode"]["kernel"])
    np.testing.assert_array_equal(np.asarray(eval_fn(cfg)(v, x)), np.asarray(eval_fn(cfg)(silent, x)))
