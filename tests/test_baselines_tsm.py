"""TSM-ResNet-18/50, TSM-MobileNetV2 and ARC-TSM-ResNet-18/50.

* full-size parameter / multiply-add counts against the papers' figures (shape
  tracing only, no compute);
* ARC's step structure against a direct, unvectorised implementation of the
  paper's Eqs. 2-5 on a tiny layer (stride 1 and 2);
* every variant at tiny widths and shapes (T=4, 32x32): init, forward, finite
  gradients, deploy form == training form, ONNX checker + TensorRT allow-list
  + ONNX Runtime parity.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import onnx
import pytest

from export.allowlist import validate_for_tensorrt
from export.onnx_jax2onnx import export_jax2onnx
from export.parity import compare
from export.runtimes import OrtRunner
from jaxar import macs
from jaxar.deploy import DeployModel
from jaxar.initialization import init_variables
from jaxar.models.arc import ARCTSMResNetConfig
from jaxar.modules.arc_conv import ARCConv
from jaxar.registry import create_config, create_model, list_variants

BASELINES = ["tsm_resnet18", "tsm_resnet50", "tsm_mobilenetv2", "arc_tsm_resnet18", "arc_tsm_resnet50"]


@functools.lru_cache(maxsize=None)
def count(name, num_classes):
    """(parameters, multiply-adds) of one clip at the variant's input, by tracing."""
    cfg = create_config(name, num_classes=num_classes)
    model = cfg.build()
    x = jax.ShapeDtypeStruct((1, *cfg.input_shape), jnp.float32)
    with macs.counting() as records:
        v = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)
    params = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(v["params"]))
    return params, sum(n for _, n in records)


# ------------------------------------------------------------------ full-size counts
def test_baselines_are_registered_with_paper_inputs():
    assert set(BASELINES) <= set(list_variants())
    for name in BASELINES:
        cfg = create_config(name)
        assert cfg.input_shape == (8, 224, 224, 3), name
        assert type(create_model(name, num_classes=3)).__name__.startswith("TSM")


@pytest.mark.parametrize("name,classes,params,gmacs,ptol,mtol", [
    ("tsm_resnet50", 400, 24_327_632, 32.70, 0.005, 0.02),      # TSM paper / torchvision
    ("tsm_mobilenetv2", 400, 2_736_272, 2.40, 0.005, 0.02),
    ("tsm_resnet18", 174, 11e6, 15.0, 0.05, 0.05),               # ARC paper Table 2 (rounded)
    ("arc_tsm_resnet18", 174, 14e6, 17.0, 0.05, 0.05),
    ("arc_tsm_resnet50", 174, 27e6, 37.0, 0.05, 0.05),
])
def test_full_size_counts_meet_the_papers(name, classes, params, gmacs, ptol, mtol):
    p, m = count(name, classes)
    assert abs(p - params) <= ptol * params, (name, p)
    assert abs(m / 1e9 - gmacs) <= mtol * gmacs, (name, m / 1e9)


def test_arc_counts_match_the_unrounded_figures():
    """Paper Tables 1 / 4(b): ARC-TSM-R18 14.2 M, 17.2 G; ARC-TSM-R50 27.0 M (174 classes)."""
    p18, m18 = count("arc_tsm_resnet18", 174)
    p50, _ = count("arc_tsm_resnet50", 174)
    assert abs(p18 / 1e6 - 14.2) < 0.05 and abs(p50 / 1e6 - 27.0) < 0.05
    assert abs(m18 / 1e9 - 17.2) / 17.2 < 0.02


