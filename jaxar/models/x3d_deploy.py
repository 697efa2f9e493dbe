"""Deploy form of X3D: BN folded, channels-first 4-D graph.

``reparameterize(config, variables)`` folds the trained ``{"params",
"batch_stats"}`` of :class:`jaxar.models.x3d.X3D` into float32 numpy arrays;
``deploy_apply(config, params, x)`` maps ``(N, T, 3, H, W)`` float32 clips to
logits ``(N, num_classes)`` with the same function as
``X3D(config).apply(variables, x, train=False)`` on the transposed input.
Both are reached through :class:`jaxar.deploy.DeployModel`.

The graph uses the views of :mod:`jaxar.deploy.ops`: the stem's 1x3x3 conv
runs per frame on ``(N*T, 3, H, W)``, one Transpose switches to ``(N, C, T,
H*W)``, and from there every op is a 4-D Conv / elementwise / Slice / Pad /
Concat / ReduceMean. The ``k_t x k x k`` depthwise conv becomes ONE grouped
2-D Conv: the ``k_t`` zero-padded time shifts of the input are concatenated
on the last axis, so the ``(N, C*T*k_t, H, W)`` view holds, for every
(channel, frame) group, the ``k_t`` frames that output plane reads; the
kernel ``(C*T, k_t, k, k)`` repeats each channel's kernel over the frames
(at trace time, in numpy for export). No grouped 3-D conv, no BN, no dropout.

Folded tree (OIHW kernels)::

    stem:  {xy_w (C0,3,3,3), t_w (k_t0, C0) (BN scale folded), t_b (C0,)}
    stage{s}/block{b}:
        a: {w (E,C_in,1,1), b}   dw: {w (E,k_t,k,k), b}   [se: {reduce_w, reduce_b,
        expand_w, expand_b}]   c: {w (C_out,E,1,1), b}   [shortcut: {w, b}]
    head:  {conv_w (C_h,C_4,1,1), conv_b, hidden_w (C_h, D), classifier_w (D, classes),
            classifier_b}
"""
from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxar.deploy import ops
from jaxar.deploy.bn_fold import bn_affine, f32, fold_into_oihw, hwio_to_oihw, pointwise_to_oihw
from jaxar.deploy.network import activation


def _get(tree: Mapping, path: str) -> Any:
    node = tree
    for key in path.split("/"):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(f"variables lack {path!r} (missing {key!r}); do they belong to this "
                           f"X3D config?")
        node = node[key]
    return node


def _pointwise_bn(params, stats, conv: str, bn: str) -> dict:
    s, b = bn_affine(_get(params, bn), _get(stats, bn))
    w, b = fold_into_oihw(pointwise_to_oihw(_get(params, f"{conv}/kernel")), s, b)
    return {"w": f32(w), "b": f32(b)}


def _block(p, st, has_shortcut: bool) -> dict:
    out = {"a": _pointwise_bn(p, st, "conv_a", "conv_a_bn")}
    k = np.asarray(_get(p, "conv_b/kernel"), np.float64)               # (k_t, k, k, 1, E)
    s, b = bn_affine(_get(p, "conv_b_bn"), _get(st, "conv_b_bn"))
    out["dw"] = {"w": f32(np.transpose(k[..., 0, :], (3, 0, 1, 2)) * s[:, None, None, None]),
                 "b": f32(b)}
    if "se" in p:
        out["se"] = {"reduce_w": f32(_get(p, "se/reduce/kernel")), "reduce_b": f32(_get(p, "se/reduce/bias")),
                     "expand_w": f32(_get(p, "se/expand/kernel")), "expand_b": f32(_get(p, "se/expand/bias"))}
    out["c"] = _pointwise_bn(p, st, "conv_c", "conv_c_bn")
    if has_shortcut and "shortcut_bn" in p:
        out["shortcut"] = _pointwise_bn(p, st, "shortcut", "shortcut_bn")
    elif has_shortcut:                                                  # stride-only projection
        out["shortcut"] = {"w": f32(pointwise_to_oihw(_get(p, "shortcut/kernel"))), "b": None}
    return out


def reparameterize(config, variables: Mapping) -> dict:
    """Folds trained X3D variables into the deploy tree (module docstring). Pure numpy."""
    if not isinstance(variables, Mapping) or "params" not in variables:
        raise ValueError("variables must be a mapping with 'params' and 'batch_stats' "
                         f"(got keys {sorted(variables) if isinstance(variables, Mapping) else type(variables)})")
    params, stats = variables["params"], variables.get("batch_stats", {})
    s, b = bn_affine(_get(params, "stem/conv_t_bn"), _get(stats, "stem/conv_t_bn"))
    tree: dict = {"stem": {
        "xy_w": f32(hwio_to_oihw(_get(params, "stem/conv_xy/kernel"))),
        "t_w": f32(np.asarray(_get(params, "stem/conv_t/kernel"), np.float64) * s),
        "t_b": f32(b)}}
    cin = config.stem_width
    for st in range(1, len(config.widths) + 1):
        stage = {}
        for blk in range(config.depths[st - 1]):
            stride = config.strides[st - 1] if blk == 0 else 1
            path = f"stage{st}/block{blk}"
            stage[f"block{blk}"] = _block(_get(params, path), _get(stats, path),
                                          stride > 1 or cin != config.widths[st - 1])
            cin = config.widths[st - 1]
        tree[f"stage{st}"] = stage
    head = _pointwise_bn(params, stats, "head/conv", "head/conv_bn")
    tree["head"] = {"conv_w": head["w"], "conv_b": head["b"],
                    "hidden_w": f32(_get(params, "head/hidden/kernel")),
                    "classifier_w": f32(_get(params, "head/classifier/kernel")),
                    "classifier_b": f32(_get(params, "head/classifier/bias"))}
    return tree


