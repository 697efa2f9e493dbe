"""Every registered variant, every family: init, forward, finite loss gradients,
output shape, structure.

Runs each variant's ``small()`` copy (T=4, 32x32, narrow widths, the same
block kinds), once per distinct small config, so a newly registered family
is tested here without editing this file.
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxar.demo_variables import realistic_variables
from jaxar.initialization import init_variables
from jaxar.registry import create_config, list_variants
from tests.model_fixtures import distinct_small_variants

NUM_CLASSES = 5
COUPLINGS = ("['beta']", "['embed']", "['fusion']")      # zero at init, learnt
X3D_UGT_VARIANTS = [v for v in list_variants() if create_config(v).family == "x3d_ugt"]


def test_paper_variants_are_registered():
    assert {"x3d_ugt", "x3d_ugt_tada_all", "x3d_ugt_tada_s12", "x3d_ugt_tada_s3",
            "x3d_ugt_tada_s4"} <= set(list_variants())


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match="x3d_ugt_tada_s3"):
        create_config("x3d_ugt_tada_s5")


@pytest.mark.parametrize("name", list_variants())
def test_every_config_gives_the_base_protocol(name):
    cfg = create_config(name)
    small = cfg.small(num_classes=NUM_CLASSES)
    assert type(small) is type(cfg) and cfg.family and small.family == cfg.family
    # tiny: a few frames (EAN RGB+LMC: 4 segments of 5) at <= 64^2 (EAN keeps a 2x2 map after 32x
    # downsampling for its object maps); X3D/TSM/ARC/X3D-UGT/CD-KD at the common 4x32^2
    assert small.frames <= 20 and small.size <= 64 and small.num_classes == NUM_CLASSES
    assert small.input_shape == (small.frames, small.size, small.size, 3)
    assert callable(getattr(cfg.build(), "deploy_params")) and callable(getattr(cfg.build(), "deploy_apply"))


@pytest.mark.parametrize("name", X3D_UGT_VARIANTS)
def test_x3d_ugt_structure_at_full_size(name):
    """TAda exactly in the first K blocks of the TAda stages, SE in the SE
    stages, stage depths as configured (shapes only)."""
    cfg = create_config(name)
    v = jax.eval_shape(cfg.build().init, jax.random.PRNGKey(0), jnp.zeros((1, *cfg.input_shape)))
    for s in range(1, len(cfg.depths) + 1):
        assert len(v["params"][f"stage{s}"]) == cfg.depths[s - 1]
        for b in range(cfg.depths[s - 1]):
            block = v["params"][f"stage{s}"][f"block{b}"]
            assert ("tada" in block) == (s in cfg.tada_stages and b < cfg.tada_blocks), (s, b)
            assert ("se" in block) == (s in cfg.se_stages), (s, b)


@pytest.mark.parametrize("name", distinct_small_variants(num_classes=NUM_CLASSES))
def test_variant_init_forward_grad(name):
    cfg = create_config(name).small(num_classes=NUM_CLASSES)
    model = cfg.build()
    x = jax.random.normal(jax.random.PRNGKey(1), (2, *cfg.input_shape))
    labels = jnp.array([0, 3])
    # trained-looking values drawn with numpy (no RNG program to compile), with the
    # zero-initialised couplings (TAda's blend beta, ARC's embed/fusion) at their init value
    v = realistic_variables(cfg)
    v["params"] = jax.tree_util.tree_map_with_path(
        lambda p, leaf: jnp.zeros_like(leaf) if jax.tree_util.keystr(p).endswith(COUPLINGS) else leaf,
        v["params"])

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
    # zero-initialised couplings (TAda's blend beta, ARC's embed/fusion) learn from step one
    coupled = [(jax.tree_util.keystr(p), g) for p, g in flat
               if jax.tree_util.keystr(p).endswith(COUPLINGS)]
    assert all(float(jnp.abs(g).max()) > 0 for _, g in coupled), coupled
    gates = {jax.tree_util.keystr(p).split("['tada']")[0] for p, _ in flat if "['tada']" in jax.tree_util.keystr(p)}
    betas = [p for p, _ in flat if jax.tree_util.keystr(p).endswith("['tada']['beta']")]
    assert len(betas) == len(gates)                       # one blend coefficient per TAda gate
    # the classifier (the one kernel with an output per class) learns
    classifier = [g for path, g in flat if jax.tree_util.keystr(path).endswith("['kernel']")
                  and g.ndim == 2 and g.shape[-1] == NUM_CLASSES]
    assert len(classifier) == 1 and float(jnp.abs(classifier[0]).max()) > 0


def test_bf16_compute_keeps_float32_params_and_logits():
    cfg = create_config("x3d_ugt").small().replace(dtype="bfloat16")
    model = cfg.build()
    x = jnp.ones((1, *cfg.input_shape))
    v = init_variables(model, jax.random.PRNGKey(0), x)
    assert all(l.dtype == jnp.float32 for l in jax.tree_util.tree_leaves(v["params"]))
    y = jax.jit(model.apply)(v, x)
    assert y.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(y)))


@pytest.mark.parametrize("name", distinct_small_variants())
def test_bad_input_shape_is_named(name):
    cfg = create_config(name).small()
    with pytest.raises(ValueError, match=r"expects \(N, \w+, H, W, 3\)"):
        cfg.build().init(jax.random.PRNGKey(0), jnp.ones((1, 4, 32, 32)))
