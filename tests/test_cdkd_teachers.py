"""The CD-KD teacher contract (jaxar/distill/teacher.py, ModelConfigBase.frame_features):
every family that declares per-frame features gives h (N, T, C) with the declared C,
refused families say why, and model.teacher_features is filled from a teacher
checkpoint (tiny shapes; the slow-compiling ARC / EAN are shape-traced only)."""
import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.checkpoint import Checkpointer
from jaxar.demo_variables import realistic_variables
from jaxar.distill.config import distill_config, resolve_teacher_features
from jaxar.distill.teacher import Teacher, feature_layer_of, frame_features_of, teacher_width
from jaxar.models.base import ModelConfigBase, NoFrameFeaturesError
from jaxar.optim import sgd_torch
from jaxar.registry import config_to_json, create_config
from jaxar.train.state import create_train_state

T, S, K, N = 4, 32, 5, 2


def small(variant, **kw):
    return create_config(variant).small(**kw)


def frames(n=N, t=T, s=S, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(n, t, s, s, 3)).astype(np.float32))


@pytest.mark.parametrize("variant, layer", [
    ("x3d_ugt_tiny", "head_proj"),
    ("x3d_xs", "head/conv_bn"),
    ("tsm_resnet50", "stage2"),                # the small copy has two stages
    ("tsm_mobilenetv2", "head_proj"),
])
def test_accepted_families_give_per_frame_features(variant, layer):
    cfg = small(variant, frames=T, size=S, num_classes=K)
    teacher = Teacher(cfg, realistic_variables(cfg, seed=1))
    assert feature_layer_of(cfg) == layer
    h = jax.jit(teacher.features)(teacher.variables, frames())
    assert h.shape == (N, T, teacher.width) and teacher.width == cfg.frame_features().width
    assert np.all(np.isfinite(np.asarray(h))) and float(jnp.std(h)) > 0
    # one map per input frame at any T (the student's T need not be the teacher's)
    assert teacher.feature_dim(2 * T, S) == teacher.width
    assert jax.eval_shape(teacher.features, teacher.variables,
                          jax.ShapeDtypeStruct((1, 2 * T, S, S, 3), jnp.float32)).shape[:2] == (1, 2 * T)


def test_x3d_features_are_what_its_head_pools():
    """X3D's h_t is the head's conv+BN+ReLU map: pooling it over time and running the
    head's hidden and classifier layers reproduces the network's logits."""
    cfg = small("x3d_xs", frames=T, size=S, num_classes=K)
    v = realistic_variables(cfg, seed=2)
    h = Teacher(cfg, v).features(v, frames(seed=3))
    head = v["params"]["head"]
    z = jax.nn.relu(h.mean(axis=1) @ head["hidden"]["kernel"])
    logits = z @ head["classifier"]["kernel"] + head["classifier"]["bias"]
    np.testing.assert_allclose(logits, cfg.build().apply(v, frames(seed=3)), atol=1e-4)
    assert float(jnp.min(h)) >= 0.0                            # the ReLU is applied


def test_x3d_ugt_features_are_what_its_classifier_reads():
    cfg = small("x3d_ugt_tiny", frames=T, size=S, num_classes=K)
    v = realistic_variables(cfg, seed=4)
    h = Teacher(cfg, v).features(v, frames(seed=5))
    clf = v["params"]["classifier"]
    np.testing.assert_allclose(h.mean(axis=1) @ clf["kernel"] + clf["bias"],
                               cfg.build().apply(v, frames(seed=5)), atol=1e-4)


@pytest.mark.parametrize("variant, frames_, size", [("arc_tsm_resnet18", T, S), ("ean_r50_base", 4, 64),
                                                     ("ean_r50_eab5", 4, 64)])
def test_arc_and_rgb_ean_are_accepted_shape_traced(variant, frames_, size):
    cfg = small(variant, frames=frames_, size=size, num_classes=K)
    want = cfg.frame_features()
    variables = jax.eval_shape(lambda: cfg.build().init(jax.random.PRNGKey(0),
                                                        jnp.zeros((1, frames_, size, size, 3))))
    teacher = Teacher(cfg, variables)
    out = jax.eval_shape(teacher.features, variables,
                         jax.ShapeDtypeStruct((N, frames_, size, size, 3), jnp.float32))
    assert out.shape == (N, frames_, want.width) and want.width == teacher.width
    if variant.startswith("ean"):
        assert want.path == (("eab5",) if variant.endswith("eab5") else ("layer4",))


def test_refused_families_say_why():
    with pytest.raises(NoFrameFeaturesError, match="per segment of 5 frames"):
        Teacher(create_config("ean_r50_lmc").small(), {})
    with pytest.raises(NoFrameFeaturesError, match="input domain is 'compressed'"):
        Teacher(create_config("cdkd_mobilenetv2"), {})

    @dataclasses.dataclass(frozen=True)
    class Undeclared(ModelConfigBase):
        family: ClassVar[str] = "undeclared"

    with pytest.raises(NoFrameFeaturesError, match="Undeclared.*declares no per-frame feature layer"):
        frame_features_of(Undeclared())
    assert issubclass(NoFrameFeaturesError, ValueError)


def _checkpoint(directory, cfg):
    state = create_train_state(cfg.build(), sgd_torch(1.0), cfg.input_shape, seed=0)
    ck = Checkpointer(directory, async_save=False)
    ck.save(1, state, {"step": 1, "model_config": config_to_json(cfg), "class_names": None,
                       "data": {"seed": 0, "next_step": 1}})
    ck.close()


def test_teacher_features_filled_from_the_checkpoint(tmp_path):
    teacher_cfg = small("x3d_xs", frames=T, size=S, num_classes=K)
    _checkpoint(tmp_path / "t", teacher_cfg)
    width = teacher_width(tmp_path / "t")
    traced = Teacher.from_checkpoint(tmp_path / "t").feature_dim(T, S)
    assert width == traced == teacher_cfg.head_width

    cfg = distill_config("cdkd_mobilenetv2", num_classes=K, frames=T, size=S, tiny_streams=True)
    assert cfg.model.teacher_features is None
    cfg.kd.teacher = str(tmp_path / "t")
    filled = resolve_teacher_features(cfg)
    assert filled.model.teacher_features == width and cfg.model.teacher_features is None
    from jaxar.train.config import model_config
    assert model_config(filled).teacher_features == width

    cfg.model.teacher_features = width                           # agreeing value: kept
    assert resolve_teacher_features(cfg).model.teacher_features == width
    cfg.model.teacher_features = width + 8
    with pytest.raises(ValueError, match=f"teacher_features={width + 8}.*gives {width}-channel"):
        resolve_teacher_features(cfg)

    cfg.kd.teacher, cfg.kd.enabled = "", False                  # no teacher: nothing to fill
    assert resolve_teacher_features(cfg) is cfg