def _time_shift(x: jax.Array, d: int) -> jax.Array:
    """``y[:, :, t] = x[:, :, t + d]`` on ``(N, C, T, S)``, zero outside the clip."""
    t = x.shape[2]
    if d == 0:
        return x
    if abs(d) >= t:
        return jnp.zeros_like(x)
    if d > 0:
        return jnp.pad(lax.slice_in_dim(x, d, t, axis=2), ((0, 0), (0, 0), (0, d), (0, 0)))
    return jnp.pad(lax.slice_in_dim(x, 0, t + d, axis=2), ((0, 0), (0, 0), (-d, 0), (0, 0)))


def depthwise3d(x: jax.Array, w, b, height: int, stride: int = 1) -> tuple[jax.Array, int]:
    """Depthwise ``k_t x k x k`` conv on ``(N, C, T, H*W)`` as one grouped 2-D Conv.

    Args:
      w: ``(C, k_t, k, k)``; b: ``(C,)`` or None.
    Returns:
      ``((N, C, T, H'*W'), H')``.
    """
    _, c, t, s = x.shape
    width = s // height
    kt, k = w.shape[1], w.shape[-1]
    taps = [_time_shift(x, j - kt // 2) for j in range(kt)]
    v = jnp.concatenate(taps, axis=3).reshape(-1, c * t * kt, height, width)   # group (c, t): k_t frames
    p = k // 2
    y = ops.conv(v, ops.plane_kernel(w, t), b=None, stride=(stride, stride),
                 padding=((p, p), (p, p)), groups=c * t)
    ho, wo = y.shape[2], y.shape[3]
    y = y.reshape(-1, c, t, ho * wo)
    if b is not None:
        y = y + jnp.asarray(b, y.dtype).reshape(1, -1, 1, 1)
    return y, ho


def _se(x: jax.Array, p: Mapping) -> jax.Array:
    s = jnp.mean(x, axis=(2, 3), keepdims=True)                         # (N, C, 1, 1)
    s = jax.nn.relu(ops.pointwise(s, ops.dense_as_conv(p["reduce_w"]), p["reduce_b"]))
    return x * jax.nn.sigmoid(ops.pointwise(s, ops.dense_as_conv(p["expand_w"]), p["expand_b"]))


def block(x: jax.Array, p: Mapping, stride: int, height: int) -> tuple[jax.Array, int]:
    """One X3D bottleneck on ``(N, C_in, T, H*W)``; returns ``(y, H')``."""
    relu, swish = activation("relu"), activation("swish")
    h = relu(ops.pointwise(x, p["a"]["w"], p["a"]["b"]))
    h, hh = depthwise3d(h, p["dw"]["w"], p["dw"]["b"], height, stride)
    if "se" in p:
        h = _se(h, p["se"])
    h = ops.pointwise(swish(h), p["c"]["w"], p["c"]["b"])
    if "shortcut" in p:
        x, _ = ops.pointwise_strided(x, p["shortcut"]["w"], p["shortcut"]["b"], height, stride)
    return relu(x + h), hh


def deploy_apply(config, params: Mapping, x: jax.Array) -> jax.Array:
    """Deploy-form forward: ``(N, T, 3, H, W)`` -> logits ``(N, num_classes)``."""
    if x.ndim != 5 or x.shape[2] != 3 or x.shape[1] != config.frames:
        raise ValueError(f"deploy form expects (N, {config.frames}, 3, H, W) clips "
                         f"(channels-first frames), got shape {x.shape}")
    relu = activation("relu")
    _, t, c, hh, ww = x.shape
    h = x.astype(jnp.float32).reshape(-1, c, hh, ww)                   # (N*T, 3, H, W)
    h = ops.conv(h, params["stem"]["xy_w"], None, stride=(2, 2), padding=((1, 1), (1, 1)))
    _, c0, hh, ww = h.shape
    h = jnp.transpose(h.reshape(-1, t, c0, hh * ww), (0, 2, 1, 3))     # (N, C0, T, S)
    h = relu(ops.temporal_conv(h, params["stem"]["t_w"], params["stem"]["t_b"]))
    for s in range(1, len(config.widths) + 1):
        for b in range(config.depths[s - 1]):
            stride = config.strides[s - 1] if b == 0 else 1
            h, hh = block(h, params[f"stage{s}"][f"block{b}"], stride, hh)
    hp = params["head"]
    h = relu(ops.pointwise(h, hp["conv_w"], hp["conv_b"]))
    z = relu(ops.dense(jnp.mean(h, axis=(2, 3)), hp["hidden_w"]))      # (N, D)
    return ops.dense(z, hp["classifier_w"], hp["classifier_b"])
