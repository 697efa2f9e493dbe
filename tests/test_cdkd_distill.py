"""CD-KD distillation training: the teacher is frozen (no gradient reaches its
variables, its BN statistics do not move), the KD switch, teacher features, the
compressed proxy source, and the CLI with and without KD (tiny shapes)."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.demo_variables import realistic_variables
from jaxar.checkpoint import Checkpointer
from jaxar.registry import config_to_json
from jaxar.distill.proxy_data import proxy_compressed
from jaxar.distill.step import KDSettings, make_distill_train_step
from jaxar.distill.teacher import Teacher, feature_layer_of
from jaxar.distill.train import create_student_state
from jaxar.initialization import fast_compile_options
from jaxar.losses import make_loss_fn
from jaxar.models.cdkd import tiny_backbone
from jaxar.optim import sgd_torch
from jaxar.registry import create_config
from jaxar.train.state import create_train_state

T, S, K = 4, 32, 5


def tiny_teacher():
    cfg = create_config("x3d_ugt_tiny", num_classes=K, frames=T, size=S)
    return Teacher(cfg, realistic_variables(cfg, seed=0))


def tiny_student(teacher_dim, **kw):
    return create_config("cdkd_mobilenetv2").small(frames=T, size=S, num_classes=K,
                                                   teacher_features=teacher_dim, **kw)


def batch(n=2, seed=0):
    video = np.random.default_rng(seed).normal(size=(n, T, S, S, 3)).astype(np.float32)
    return {**proxy_compressed(video, gop=2), "label": np.arange(n, dtype=np.int32) % K}


def test_teacher_is_frozen_and_gets_no_gradient():
    teacher = tiny_teacher()
    dim = teacher.feature_dim(T, S)
    assert dim == 64                                            # x3d_ugt_tiny head_proj width
    cfg = tiny_student(dim)
    model, tx = cfg.build(), sgd_torch(1.0, 0.9, 0.0)          # no weight decay: only gradients move
    state = create_student_state(model, tx, cfg, seed=0)
    assert not {"head_proj", "stem"} & set(state.params)        # the teacher is not in the state
    step = make_distill_train_step(model, teacher, tx, make_loss_fn("ce"), KDSettings())
    b = {k: jnp.asarray(v) for k, v in batch().items()}
    lr = jnp.float32(0.1)
    before = jax.tree.map(np.array, teacher.variables)
    student_stats = jax.tree.map(np.array, state.batch_stats)

    # no gradient reaches the teacher: d(loss)/d(teacher variables) == 0 everywhere
    grad_teacher = jax.jit(jax.grad(lambda tv: step(state, tv, b, lr)[1]["loss"]),
                           compiler_options=fast_compile_options())(teacher.variables)
    leaves = jax.tree.leaves(grad_teacher)
    assert leaves and all(np.all(np.asarray(g) == 0) for g in leaves)
    # ... although the loss does depend on the teacher's features
    new, metrics = jax.jit(step, compiler_options=fast_compile_options())(state, teacher.variables, b, lr)
    assert bool(metrics["finite"]) and float(metrics["spatial"]) > 0 and float(metrics["temporal"]) > 0
    assert float(metrics["loss"]) == pytest.approx(
        float(metrics["ce"]) + 0.1 * float(metrics["spatial"]) + float(metrics["temporal"]), rel=1e-5)
    # the teacher's parameters and BN statistics are untouched; the student's moved
    after = jax.tree.map(np.array, teacher.variables)
    assert jax.tree.all(jax.tree.map(np.array_equal, before, after))
    moved = jax.tree.map(lambda a, b: not np.array_equal(a, b), student_stats,
                         jax.tree.map(np.array, new.batch_stats))
    assert any(jax.tree.leaves(moved))
    # the distillation heads learn from the KD terms
    for part in ("pseudo_decoder", "attention_gate"):
        changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), state.params[part],
                               new.params[part])
        assert any(jax.tree.leaves(changed)), part


def test_kd_off_is_plain_cross_entropy_without_a_teacher():
    cfg = tiny_student(16)
    model, tx = cfg.build(), sgd_torch(1.0, 0.9, 0.0)
    state = create_student_state(model, tx, cfg, seed=1)
    step = make_distill_train_step(model, None, tx, make_loss_fn("ce"), KDSettings(enabled=False))
    b = {k: jnp.asarray(v) for k, v in batch(seed=1).items()}
    new, m = jax.jit(step, compiler_options=fast_compile_options())(state, None, b, jnp.float32(0.1))
    assert float(m["spatial"]) == 0 and float(m["temporal"]) == 0
    assert float(m["loss"]) == pytest.approx(float(m["ce"]))
    # the distillation heads get no update without KD (no weight decay here)
    assert jax.tree.all(jax.tree.map(np.array_equal, state.params["pseudo_decoder"],
                                     new.params["pseudo_decoder"]))
    with pytest.raises(ValueError, match="no teacher"):
        make_distill_train_step(model, None, tx, make_loss_fn("ce"), KDSettings())


def test_teacher_features_for_tsm():
    from jaxar.models.tsm_resnet import tsm_resnet50
    cfg = tiny_backbone(tsm_resnet50()).replace(num_classes=K, frames=T, size=S)
    teacher = Teacher(cfg, realistic_variables(cfg, seed=2))
    assert feature_layer_of(cfg) == "stage4" and teacher.feature_dim(T, S) == 64
    x = jnp.asarray(batch()["frames"])
    h = teacher.features(teacher.variables, x)
    assert h.shape == (2, T, 64)
    # h_t is frame t's pooled feature: the classifier applied to it reproduces the logits
    fc = teacher.variables["params"]["head"]["fc"]
    logits = jnp.mean(h @ fc["kernel"] + fc["bias"], axis=1)
    assert np.allclose(logits, cfg.build().apply(teacher.variables, x), atol=1e-4)
    # other families and refusals: tests/test_cdkd_teachers.py


def test_proxy_source_shapes():
    video = np.random.default_rng(0).normal(size=(2, 3, T, 8, 8, 3)).astype(np.float32)
    out = proxy_compressed(video, gop=2)
    assert out["mv"].shape == (2, 3, T, 8, 8, 2) and np.abs(out["mv"]).max() <= 1.0
    assert np.array_equal(out["iframe"][..., 1, :, :, :], video[..., 0, :, :, :])
    assert np.all(out["residual"][..., 0, :, :, :] == 0) and np.all(out["mv"][..., 2, :, :, :] == 0)
    with pytest.raises(ValueError, match="proxy_gop"):
        proxy_compressed(video, 0)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    """A real jaxar checkpoint of a (untrained, BN-perturbed) X3D-UGT teacher."""
    d = tmp_path_factory.mktemp("teacher")
    cfg = create_config("x3d_ugt_tiny", num_classes=K, frames=T, size=S)
    model = cfg.build()
    state = create_train_state(model, sgd_torch(1.0), cfg.input_shape, seed=0)
    v = realistic_variables(cfg, seed=3)
    state = state.replace(params=v["params"], batch_stats=v["batch_stats"])
    ck = Checkpointer(d, async_save=False)
    ck.save(1, state, {"step": 1, "model_config": config_to_json(cfg), "class_names": None,
                       "data": {"seed": 0, "next_step": 1}})
    ck.close()
    return d


@pytest.mark.slow          # three short training runs in-process (minutes on 2 cores)
def test_cli_trains_with_and_without_kd_and_resumes(teacher_dir, tmp_path, capsys):
    from jaxar.distill.train import main
    common = ["--config", "experiments/cdkd_proxy.py", "--config.model.num_classes=5",
              f"--config.model.frames={T}", "--config.model.teacher_features=64",
              "--config.data.synthetic_train=8", "--config.data.synthetic_test=4",
              f"--config.data.synthetic_frames={T}", "--config.batch_size=4",
              "--config.eval_every=2", "--config.log_every=1", "--config.progress=false",
              "--config.checkpoint.async_save=false", "--config.optim.warmup_epochs=0"]
    wrong = [a for a in common if "teacher_features" not in a] + ["--config.model.teacher_features=32"]
    with pytest.raises(ValueError, match="set --config.model.teacher_features=64"):
        main([*wrong, "--workdir", str(tmp_path / "bad"), f"--config.kd.teacher={teacher_dir}",
              "--config.steps=2"])
    runs = {}
    for kd in ("true", "false"):
        work = tmp_path / f"kd_{kd}"
        args = [*common, "--workdir", str(work), f"--config.kd.enabled={kd}",
                f"--config.kd.teacher={teacher_dir}", "--config.steps=2"]
        assert main(args) == 0
        log = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
        train = [r for r in log if r["kind"] == "train"]
        assert len(train) == 2, log
        runs[kd] = train
        assert json.loads((work / "results.json").read_text())["step"] == 2
    assert all(r["spatial"] > 0 and r["temporal"] > 0 for r in runs["true"])
    assert all(r["spatial"] == 0 and r["temporal"] == 0 for r in runs["false"])
    # jaxar.evaluate reads a student's compressed-domain inputs (no teacher needed) and
    # reproduces the run's own final evaluation of the same checkpoint
    from jaxar.evaluate import main as evaluate_main
    work = tmp_path / "kd_true"
    assert evaluate_main(["--workdir", str(work), "--out", str(tmp_path / "eval_kd")]) == 0
    evaluated = json.loads((tmp_path / "eval_kd" / "eval.json").read_text())
    final = json.loads((work / "results.json").read_text())["eval"]
    assert evaluated["checkpoint_step"] == 2 and evaluated["count"] == final["count"] == 4
    assert evaluated["top1"] == final["top1"]
    assert abs(evaluated["loss"] - final["loss"]) <= 1e-5 * max(1.0, abs(final["loss"]))
    # the same command again resumes from the step-2 checkpoint (nothing left to train)
    work = tmp_path / "kd_true"
    assert main([*common, "--workdir", str(work), "--config.kd.enabled=true",
                 f"--config.kd.teacher={teacher_dir}", "--config.steps=2"]) == 0
    starts = [r for r in map(json.loads, (work / "log.jsonl").read_text().splitlines())
              if r["kind"] == "event" and r.get("event") == "start"]
    assert [r["start_step"] for r in starts] == [0, 2]