# ------------------------------------------------------------------ ARC equations
def _direct_arc(x, kernel, embed, attention, fusion, steps, stride, slope):
    """Eqs. 2-5 for one clip, channel by channel, with explicit loops.

    x (T, H, W, C_in); kernel (k, k, C_in, c); paper matrices We = embed.T,
    Wa = attention.T, Wf = fusion.T (C_in x c, only generated columns used).
    """
    t, h, w, cin = x.shape
    k, c = kernel.shape[0], kernel.shape[-1]
    g, p = c // steps, k // 2
    ho, wo = (h + 2 * p - k) // stride + 1, (w + 2 * p - k) // stride + 1
    phi = lambda v: np.where(v >= 0, v, slope * v)   # noqa: E731
    y = np.zeros((t, ho, wo, c))
    for m in range(c):                               # output channel m uses state X_m
        if m < g:
            state = x
        else:
            gen = (m // g) * g                       # channels generated before m's step
            feats = y[..., :gen]
            pool_s = feats.max(axis=(1, 2))          # (T, gen)
            pool_t = feats.max(axis=0)               # (H', W', gen)
            state = np.zeros_like(x)
            for ti in range(t):
                for i in range(h):
                    for j in range(w):
                        oi, oj = i // stride, j // stride      # nearest upsampling
                        xv = x[ti, i, j]
                        att = np.zeros(cin)
                        fus = np.zeros(cin)
                        for q in range(gen):
                            att += attention[q] * (pool_s[ti, q] + pool_t[oi, oj, q])
                            fus += fusion[q] * feats[ti, oi, oj, q]
                        state[ti, i, j] = phi(phi(xv + embed.T @ xv + att) + fus)
        padded = np.pad(state, ((0, 0), (p, p), (p, p), (0, 0)))
        for ti in range(t):
            for i in range(ho):
                for j in range(wo):
                    patch = padded[ti, i * stride:i * stride + k, j * stride:j * stride + k]
                    y[ti, i, j, m] = np.sum(patch * kernel[..., m])
    return y


@pytest.mark.parametrize("stride,size", [(1, 5), (2, 5)])
def test_arc_step_structure_matches_the_equations(stride, size):
    rng = np.random.default_rng(stride)
    cin, c, steps, slope = 3, 8, 4, 0.01
    x = rng.normal(size=(2, 3, size, size, cin))
    params = {"kernel": rng.normal(size=(3, 3, cin, c)) / 3, "embed": rng.normal(size=(cin, cin)) / 2,
              "attention": rng.normal(size=(c - c // steps, cin)) / 2,
              "fusion": rng.normal(size=(c - c // steps, cin)) / 2}
    layer = ARCConv(c, 3, stride, steps, slope)
    shapes = jax.eval_shape(layer.init, jax.random.PRNGKey(0), jnp.zeros(x.shape, jnp.float32))
    assert {k: v.shape for k, v in shapes["params"].items()} == {k: v.shape for k, v in params.items()}
    ours = np.asarray(jax.jit(layer.apply)({"params": params}, jnp.asarray(x, jnp.float32)))
    for n in range(len(x)):
        ref = _direct_arc(x[n], params["kernel"], params["embed"], params["attention"],
                          params["fusion"], steps, stride, slope)
        np.testing.assert_allclose(ours[n], ref, atol=2e-5, rtol=1e-4)
    # the first step is the plain conv of X; the later steps are not (the state evolved)
    plain = np.asarray(jax.lax.conv_general_dilated(
        jnp.asarray(x.reshape(-1, size, size, cin), jnp.float32), jnp.asarray(params["kernel"], jnp.float32),
        (stride, stride), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC")))
    plain = plain.reshape(ours.shape)
    g = c // steps
    np.testing.assert_allclose(ours[..., :g], plain[..., :g], atol=2e-5)
    for s in range(1, steps):
        assert np.abs(ours[..., s * g:(s + 1) * g] - plain[..., s * g:(s + 1) * g]).max() > 1e-2


def test_arc_starts_as_its_plain_conv_on_non_negative_input():
    """We = Wf = 0 at init; on a non-negative input (a ReLU output) the state then
    differs from X only by the attention term, so without it ARC is its conv."""
    layer = ARCConv(8, 3, 1, 4)
    x = jnp.abs(jax.random.normal(jax.random.PRNGKey(0), (1, 2, 6, 6, 4)))
    v = init_variables(layer, jax.random.PRNGKey(1), x)
    assert not np.any(np.asarray(v["params"]["embed"])) and not np.any(np.asarray(v["params"]["fusion"]))
    bound = 1 / np.sqrt(6)                                # U(-1/sqrt(c - g), 1/sqrt(c - g))
    att = np.asarray(v["params"]["attention"])
    assert att.shape == (6, 4) and 0 < np.abs(att).max() <= bound
    v0 = {"params": {**v["params"], "attention": jnp.zeros_like(v["params"]["attention"])}}
    plain = jax.lax.conv_general_dilated(x.reshape(-1, 6, 6, 4), v["params"]["kernel"], (1, 1),
                                         ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    out = jax.jit(layer.apply)(v0, x)
    np.testing.assert_allclose(np.asarray(out).reshape(plain.shape), plain, atol=1e-5)


def test_arc_rejects_widths_not_divisible_by_steps():
    with pytest.raises(ValueError, match="divisible by steps=4"):
        ARCTSMResNetConfig(stem_width=6)
    with pytest.raises(ValueError, match="3 equal steps"):
        ARCConv(8, 3, 1, 3).init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 4, 4, 2)))


# ------------------------------------------------------------------ tiny variants
NUM_CLASSES = 5


def tiny(name, **overrides):
    """The variant's ``small()`` copy (T=4, 32x32, narrow widths; same block kinds, shift and ARC rules)."""
    return create_config(name).small(num_classes=NUM_CLASSES, **overrides)


def realistic_variables(cfg, seed=0):
    """Variables that look trained: BN statistics and affines perturbed (some
    negative BN scales), ARC's We / Wa / Wf non-zero, kernels N(0, 1/fan_in)."""
    model = cfg.build()
    x = jax.ShapeDtypeStruct((1, *cfg.input_shape), jnp.float32)
    shapes = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)
    rng = np.random.default_rng(seed)

    def value(path, leaf):
        keys = [str(getattr(p, "key", p)) for p in path]
        name, parent, shape = keys[-1], keys[-2], leaf.shape
        if keys[0] == "batch_stats":
            v = rng.normal(0, 0.3, shape) if name == "mean" else rng.uniform(0.5, 2.0, shape)
        elif "bn" in parent:
            v = (rng.uniform(0.6, 1.3, shape) * rng.choice([1, 1, 1, -1], shape) if name == "scale"
                 else rng.normal(0, 0.2, shape))
        elif name in ("embed", "attention", "fusion"):
            v = rng.normal(0, 0.5 / np.sqrt(shape[0]), shape)
        elif name == "bias":
            v = rng.normal(0, 0.1, shape)
        else:                                             # kernels: HWIO or (C_in, C_out)
            v = rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
        return jnp.asarray(v, jnp.float32)

    return jax.tree_util.tree_map_with_path(value, dict(shapes))


# init / forward / finite gradients of every variant: tests/test_variants.py


def _eqns(jaxpr):
    """Every equation of ``jaxpr``, nested jaxprs (pjit, custom_jvp) included."""
    for e in jaxpr.eqns:
        yield e
        for p in e.params.values():
            for sub in (p if isinstance(p, (tuple, list)) else (p,)):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _eqns(inner)


@pytest.mark.parametrize("name", ["tsm_resnet18", "tsm_resnet50", "tsm_mobilenetv2"])
def test_shift_placement(name):
    """One shift (two time pads) per ResNet block; MobileNetV2: only in residual blocks."""
    cfg = tiny(name, impl="lowered")      # "shifted" depthwise convs would add spatial pads
    x = jnp.zeros((1, *cfg.input_shape))
    v = jax.eval_shape(cfg.build().init, jax.random.PRNGKey(0), x)
    jaxpr = jax.make_jaxpr(lambda v, x: cfg.build().apply(v, x))(v, x)
    pads = [e for e in _eqns(jaxpr.jaxpr) if e.primitive.name == "pad"]
    assert all(e.params["padding_config"][1] in ((0, 1, 0), (1, 0, 0)) for e in pads)   # time axis
    if name == "tsm_mobilenetv2":
        shifted = sum(r for *_, r in cfg.layout())
        full = [(s, b) for s, b, *_, r in create_config(name).layout() if r]
        assert len(full) == 10 and (1, 0) not in full and (2, 1) in full
    else:
        shifted = sum(cfg.depths)
    assert shifted > 0 and len(pads) == 2 * shifted


@pytest.mark.parametrize("name", BASELINES)
def test_deploy_form_equals_training_form_and_exports(name, tmp_path):
    """Deploy form (BN folded, frames-major NCHW, no Transpose) == training form;
    its ONNX export passes the checker, the TensorRT allow-list (strict deploy
    form) and ONNX Runtime parity against the training form, with a dynamic batch."""
    cfg = tiny(name)
    variables = realistic_variables(cfg, seed=1)
    x = np.random.default_rng(2).normal(size=(2, *cfg.input_shape)).astype(np.float32)
    ref = np.asarray(jax.jit(lambda v, x: cfg.build().apply(v, x))(variables, x))
    assert np.std(ref) > 0.05, "logits too flat for a meaningful comparison"
    dm = DeployModel.from_variables(cfg, variables)
    out = np.asarray(dm.apply_channels_last(x))
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)
    # the comparison can fail: a dropped BN mean, or an ARC layer without its recursion
    broken = jax.tree_util.tree_map(np.copy, dm.params)
    stem = broken["stem"]
    if "fusion" in stem:
        stem["fusion"][:] = 0.0
        stem["attention"][:] = 0.0
    else:
        stem["b"][:] = 0.0
    bad = np.asarray(DeployModel(cfg, broken).apply_channels_last(x))
    assert np.abs(bad - ref).max() > 1e-2

    x_ntchw = np.ascontiguousarray(np.transpose(x, (0, 1, 4, 2, 3)))
    path = tmp_path / f"{name}.onnx"
    model = export_jax2onnx(dm.as_function(), (None, cfg.frames, 3, cfg.size, cfg.size), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert validate_for_tensorrt(model, strict_deploy=True) == []
    ops = [n.op_type for n in model.graph.node]
    assert "Transpose" not in ops
    runner = OrtRunner(path)
    onnx_out = runner(x_ntchw)                        # dynamic batch, here 2
    row = compare(ref, onnx_out)
    assert row["passed"], row
