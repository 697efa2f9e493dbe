"""Every registered variant: init, forward, finite loss gradients, output shape, structure.

Runs at tiny shapes (T=4, 32x32, narrow widths; 2 blocks in TAda stages so the
"first K=2 blocks" rule is exercised, 1 elsewhere), keeping each variant's
TAda / SE / SimAM placement.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxar.config import ModelConfig
from jaxar.network import X3DUGT
from jaxar.initialization import init_variables
from export.demo_variables import distinct_small_variants
from jaxar.registry import create_config, list_variants

# X3D-UGT and the X3D baselines (each with a small test config); TSM/ARC have their own tests.
X3D_VARIANTS = [v for v in list_variants() if v.startswith("x3d_")]

NUM_CLASSES = 5


def tiny(name):
    """Tiny copy of a variant; families other than X3D-UGT give theirs by ``small()``."""
    cfg = create_config(name)
    if not isinstance(cfg, ModelConfig):
        return cfg.small(frames=4, size=32, num_classes=NUM_CLASSES)
    return cfg.replace(num_classes=NUM_CLASSES, frames=4, size=32, stem_width=8,
                       widths=(8, 16, 16, 24),
                       depths=tuple(2 if s in cfg.tada_stages else 1 for s in range(1, 5)),
                       head_width=32, tada_reduction=4.0)


def test_paper_variants_are_registered():
    assert {"x3d_ugt", "x3d_ugt_tada_all", "x3d_ugt_tada_s12", "x3d_ugt_tada_s3",
            "x3d_ugt_tada_s4"} <= set(list_variants())


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match="x3d_ugt_tada_s3"):
        create_config("x3d_ugt_tada_s5")


@pytest.mark.parametrize("name", X3D_VARIANTS)
def test_variant_structure_at_full_size(name):
    """Stage depths as configured; for X3D-UGT, TAda exactly in the first K blocks
    of the TAda stages and SE in the SE stages (shapes only)."""
    cfg = create_config(name)
    v = jax.eval_shape(cfg.build().init, jax.random.PRNGKey(0), jnp.zeros((1, *cfg.input_shape)))
    for s in range(1, len(cfg.depths) + 1):
        assert len(v["params"][f"stage{s}"]) == cfg.depths[s - 1]
        if not isinstance(cfg, ModelConfig):
            continue
        for b in range(cfg.depths[s - 1]):
            block = v["params"][f"stage{s}"][f"block{b}"]
            assert ("tada" in block) == (s in cfg.tada_stages and b < cfg.tada_blocks), (s, b)
            assert ("se" in block) == (s in cfg.se_stages), (s, b)


@pytest.mark.parametrize("name", distinct_small_variants(X3D_VARIANTS, tiny))
def test_variant_init_forward_grad(name):
    cfg = tiny(name)
    model = cfg.build()
    x = jax.random.normal(jax.random.PRNGKey(1), (2, *cfg.input_shape))
    labels = jnp.array([0, 3])
    v = init_variables(model, jax.random.PRNGKey(0), x)

    def loss_fn(params):
        variables = {"params": params, "batch_stats": v["batch_stats"]}
        out, _ = model.apply(variables, x, train=True, mutable=["batch_stats"],
                             rngs={"dropout": jax.random.PRNGKey(2)})
        loss = optax.softmax_cross_entropy_with_integer_labels(out, labels).mean()
        return loss, model.apply(variables, x, train=False)

    (loss, logits), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(v["params"])
    assert logits.shape == (2, NUM_CLASSES) and logits.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(logits)))
    assert np.isfinite(float(loss))
    flat = jax.tree_util.tree_leaves_with_path(grads)
    for path, g in flat:
        assert np.all(np.isfinite(np.asarray(g))), jax.tree_util.keystr(path)
    if isinstance(cfg, ModelConfig):
        # the blend coefficient of every TAda block receives gradient at init
        betas = [g for path, g in flat if jax.tree_util.keystr(path).endswith("['beta']")]
        assert len(betas) == sum(min(cfg.tada_blocks, cfg.depths[s - 1]) for s in cfg.tada_stages)
        assert all(abs(float(b)) > 0 for b in betas)
    # the classifier learns
    classifier = [g for path, g in flat if "'classifier'" in jax.tree_util.keystr(path)
                  and jax.tree_util.keystr(path).endswith("['kernel']")]
    assert len(classifier) == 1 and float(jnp.abs(classifier[0]).max()) > 0


def test_bf16_compute_keeps_float32_params_and_logits():
    cfg = tiny("x3d_ugt").replace(dtype="bfloat16")
    model = X3DUGT(cfg)
    x = jnp.ones((1, *cfg.input_shape))
    v = init_variables(model, jax.random.PRNGKey(0), x)
    assert all(l.dtype == jnp.float32 for l in jax.tree_util.tree_leaves(v["params"]))
    y = jax.jit(model.apply)(v, x)
    assert y.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(y)))


def test_bad_input_shape_is_named():
    cfg = tiny("x3d_ugt")
    with pytest.raises(ValueError, match="N, T, H, W, 3"):
        X3DUGT(cfg).init(jax.random.PRNGKey(0), jnp.ones((1, 4, 32, 32)))
