"""Starting a run from pretrained weights: the ``init`` section of a run config.

``init.checkpoint`` names a file of another project (see :mod:`jaxar.weights`
and docs/weights.md); ``init.format`` is ``auto`` (detected from the keys, and
said so) or a source format. On a fresh run (never on a resume, which restores
its own state) :func:`start_from` imports the file into the new
:class:`~jaxar.train.state.TrainState`:

* the classifier is kept when the file's class count matches the model's and
  re-initialised (the fresh init) when it differs -- the log says which;
  parameters no source has (ARC's We/Wa/Wf) keep their initialisation;
* ``freeze_bn``: BatchNorm uses its (imported) running statistics in training
  too and never updates them (the BN affine still trains);
* ``freeze_backbone``: every pretrained parameter but the classifier gets a
  zero update (implies ``freeze_bn``: a frozen backbone whose statistics drift
  is not frozen);
* ``backbone_lr_mult``: the pretrained parameters (all but the classifier and
  the parameters the file lacks by design) train at ``lr * backbone_lr_mult``
  (``optax.multi_transform`` over the groups ``backbone`` / ``head`` / ``new``).

The optimizer groups and the BN mode depend on the config only, so a resumed
run rebuilds the same optimizer-state structure without reading the file.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
from ml_collections import config_dict

from jaxar.modules.layers import BN_EPS, BatchNorm

HEAD = {"x3d": ("head", "classifier"), "tsm_resnet": ("head", "fc"), "arc_tsm_resnet": ("head", "fc"),
        "tsm_mobilenetv2": ("head", "fc"), "x3d_ugt": ("classifier",), "ean": ("fc",)}
NEW = ("embed", "attention", "fusion")           # ARC's own parameters: no source has them


def _is_new(keys: tuple[str, ...], family: str) -> bool:
    """A parameter no source file has by design: ARC's We/Wa/Wf, EAN's own modules."""
    if family == "ean":
        from jaxar.weights.resnet import ean_extra
        return ean_extra(("params", *keys))
    return keys[-1] in NEW


def init_section() -> ml_collections.ConfigDict:
    """The ``init`` section of :func:`jaxar.train.config.default_config` (defaults: off)."""
    c = ml_collections.ConfigDict()
    c.checkpoint = config_dict.placeholder(str)   # a .pth/.pyth/.safetensors file; None: from scratch
    c.format = "auto"                              # auto | pytorchvideo | torchvision | timm | mmaction2 | tsm | jaxar-torch
    c.freeze_bn = False                            # BN in inference mode during training, stats fixed
    c.freeze_backbone = False                      # only the classifier (and ARC's new params) train
    c.backbone_lr_mult = 1.0                       # lr of the pretrained part = lr * this
    return c


def validate(section: ml_collections.ConfigDict) -> None:
    from jaxar.weights.formats import FORMATS
    if section.format not in ("auto", *FORMATS):
        raise ValueError(f"init.format must be auto or one of {', '.join(FORMATS)}, got {section.format!r}")
    if not section.backbone_lr_mult >= 0:
        raise ValueError(f"init.backbone_lr_mult must be >= 0, got {section.backbone_lr_mult}")
    if section.checkpoint is not None and not Path(section.checkpoint).is_file():
        raise ValueError(f"init.checkpoint: file {section.checkpoint} does not exist (jaxar never "
                         f"downloads; fetch the file first, see docs/weights.md)")


def _family(model_cfg) -> str:
    return model_cfg.family


def param_labels(params, model_cfg) -> Any:
    """``"head"`` (the classifier), ``"new"`` (ARC's We/Wa/Wf, EAN's ME/temporal
    conv/EAB/SOI-Tr/LMC) or ``"backbone"``
    for every leaf of ``params``."""
    family = _family(model_cfg)
    head = HEAD[family]

    def label(path, _):
        keys = tuple(str(getattr(p, "key", p)) for p in path)
        if keys[:len(head)] == head:
            return "head"
        return "new" if _is_new(keys, family) else "backbone"
    return jax.tree_util.tree_map_with_path(label, params)


def wants_optimizer_groups(section) -> bool:
    return bool(section.freeze_backbone or section.backbone_lr_mult != 1.0)


def make_optimizer(tx: optax.GradientTransformation, section, model_cfg,
                   params_shapes) -> optax.GradientTransformation:
    """``tx`` for the head and new parameters; for the backbone ``tx`` scaled by
    ``backbone_lr_mult`` or zero (``freeze_backbone``). ``tx`` itself when neither is set.
    ``params_shapes``: the model's params (arrays or ShapeDtypeStructs), or a
    function returning them (called only when groups are needed)."""
    if not wants_optimizer_groups(section):
        return tx
    if callable(params_shapes):
        params_shapes = params_shapes()
    if section.freeze_backbone or section.backbone_lr_mult == 0:
        backbone = optax.set_to_zero()
    else:
        backbone = optax.chain(tx, optax.scale(float(section.backbone_lr_mult)))
    return optax.multi_transform({"head": tx, "new": tx, "backbone": backbone},
                                 param_labels(params_shapes, model_cfg))


def _bn_in_inference_mode(next_fun, args, kwargs, context):
    """Method interceptor: a training-mode :class:`BatchNorm` call normalises with
    the running statistics and leaves them unchanged (as in evaluation)."""
    mod = context.module
    if context.method_name != "__call__" or not isinstance(mod, BatchNorm) or mod.use_running_average:
        return next_fun(*args, **kwargs)
    x = args[0]
    mean, var = mod.get_variable("batch_stats", "mean"), mod.get_variable("batch_stats", "var")
    scale, bias = mod.get_variable("params", "scale"), mod.get_variable("params", "bias")
    if mean is None or scale is None:          # initialisation: let BN create its variables
        return next_fun(*args, **kwargs)
    y = (x.astype(jnp.float32) - mean) * (scale * jax.lax.rsqrt(var + BN_EPS)) + bias
    return y.astype(mod.dtype)


class FrozenBNModel:
    """``model`` whose ``apply`` runs every BatchNorm in inference mode (train=True
    still drives dropout); everything else is delegated to ``model``."""

    def __init__(self, model: nn.Module):
        self.model = model

    def apply(self, *args, **kwargs):
        with nn.intercept_methods(_bn_in_inference_mode):
            return self.model.apply(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.model, name)


def freezes_bn(section) -> bool:
    return bool(section.freeze_bn or section.freeze_backbone)


def train_model(model: nn.Module, section):
    """The model the training step applies: BN frozen when the section says so."""
    return FrozenBNModel(model) if freezes_bn(section) else model


def start_from(state, tx: optax.GradientTransformation, section, model_cfg,
               say: Callable[[str], None] = print, report_path: Path | None = None):
    """``state`` (fresh) with ``section.checkpoint`` imported into its params and
    batch_stats and the optimizer state rebuilt; ``state`` itself without a file.
    Says (and writes to ``report_path``) what was loaded and what the head did."""
    if section.checkpoint is None:
        return state
    from jaxar.weights import import_weights, merge
    imported = import_weights(section.checkpoint, model_cfg, section.format)
    variables = merge({"params": state.params, "batch_stats": state.batch_stats}, imported)
    lines = [imported.report.summary(),
             f"  training: freeze_bn={freezes_bn(section)}, freeze_backbone={bool(section.freeze_backbone)}, "
             f"backbone_lr_mult={section.backbone_lr_mult}"]
    for line in lines:
        say("init: " + line)
    if report_path is not None:
        from jaxar.runtime.files import atomic_write_text
        detail = "\n".join(f"{s} -> {d}" for s, d in imported.report.loaded)
        atomic_write_text(report_path, "\n".join(lines) + "\n\nloaded:\n" + detail + "\n")
    params = variables["params"]
    return state.replace(params=params, batch_stats=variables["batch_stats"], opt_state=tx.init(params))
