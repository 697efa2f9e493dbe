"""EAN variants at tiny sizes (4 segments, 64x64, narrow widths): forward,
finite non-zero gradients through every new module, deploy form == training
form for every variant (and the non-default EAB/ESP/transformer paths), and
the ONNX route: checker, strict TensorRT allow-list, ONNX Runtime parity
with dynamic batch."""
import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest

from export.allowlist import validate_for_tensorrt
from export.onnx_jax2onnx import export_jax2onnx
from export.parity import compare
from export.runtimes import OrtRunner
from jaxar.deploy import LAYOUTS, DeployModel, reparameterize
from jaxar.initialization import fast_compile_options
from jaxar.registry import create_config
from tests.ean_fixtures import deploy_fn, eval_fn, perturbed_variables

EAN_VARIANTS = ["ean_r50", "ean_r50_lmc", "ean_r50_base", "ean_r50_eab", "ean_r50_soitr", "ean_r50_eab5",
                "ean_r50_soitr345", "ean_r50_soitr45"]


def tiny(name, segments=3, **overrides):
    """The variant's ``small()`` copy at ``segments`` segments (compile time is the cost here)."""
    cfg = create_config(name)
    return cfg.small(frames=segments * cfg.segment_frames, **overrides)


def _clip(cfg, batch=2, seed=7):
    return jax.random.normal(jax.random.PRNGKey(seed), (batch, *cfg.input_shape), jnp.float32)


def test_training_step_gradients_reach_every_module():
    """One train-mode forward (batch statistics, dropout) of RGB+LMC: logits of the
    right shape, finite gradients, non-zero in LMC, every EAB, SOI-Tr and the backbone."""
    cfg = tiny("ean_r50_lmc", segments=2, size=32, lmc_patch=16)
    v = perturbed_variables(cfg, seed=3)
    x = _clip(cfg)
    model = cfg.build()

    def loss(params):
        logits, upd = model.apply({"params": params, "batch_stats": v["batch_stats"]}, x, train=True,
                                  mutable=["batch_stats"], rngs={"dropout": jax.random.PRNGKey(0)})
        return jnp.mean(jax.nn.log_softmax(logits)[:, 0]), (logits, upd)
    grads, (logits, upd) = jax.jit(jax.grad(loss, has_aux=True),
                                   compiler_options=fast_compile_options())(v["params"])
    assert logits.shape == (2, cfg.num_classes) and logits.dtype == jnp.float32
    assert set(upd["batch_stats"]) == set(v["batch_stats"])
    for name in ("lmc", "eab1", "eab2", "eab3", "eab4", "soitr", "layer1", "conv1", "fc"):
        leaves = jax.tree_util.tree_leaves(grads[name])
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves), name
        assert sum(float(jnp.sum(jnp.abs(g))) for g in leaves) > 0, name
    # the per-video mixing matrix is learned: ESP-Net's head gets gradient
    assert float(jnp.abs(grads["eab3"]["esp"]["fc"]["kernel"]).sum()) > 0


def _deploy_matches(cfg, seed=0, layouts=("frames-major",)):
    v = perturbed_variables(cfg, seed)
    x = _clip(cfg, seed=seed + 11)
    ref = np.asarray(eval_fn(cfg)(v, x))
    assert ref.shape == (2, cfg.num_classes) and np.std(ref) > 0.05
    params = reparameterize(cfg, v)
    for layout in layouts:
        out = np.asarray(deploy_fn(cfg, layout)(params, jnp.transpose(x, (0, 1, 4, 2, 3))))
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(out, ref, atol=1e-4 * scale, rtol=1e-4, err_msg=layout)
        assert (out.argmax(-1) == ref.argmax(-1)).all()


@pytest.mark.parametrize("variant", EAN_VARIANTS)
def test_deploy_equals_training_form(variant):
    _deploy_matches(tiny(variant), layouts=LAYOUTS if variant == "ean_r50" else ("frames-major",))


def test_deploy_equals_training_form_other_paths():
    """Authors'-code EAB order, the paper's ESP-Net, LayerNorm in the transformer,
    no ME/temporal conv, the LMC anchor in the middle of the segment."""
    cfg = tiny("ean_r50_lmc", eab_order="temporal_first", esp_form="paper", soitr_norm="layer",
               motion_excitation=False, temporal_conv=False, lmc_anchor=2, eab_stages=(2, 4))
    _deploy_matches(cfg, seed=5)


def test_onnx_checker_allowlist_parity_dynamic_batch(tmp_path):
    """RGB+LMC with a mid-network SOI-Tr too (every EAN module and both SOI-Tr outputs)
    through jax2onnx: one file, batch 1 and 3."""
    cfg = tiny("ean_r50_lmc", segments=2, eab_stages=(1, 2, 3), soitr_stages=(4, 5))
    v = perturbed_variables(cfg, seed=1)
    dm = DeployModel.from_variables(cfg, v)
    path = tmp_path / "ean.onnx"
    model = export_jax2onnx(dm.as_function(), (None, cfg.frames, 3, cfg.size, cfg.size), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    ops = {n.op_type for n in model.graph.node}
    assert {"MatMul", "Softmax"} <= ops and "Transpose" not in ops and "Einsum" not in ops
    x = np.random.default_rng(2).normal(size=(3, cfg.frames, 3, cfg.size, cfg.size)).astype(np.float32)
    ref = np.asarray(eval_fn(cfg)(v, np.transpose(x, (0, 1, 3, 4, 2))))
    runner = OrtRunner(path)
    for out, want in ((runner(x), ref), (runner(x[:1]), ref[:1])):
        row = compare(want, out)
        assert row["passed"] and row["max_rel_err"] <= 1e-4, row


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="segment_frames"):
        create_config("ean_r50", frames=9, segment_frames=5)
    with pytest.raises(ValueError, match="soitr_stages"):
        create_config("ean_r50", soitr_stages=(4,))
    with pytest.raises(ValueError, match="eab_order"):
        create_config("ean_r50", eab_order="random")
    with pytest.raises(ValueError, match=r"\(N, 4, H, W, 3\)"):
        cfg = create_config("ean_r50").small()
        cfg.build().apply(perturbed_variables(cfg), jnp.zeros((1, 5, 64, 64, 3)))
