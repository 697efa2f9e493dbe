"""CD-KD student family (jaxar.models.cdkd): config protocol, three-stream
forward with distillation features, the FC fusion as the sum of the streams,
deploy form == training form, and the three-input ONNX export (checker,
TensorRT allow-list, ONNX Runtime parity). Tiny shapes; full size by eval_shape."""
import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest

from export.allowlist import validate_for_tensorrt
from jaxar.demo_variables import realistic_variables
from export.multi_input import export_jax2onnx_inputs
from export.runtimes import OrtRunner
from export.parity import compare
from jaxar.deploy import DeployModel
from jaxar.initialization import fast_compile_options, init_variables
from jaxar.models.cdkd import MODALITIES, CDKDConfig
from jaxar.registry import config_from_json, config_to_json, create_config

VARIANTS = ("cdkd_tsm_resnet50", "cdkd_mobilenetv2")


def clips(cfg, n=2, seed=0, channels_first=False):
    keys = jax.random.split(jax.random.PRNGKey(seed), 3)
    out = {}
    for k, (m, shape) in zip(keys, cfg.input_shapes.items()):
        x = jax.random.normal(k, (n, *shape))
        out[m] = np.asarray(jnp.moveaxis(x, -1, 2) if channels_first else x)
    return out


def student_variables(cfg, seed=0):
    """Realistic (BN-perturbed) stream variables + initialised distillation heads."""
    v = init_variables(cfg.build(), jax.random.PRNGKey(seed), clips(cfg, 1))
    params, stats = dict(v["params"]), dict(v["batch_stats"])
    for i, m in enumerate(MODALITIES):
        sv = realistic_variables(cfg.stream_config(m), seed=seed + i)
        params[m], stats[m] = sv["params"], sv["batch_stats"]
    return {"params": params, "batch_stats": stats}


def count_params(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree.leaves(tree))


def test_registered_variants_full_size_shapes():
    """Each stream is exactly its backbone family (same parameter count); the MV
    and residual streams are lighter in the edge variant."""
    for name, d in zip(VARIANTS, (2048, 432)):
        cfg = create_config(name, num_classes=174)
        assert cfg.family == "cdkd" and cfg.teacher_features == d
        x = {m: jax.ShapeDtypeStruct((1, *s), jnp.float32) for m, s in cfg.input_shapes.items()}
        v = jax.eval_shape(lambda x: cfg.build().init(jax.random.PRNGKey(0), x), x)
        assert {"pseudo_decoder", "attention_gate", *MODALITIES} == set(v["params"])
        for m in MODALITIES:
            scfg = cfg.stream_config(m)
            clip = jax.ShapeDtypeStruct((1, *scfg.input_shape), jnp.float32)
            alone = jax.eval_shape(lambda x: scfg.build().init(jax.random.PRNGKey(0), x), clip)
            assert count_params(v["params"][m]) == count_params(alone["params"]), (name, m)
        light = count_params(v["params"]["mv"]) < count_params(v["params"]["iframe"])
        assert light == (cfg.light_width < 1.0), name
        assert config_from_json(config_to_json(cfg)) == cfg


def test_config_rejects_bad_fields():
    with pytest.raises(ValueError, match="mv_backbone must be one of"):
        CDKDConfig(mv_backbone="resnet9")
    with pytest.raises(ValueError, match="gate_floor"):
        CDKDConfig(gate_floor=1.5)
    with pytest.raises(ValueError, match="not divisible by decoder_heads"):
        CDKDConfig(decoder_width=10, decoder_heads=4)


def test_forward_features_and_gradients():
    cfg = create_config("cdkd_tsm_resnet50").small()
    model = cfg.build()
    x = clips(cfg)
    v = init_variables(model, jax.random.PRNGKey(0), x)
    labels = jnp.array([0, 3])

    def loss(params):
        (logits, feats), upd = model.apply({"params": params, "batch_stats": v["batch_stats"]}, x,
                                           train=True, return_features=True, mutable=["batch_stats"],
                                           rngs={"dropout": jax.random.PRNGKey(1)})
        ce = -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(2), labels])
        return ce + jnp.mean(feats["h_hat"] ** 2) + jnp.mean(feats["alpha"] ** 2), feats

    (value, feats), grads = jax.jit(jax.value_and_grad(loss, has_aux=True),
                                    compiler_options=fast_compile_options())(v["params"])
    assert np.isfinite(float(value))
    assert feats["h_hat"].shape == (2, cfg.frames, cfg.teacher_features)
    assert feats["alpha"].shape == (2, cfg.frames)
    assert np.allclose(feats["alpha"].sum(axis=1), cfg.frames, atol=1e-4)
    for m in MODALITIES:
        assert feats[m].ndim == 5 and feats[m].shape[:2] == (2, cfg.frames)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert np.all(np.isfinite(np.asarray(g))), jax.tree_util.keystr(path)
    # every module gets gradient; the MV stem's zero third channel gets none
    for part in (*MODALITIES, "pseudo_decoder", "attention_gate"):
        assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads[part])) > 0, part
    stem = np.asarray(grads["mv"]["stem"]["kernel"])
    assert np.all(stem[..., 2, :] == 0) and np.abs(stem[..., :2, :]).max() > 0


