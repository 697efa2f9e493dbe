"""Fine-tuning from pretrained weights: optimizer groups, frozen BN, and the CLI.

Unit: ``param_labels`` puts the classifier in ``head``, ARC's We/Wa/Wf in ``new``
and the rest in ``backbone``; ``backbone_lr_mult`` scales the backbone's update
and ``freeze_backbone`` zeroes it; a frozen-BN model trains with the running
statistics (its train-mode logits are the eval-mode ones) and leaves them as
they were. The CLI run is in ``tests/test_weights_finetune_cli.py``.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar.initialization import fast_compile_options, init_variables
from jaxar.optim import sgd_torch
from jaxar.registry import create_config
from jaxar.train import init_from
from jaxar.train.config import load_config

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(num_classes=4, frames=4, size=32, impl="lowered", stem_width=8, widths=(8, 16), depths=(1, 1),
            dropout=0.0)


def section(**kw):
    c = init_from.init_section()
    for k, v in kw.items():
        c[k] = v
    return c


def shapes(cfg):
    model = cfg.build()
    x = jax.ShapeDtypeStruct((1, *cfg.input_shape), jnp.float32)
    return jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)


def test_labels_split_head_new_and_backbone():
    arc = create_config("arc_tsm_resnet18", **{**TINY, "depths": (1,), "widths": (8,)})
    labels = init_from.param_labels(shapes(arc)["params"], arc)
    assert labels["head"]["fc"] == {"kernel": "head", "bias": "head"}
    assert labels["stem"] == {"kernel": "backbone", "embed": "new", "attention": "new", "fusion": "new"}
    assert labels["stage1"]["block0"]["bn1"]["scale"] == "backbone"
    x3d = create_config("x3d_s").small()
    lx = init_from.param_labels(shapes(x3d)["params"], x3d)
    assert lx["head"]["classifier"]["kernel"] == "head" and lx["head"]["hidden"]["kernel"] == "backbone"


@pytest.mark.parametrize("kw, backbone_step", [({"backbone_lr_mult": 0.1}, -0.1), ({"freeze_backbone": True}, 0.0),
                                               ({}, -1.0)])
def test_backbone_lr_mult_and_freeze_shape_the_update(kw, backbone_step):
    cfg = create_config("tsm_resnet18", **TINY)
    params = jax.tree.map(lambda s: jnp.ones(s.shape), shapes(cfg)["params"])
    tx = init_from.make_optimizer(sgd_torch(1.0, momentum=0.0, weight_decay=0.0), section(**kw), cfg,
                                  lambda: params)
    updates, _ = tx.update(jax.tree.map(jnp.ones_like, params), tx.init(params), params)
    np.testing.assert_allclose(np.asarray(updates["stem"]["kernel"]), backbone_step, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(updates["head"]["fc"]["kernel"]), -1.0)


def test_frozen_bn_trains_with_running_statistics_and_keeps_them():
    cfg = create_config("tsm_resnet18", **TINY)
    model = cfg.build()
    x = jax.random.normal(jax.random.PRNGKey(1), (2, *cfg.input_shape))
    v = init_variables(model, jax.random.PRNGKey(0), x)
    rng = np.random.default_rng(0)
    v = {"params": v["params"],
         "batch_stats": jax.tree.map(lambda a: jnp.asarray(rng.uniform(0.5, 1.5, a.shape), jnp.float32),
                                     v["batch_stats"])}
    frozen = init_from.train_model(model, section(freeze_bn=True))
    jit = lambda f: jax.jit(f, compiler_options=fast_compile_options())          # noqa: E731
    logits, upd = jit(lambda v, x: frozen.apply(v, x, train=True, mutable=["batch_stats"]))(v, x)
    evaluated = jit(lambda v, x: model.apply(v, x, train=False))(v, x)
    np.testing.assert_allclose(np.asarray(logits), np.asarray(evaluated), rtol=1e-5, atol=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(upd["batch_stats"]),
                                                    jax.tree.leaves(v["batch_stats"])))
    plain, _ = jit(lambda v, x: model.apply(v, x, train=True, mutable=["batch_stats"]))(v, x)
    assert np.abs(np.asarray(plain) - np.asarray(logits)).max() > 1e-3
    assert init_from.train_model(model, section(freeze_backbone=True)).__class__ is init_from.FrozenBNModel
    assert init_from.train_model(model, section()) is model


def test_init_section_is_validated(tmp_path):
    with pytest.raises(ValueError, match="init.format must be auto or one of"):
        load_config(ROOT / "experiments/finetune_tiny.py", ["init.format=caffe"])
    with pytest.raises(ValueError, match="jaxar never downloads"):
        load_config(ROOT / "experiments/finetune_tiny.py", [f"init.checkpoint={tmp_path / 'nope.pth'}"])
    with pytest.raises(ValueError, match="backbone_lr_mult must be >= 0"):
        load_config(ROOT / "experiments/finetune_tiny.py", ["init.backbone_lr_mult=-1.0"])
