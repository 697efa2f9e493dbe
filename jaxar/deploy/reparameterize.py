"""Training form -> deploy form: builds the folded parameter tree.

``reparameterize(config, variables)`` reads the trained ``{"params",
"batch_stats"}`` of :class:`jaxar.network.X3DUGT` by name and returns a
nested dict of float32 numpy arrays in the layouts that
:mod:`jaxar.deploy.network` consumes:

* every BN is folded into the conv before it (conv gets a bias);
* the Ghost cheap conv is trimmed to the channels that survive the final
  slice to ``C_out``;
* the mid depthwise pair keeps the spatial kernel with the ``dw_bn`` scale
  folded in (``dw_spatial``), the temporal kernel as is, and the BN shift as a
  separate ``dw_bias`` (it must be added after the temporal taps and after
  TAda, so it cannot live in the conv);
* TAda: ``beta`` is folded into the gate's expand GEMM and the ``1 +`` into
  its bias, so the gate GEMM directly produces the calibration
  ``a = 1 + beta * g`` (exact: ``beta*(W2 z + b2) + 1 = (beta W2) z + (beta b2 + 1)``);
* dropout disappears (it is the identity in eval mode).

Kernels are stored once per channel; the deploy graph repeats depthwise
kernels over frames and turns dense kernels into 1x1 conv kernels while
tracing (numpy, so they export as initializers).

Output tree (``E`` expanded width, ``h`` TAda width; all OIHW kernels)::

    stem:   {w (C0,3,3,3), b}
    stage{s}/block{b}:
        pre_dw:   {w (C,1,k,k), b}                 (if the block has one)
        expand:   ghost
        dw_spatial (E,1,k,k), dw_temporal (k_t,E), dw_bias (E,)
        tada:     {reduce_w (E,h), reduce_b, temporal_w (k_t,h), temporal_b,
                   expand_w (h,E), expand_b}       (T-UIB blocks)
        se:       {reduce_w, reduce_b, expand_w, expand_b}   (SE stages)
        project:  ghost;  shortcut: ghost          (if not identity)
    head_proj: ghost;  classifier: {w (C_head, classes), b}
    ghost = {primary_w (m,C_in,1,1), primary_b, cheap_w (K',1,k,k), cheap_b}
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from jaxar.config import ModelConfig
from jaxar.deploy.bn_fold import bn_affine, f32, fold_into_oihw, hwio_to_oihw, pointwise_to_oihw
from jaxar.modules.ghost import ghost_channels


def _get(tree: Mapping, path: str) -> Any:
    node = tree
    for key in path.split("/"):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(f"variables lack {path!r} (missing {key!r}); do they belong to this "
                           f"model config?")
        node = node[key]
    return node


def _conv_bn(params, stats, conv: str, bn: str, pointwise: bool = False) -> dict:
    kernel = _get(params, f"{conv}/kernel")
    w = pointwise_to_oihw(kernel) if pointwise else hwio_to_oihw(kernel)
    s, b = bn_affine(_get(params, bn), _get(stats, bn))
    w, b = fold_into_oihw(w, s, b)
    return {"w": w, "b": b}


def _ghost(params, stats, prefix: str, features: int, ratio: int) -> dict:
    m, cheap = ghost_channels(features, ratio)
    pri = _conv_bn(params, stats, f"{prefix}/primary", f"{prefix}/primary_bn", pointwise=True)
    if pri["w"].shape[0] != m:
        raise ValueError(f"{prefix}: primary conv has {pri['w'].shape[0]} outputs, config says {m}")
    out = {"primary_w": f32(pri["w"]), "primary_b": f32(pri["b"])}
    if cheap == 0:
        return out
    chp = _conv_bn(params, stats, f"{prefix}/cheap", f"{prefix}/cheap_bn")
    keep = min(features - m, cheap)                   # cheap channels left after the slice
    mult = ratio - 1
    keep = math.ceil(keep / mult) * mult              # whole groups: C_in_used * mult outputs
    out["cheap_w"] = f32(chp["w"][:keep])
    out["cheap_b"] = f32(chp["b"][:keep])
    return out


def _dense(params, path: str) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(_get(params, f"{path}/kernel"), np.float64), \
        np.asarray(_get(params, f"{path}/bias"), np.float64)


def _block(params, stats, cfg: ModelConfig, s: int, b: int, cin: int) -> dict:
    p, st = _get(params, f"stage{s}/block{b}"), _get(stats, f"stage{s}/block{b}")
    width, stride = cfg.widths[s - 1], (cfg.strides[s - 1] if b == 0 else 1)
    out: dict = {}
    if cfg.pre_dw == "all" or (cfg.pre_dw == "stride" and stride > 1):
        out["pre_dw"] = {k: f32(v) for k, v in _conv_bn(p, st, "pre_dw", "pre_dw_bn").items()}
    out["expand"] = _ghost(p, st, "expand", cfg.expanded(s), cfg.ghost_ratio)
    sc, sh = bn_affine(_get(p, "dw_bn"), _get(st, "dw_bn"))
    out["dw_spatial"] = f32(hwio_to_oihw(_get(p, "dw_spatial/kernel")) * sc[:, None, None, None])
    out["dw_temporal"] = f32(_get(p, "dw_temporal/kernel"))
    out["dw_bias"] = f32(sh)
    if "tada" in p:
        w1, b1 = _dense(p, "tada/reduce")
        w2, b2 = _dense(p, "tada/expand")
        beta = float(np.asarray(_get(p, "tada/beta")))
        out["tada"] = {"reduce_w": f32(w1), "reduce_b": f32(b1),
                       "temporal_w": f32(_get(p, "tada/temporal/kernel")),
                       "temporal_b": f32(_get(p, "tada/temporal/bias")),
                       "expand_w": f32(beta * w2), "expand_b": f32(beta * b2 + 1.0)}
    if "se" in p:
        w1, b1 = _dense(p, "se/reduce")
        w2, b2 = _dense(p, "se/expand")
        out["se"] = {"reduce_w": f32(w1), "reduce_b": f32(b1), "expand_w": f32(w2), "expand_b": f32(b2)}
    out["project"] = _ghost(p, st, "project", width, cfg.ghost_ratio)
    if stride > 1 or cin != width:
        out["shortcut"] = _ghost(p, st, "shortcut", width, cfg.ghost_ratio)
    return out


def reparameterize(config: ModelConfig, variables: Mapping) -> dict:
    """Folds trained ``{"params", "batch_stats"}`` into the deploy parameter tree
    (see the module docstring for its layout). Pure numpy; no tracing."""
    if not isinstance(variables, Mapping) or "params" not in variables:
        raise ValueError("variables must be a mapping with 'params' and 'batch_stats' "
                         f"(got keys {sorted(variables) if isinstance(variables, Mapping) else type(variables)})")
    params, stats = variables["params"], variables.get("batch_stats", {})
    stem = _conv_bn(params, stats, "stem", "stem_bn")
    tree: dict = {"stem": {"w": f32(stem["w"]), "b": f32(stem["b"])}}
    cin = config.stem_width
    for s in range(1, len(config.widths) + 1):
        stage = {}
        for b in range(config.depths[s - 1]):
            stage[f"block{b}"] = _block(params, stats, config, s, b, cin)
            cin = config.widths[s - 1]
        tree[f"stage{s}"] = stage
    tree["head_proj"] = _ghost(params, stats, "head_proj", config.head_width, config.ghost_ratio)
    w, b = _dense(params, "classifier")
    tree["classifier"] = {"w": f32(w), "b": f32(b)}
    return tree


def count_params(tree: Mapping) -> int:
    """Number of scalars in a deploy tree (BN gone, so fewer than training)."""
    n = 0
    for v in tree.values():
        n += count_params(v) if isinstance(v, Mapping) else int(np.asarray(v).size)
    return n