@pytest.fixture(scope="module")
def edge():
    """The edge variant, tiny, with realistic variables (shared by the deploy and export tests)."""
    cfg = create_config("cdkd_mobilenetv2").small()
    return cfg, student_variables(cfg, seed=4)


def test_fusion_is_the_sum_of_the_streams_and_deploy_matches(edge):
    """Student logits == the sum of the unmodified stream networks' logits ==
    the deploy form (BN folded, no pseudo-decoder)."""
    cfg, v = edge
    x = clips(cfg, seed=5, channels_first=True)
    x_last = {m: np.moveaxis(a, 2, -1) for m, a in x.items()}
    logits = np.asarray(jax.jit(lambda v, x: cfg.build().apply(v, x),
                                compiler_options=fast_compile_options())(v, x_last))
    total = 0.0
    for m in MODALITIES:
        inp = np.pad(x_last[m], ((0, 0),) * 4 + ((0, 1),)) if m == "mv" else x_last[m]
        sv = {"params": v["params"][m], "batch_stats": v["batch_stats"][m]}
        total = total + cfg.stream_config(m).build().apply(sv, inp)
    assert np.allclose(logits, total, atol=1e-4)
    assert cfg.stream_config("mv").widths[-1] < cfg.stream_config("iframe").widths[-1]
    dm = DeployModel.from_variables(cfg, v, layout="frames-major")
    assert set(dm.params) == set(MODALITIES)          # no pseudo-decoder in the deploy form
    row = compare(logits, np.asarray(dm(x)))
    assert row["passed"], row


def test_onnx_three_inputs_allowlist_parity(edge, tmp_path):
    cfg, v = edge
    dm = DeployModel.from_variables(cfg, v, layout="frames-major")
    shapes = {m: (1, cfg.frames, c, cfg.size, cfg.size) for m, c in zip(MODALITIES, (3, 2, 3))}
    path = tmp_path / "cdkd.onnx"
    model = export_jax2onnx_inputs(dm.as_function(), shapes, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert [i.name for i in model.graph.input] == list(MODALITIES)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"MatMul", "Softmax", "Sigmoid", "Tanh"}    # no attention / ConvLSTM inside
    runner = OrtRunner(path)
    x = clips(cfg, n=3, seed=7, channels_first=True)
    out = np.concatenate([runner({m: a[i:i + 1] for m, a in x.items()}) for i in range(3)])
    row = compare(np.asarray(dm(x)), out)
    assert row["passed"], row
    with pytest.raises(ValueError, match=r"inputs lack \['mv'\]"):
        runner({m: x[m] for m in ("iframe", "residual")})


def test_bad_inputs_are_named():
    cfg = create_config("cdkd_tsm_resnet50").small()
    model = cfg.build()
    x = {m: jax.ShapeDtypeStruct((2, *s), jnp.float32) for m, s in cfg.input_shapes.items()}
    init = lambda x, **kw: jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, **kw), x)  # noqa: E731
    with pytest.raises(ValueError, match="dict with keys"):
        init(x["iframe"])
    with pytest.raises(ValueError, match="input 'mv' must be"):
        init({**x, "mv": x["residual"]})
    with pytest.raises(ValueError, match="disagree on the batch size"):
        init({**x, "iframe": jax.ShapeDtypeStruct((1, *cfg.input_shapes["iframe"]), jnp.float32)})
    with pytest.raises(ValueError, match="return_features=True needs distill_heads"):
        jax.eval_shape(lambda x: cfg.replace(distill_heads=False).build().init(
            jax.random.PRNGKey(0), x, return_features=True), x)
    with pytest.raises(ValueError, match="deploy form: input 'iframe' must be"):
        model.deploy_apply({}, {**x, "iframe": x["iframe"]}, "frames-major")
