"""X3D-UGT in PyTorch (eager, NCTHW): the training form, as a PyTorch user writes it.

The model a PyTorch user loads the state dict of ``python -m jaxar.weights
to-torch`` into (``X3DUGT(cfg).load_state_dict(...)``), the benchmark baseline
for jaxar's CPU training step (``benchmarks/bench_torch_vs_jax.py``) and a
check on the network's maths (``tests/test_torch_reference.py``: same weights
-> same logits, loss, gradients and BN running statistics as
:class:`jaxar.models.x3d_ugt.X3DUGT`). This module imports torch (the optional
extra ``pip install 'jaxar[torch]'``, or ``requirements-bench.txt``); nothing
else in ``jaxar`` imports it, so jaxar itself never needs torch.

    python -m jaxar.weights.torch_x3d_ugt --variant x3d_ugt_tiny   # build, load, compare

The network is built from the same :class:`jaxar.models.x3d_ugt.X3DUGTConfig` as the
JAX model: ``nn.Conv3d`` (``groups`` = channels for the depthwise convs) and
``nn.BatchNorm3d`` (eps 1e-5, momentum 0.1: jaxar's BN follows PyTorch) on
``(N, C, T, H, W)`` tensors. Module names mirror jaxar's parameter tree
(``stem``, ``stem_bn``, ``stage{s}.block{b}.{pre_dw, pre_dw_bn, expand,
dw_temporal, dw_spatial, tada, dw_bn, se, project, shortcut}``, ``head_proj``,
``classifier``; a Ghost has ``primary, primary_bn, cheap, cheap_bn``; TAda
``reduce, temporal, expand, beta``; SE ``reduce, expand``), so
:func:`load_jax_variables` and :func:`to_jax_tree` walk them by name.

Kernel layouts, jaxar (channels-last, see ``jaxar/ops/conv.py``) -> torch:

* pointwise ``(C_in, C_out)``            -> ``Conv3d`` weight ``(C_out, C_in, 1, 1, 1)``
* depthwise spatial ``(k, k, 1, C*m)``   -> ``(C*m, 1, 1, k, k)``, ``groups=C``
  (output channel ``c*m + j`` reads input channel ``c`` in both)
* stem / dense spatial ``(k, k, C_in, C_out)`` -> ``(C_out, C_in, 1, k, k)``
* depthwise temporal ``(k_t, C)``        -> ``(C, 1, k_t, 1, 1)``, ``groups=C``
  (TAda's gate conv on ``(N, h, T)``: ``Conv1d`` weight ``(h, 1, k_t)``)
* dense ``(C_in, C_out)``                -> ``Linear`` weight ``(C_out, C_in)``
* BN ``scale, bias`` / batch_stats ``mean, var`` -> ``weight, bias`` /
  ``running_mean, running_var``; TAda's scalar ``beta`` -> a 0-d parameter.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-5
BN_MOMENTUM = 0.1
STEM_STRIDE = 2


# -- building blocks ----------------------------------------------------------------------

def make_act(name: str) -> nn.Module:
    acts = {"relu": nn.ReLU, "hard_swish": nn.Hardswish, "swish": nn.SiLU, "identity": nn.Identity}
    if name not in acts:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(acts)}")
    return acts[name]()


def bn3d(c: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def spatial_conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv3d:
    """``1 x k x k`` conv, 'same' padding, spatial stride only."""
    conv = nn.Conv3d(cin, cout, (1, k, k), stride=(1, stride, stride), padding=(0, k // 2, k // 2),
                     groups=groups, bias=False)
    conv.jax_layout = "spatial"          # jaxar kernel (k, k, C_in // groups, C_out)
    return conv


def pointwise_conv(cin: int, cout: int, stride: int = 1) -> nn.Conv3d:
    conv = nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
    conv.jax_layout = "pointwise"        # jaxar kernel (C_in, C_out)
    return conv


def temporal_depthwise_conv(c: int, kt: int) -> nn.Conv3d:
    """Depthwise ``k_t x 1 x 1`` conv, zero padded in time."""
    conv = nn.Conv3d(c, c, (kt, 1, 1), padding=(kt // 2, 0, 0), groups=c, bias=False)
    conv.jax_layout = "temporal"         # jaxar kernel (k_t, C)
    return conv


def temporal_shift(x: torch.Tensor, shift_div: int = 8) -> torch.Tensor:
    """TSM on ``(N, C, T, H, W)``: channels ``[0, f)`` read frame ``t+1``, ``[f, 2f)``
    frame ``t-1`` (zeros past the clip ends), the rest stay; ``f = C // shift_div``."""
    fold = x.shape[1] // shift_div
    if fold == 0:
        return x
    out = torch.zeros_like(x)
    out[:, :fold, :-1] = x[:, :fold, 1:]
    out[:, fold:2 * fold, 1:] = x[:, fold:2 * fold, :-1]
    out[:, 2 * fold:] = x[:, 2 * fold:]
    return out


def simam(x: torch.Tensor, pool: str = "spatial", lam: float = 1e-4) -> torch.Tensor:
    """SimAM on ``(N, C, T, H, W)``, statistics over each frame (``spatial``) or the clip."""
    dims = {"spatial": (3, 4), "spatiotemporal": (2, 3, 4)}[pool]
    n = math.prod(x.shape[d] for d in dims)
    d = (x - x.mean(dim=dims, keepdim=True)).pow(2)
    var = d.sum(dim=dims, keepdim=True) / max(n - 1, 1)
    return x * torch.sigmoid(d / (4 * (var + lam)) + 0.5)


def ghost_channels(features: int, ratio: int) -> tuple[int, int]:
    m = math.ceil(features / ratio)
    return m, m * (ratio - 1)


def make_divisible(v: float, divisor: int = 8) -> int:
    out = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * v else out


class GhostPointwise(nn.Module):
    """Primary 1x1x1 conv to ``m = ceil(C_out / ratio)`` channels (BN, act), a cheap
    depthwise 1xkxk conv with multiplier ``ratio - 1`` on it (BN, act), concatenated
    and cut to ``C_out`` channels."""

    def __init__(self, cin: int, features: int, ratio: int, k: int, stride: int, act: str):
        super().__init__()
        m, cheap = ghost_channels(features, ratio)
        self.features = features
        self.primary = pointwise_conv(cin, m, stride)
        self.primary_bn = bn3d(m)
        self.act = make_act(act)
        if cheap:
            self.cheap = spatial_conv(m, cheap, k, groups=m)
            self.cheap_bn = bn3d(cheap)
        else:
            self.cheap = None

    def forward(self, x):
        p = self.act(self.primary_bn(self.primary(x)))
        if self.cheap is None:
            return p
        g = self.act(self.cheap_bn(self.cheap(p)))
        return torch.cat([p, g], dim=1)[:, :self.features]


class TAdaGate(nn.Module):
    """Calibration ``1 + beta * g`` ``(N, C, T, 1, 1)`` from the per-frame spatial means
    of ``x``: ``g = W2 dwconv_t(relu(W1 c + b1)) + b2``."""

    def __init__(self, c: int, hidden: int, kt: int):
        super().__init__()
        self.reduce = nn.Linear(c, hidden)
        self.temporal = nn.Conv1d(hidden, hidden, kt, padding=kt // 2, groups=hidden, bias=True)
        self.expand = nn.Linear(hidden, c)
        self.beta = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        ctx = x.mean(dim=(3, 4)).transpose(1, 2)                 # (N, T, C)
        g = F.relu(self.reduce(ctx))                              # (N, T, h)
        g = self.temporal(g.transpose(1, 2)).transpose(1, 2)      # depthwise over T
        g = self.expand(g)                                        # (N, T, C)
        return (1.0 + self.beta * g).transpose(1, 2)[..., None, None]


class SqueezeExcite(nn.Module):
    def __init__(self, c: int, hidden: int):
        super().__init__()
        self.reduce = nn.Linear(c, hidden)
        self.expand = nn.Linear(hidden, c)

    def forward(self, x):
        s = torch.sigmoid(self.expand(F.relu(self.reduce(x.mean(dim=(2, 3, 4))))))
        return x * s[:, :, None, None, None]


class UIB3D(nn.Module):
    """Shift -> [pre-depthwise 1xkxk (stride) -> BN] -> Ghost expand (BN, act) ->
    depthwise k_t x1x1 -> depthwise 1xkxk -> [* TAda gate] -> BN -> act -> [SE] ->
    Ghost project (BN) -> + shortcut (identity or strided Ghost, BN).

    With the pre-depthwise conv the shift moves that conv's output (the two commute);
    ``shift_first=True`` shifts the block input instead (same maths)."""

    shift_first = False

    def __init__(self, cfg, cin: int, cout: int, expanded: int, stride: int, pre_dw: bool,
                 se_hidden: int, tada_hidden: int):
        super().__init__()
        k, kt = cfg.kernel_size, cfg.temporal_kernel
        self.shift_div = cfg.shift_div
        self.has_pre_dw = pre_dw
        if pre_dw:
            self.pre_dw = spatial_conv(cin, cin, k, stride, groups=cin)
            self.pre_dw_bn = bn3d(cin)
        self.expand = GhostPointwise(cin, expanded, cfg.ghost_ratio, cfg.ghost_kernel, 1,
                                     cfg.activation)
        self.dw_temporal = temporal_depthwise_conv(expanded, kt)
        self.dw_spatial = spatial_conv(expanded, expanded, k, 1 if pre_dw else stride,
                                       groups=expanded)
        self.tada = TAdaGate(expanded, tada_hidden, kt) if tada_hidden else None
        self.dw_bn = bn3d(expanded)
        self.act = make_act(cfg.activation)
        self.se = SqueezeExcite(expanded, se_hidden) if se_hidden else None
        self.project = GhostPointwise(expanded, cout, cfg.ghost_ratio, cfg.ghost_kernel, 1,
                                      "identity")
        self.shortcut = (GhostPointwise(cin, cout, cfg.ghost_ratio, cfg.ghost_kernel, stride,
                                        "identity")
                         if stride > 1 or cin != cout else None)

    def forward(self, x):
        if self.has_pre_dw:
            if self.shift_first:
                h = self.pre_dw(temporal_shift(x, self.shift_div))
            else:
                h = temporal_shift(self.pre_dw(x), self.shift_div)
            h = self.pre_dw_bn(h)
        else:
            h = temporal_shift(x, self.shift_div)
        h = self.expand(h)
        ctx = h
        h = self.dw_spatial(self.dw_temporal(h))
        if self.tada is not None:
            h = h * self.tada(ctx)
        h = self.act(self.dw_bn(h))
        if self.se is not None:
            h = self.se(h)
        h = self.project(h)
        return h + (self.shortcut(x) if self.shortcut is not None else x)


class Stage(nn.Module):
    def __init__(self, cfg, s: int, cin: int):
        super().__init__()
        expanded = int(round(cfg.expansion * cfg.widths[s - 1]))
        se_hidden = make_divisible(expanded * cfg.se_ratio) if s in cfg.se_stages else 0
        for b in range(cfg.depths[s - 1]):
            stride = cfg.strides[s - 1] if b == 0 else 1
            use_tada = s in cfg.tada_stages and b < cfg.tada_blocks
            tada_hidden = max(1, int(round(expanded / cfg.tada_reduction))) if use_tada else 0
            pre_dw = cfg.pre_dw == "all" or (cfg.pre_dw == "stride" and stride > 1)
            self.add_module(f"block{b}", UIB3D(cfg, cin, cfg.widths[s - 1], expanded, stride,
                                               pre_dw, se_hidden, tada_hidden))
            cin = cfg.widths[s - 1]
        self.simam = (cfg.simam_pool, cfg.simam_lambda) if s in cfg.simam_stages else None

    def forward(self, x):
        for block in self.children():
            x = block(x)
        if self.simam is not None:
            x = simam(x, *self.simam)
        return x


class X3DUGT(nn.Module):
    """``(N, 3, T, H, W)`` float clips -> logits ``(N, num_classes)``."""

    def __init__(self, cfg):
        super().__init__()
        if cfg.dtype != "float32":
            raise ValueError("the PyTorch reference computes in float32 only")
        self.stem = spatial_conv(3, cfg.stem_width, 3, STEM_STRIDE)
        self.stem_bn = bn3d(cfg.stem_width)
        self.act = make_act(cfg.activation)
        cin = cfg.stem_width
        self.n_stages = len(cfg.widths)
        for s in range(1, self.n_stages + 1):
            self.add_module(f"stage{s}", Stage(cfg, s, cin))
            cin = cfg.widths[s - 1]
        self.head_proj = GhostPointwise(cin, cfg.head_width, cfg.ghost_ratio, cfg.ghost_kernel, 1,
                                        cfg.activation)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.head_width, cfg.num_classes)

    def forward(self, x):
        x = self.act(self.stem_bn(self.stem(x)))
        for s in range(1, self.n_stages + 1):
            x = getattr(self, f"stage{s}")(x)
        x = self.head_proj(x).mean(dim=(2, 3, 4))
        return self.classifier(self.dropout(x))


# -- weights from / to jaxar's variables tree ---------------------------------------------

def _conv_from_jax(conv: nn.Conv3d, k: np.ndarray) -> np.ndarray:
    if conv.jax_layout == "spatial":                     # (k, k, C_in/groups, C_out)
        return k.transpose(3, 2, 0, 1)[:, :, None]
    if conv.jax_layout == "pointwise":                   # (C_in, C_out)
        return k.T[:, :, None, None, None]
    return k.T[:, None, :, None, None]                   # temporal (k_t, C)


def _conv_to_jax(conv: nn.Conv3d, w: np.ndarray) -> np.ndarray:
    if conv.jax_layout == "spatial":
        return w[:, :, 0].transpose(2, 3, 1, 0)
    if conv.jax_layout == "pointwise":
        return w[:, :, 0, 0, 0].T
    return w[:, 0, :, 0, 0].T


def _child(tree: Mapping, path: list[str]):
    for name in path:
        tree = tree[name]
    return tree


def load_jax_variables(model: X3DUGT, variables: Mapping) -> X3DUGT:
    """Copies a jaxar ``{"params", "batch_stats"}`` tree into ``model`` (in place).

    Every torch parameter and BN buffer is written; a missing jaxar entry or a
    shape mismatch raises."""
    params, stats = variables["params"], variables.get("batch_stats", {})
    arr = lambda a: np.asarray(a, np.float32)
    done = set()

    def put(t: torch.Tensor, value: np.ndarray, name: str):
        if tuple(t.shape) != value.shape:
            raise ValueError(f"{name}: torch shape {tuple(t.shape)}, jaxar gives {value.shape}")
        with torch.no_grad():
            t.copy_(torch.from_numpy(np.array(value, np.float32, order="C")))
        done.add(name)

    for name, mod in model.named_modules():
        path = name.split(".") if name else []
        if isinstance(mod, nn.Conv3d):
            put(mod.weight, _conv_from_jax(mod, arr(_child(params, path)["kernel"])), name + ".weight")
        elif isinstance(mod, nn.Conv1d):
            p = _child(params, path)
            put(mod.weight, arr(p["kernel"]).T[:, None, :], name + ".weight")
            put(mod.bias, arr(p["bias"]), name + ".bias")
        elif isinstance(mod, nn.Linear):
            p = _child(params, path)
            put(mod.weight, arr(p["kernel"]).T, name + ".weight")
            put(mod.bias, arr(p["bias"]), name + ".bias")
        elif isinstance(mod, nn.BatchNorm3d):
            p, s = _child(params, path), _child(stats, path)
            put(mod.weight, arr(p["scale"]), name + ".weight")
            put(mod.bias, arr(p["bias"]), name + ".bias")
            put(mod.running_mean, arr(s["mean"]), name + ".running_mean")
            put(mod.running_var, arr(s["var"]), name + ".running_var")
        elif isinstance(mod, TAdaGate):
            put(mod.beta, arr(_child(params, path)["beta"]), name + ".beta")
    expected = {n for n, _ in model.named_parameters()}
    expected |= {n for n, _ in model.named_buffers() if not n.endswith("num_batches_tracked")}
    if expected - done:
        raise ValueError(f"not loaded: {sorted(expected - done)}")
    return model


def to_jax_tree(model: X3DUGT, what: str = "params") -> dict:
    """The model's ``params`` (or their ``grad``s, or the BN ``batch_stats``) as a
    nested numpy dict in jaxar's names and layouts."""
    out: dict = {}

    def put(path: list[str], leaf: str, value):
        d = out
        for p in path:
            d = d.setdefault(p, {})
        d[leaf] = value

    def get(t: torch.Tensor | None):
        if what == "grad":
            t = t.grad
        return None if t is None else t.detach().cpu().numpy()

    for name, mod in model.named_modules():
        path = name.split(".") if name else []
        if what == "batch_stats":
            if isinstance(mod, nn.BatchNorm3d):
                put(path, "mean", mod.running_mean.detach().cpu().numpy())
                put(path, "var", mod.running_var.detach().cpu().numpy())
            continue
        if isinstance(mod, nn.Conv3d):
            put(path, "kernel", _conv_to_jax(mod, get(mod.weight)))
        elif isinstance(mod, nn.Conv1d):
            put(path, "kernel", get(mod.weight)[:, 0, :].T)
            put(path, "bias", get(mod.bias))
        elif isinstance(mod, nn.Linear):
            put(path, "kernel", get(mod.weight).T)
            put(path, "bias", get(mod.bias))
        elif isinstance(mod, nn.BatchNorm3d):
            put(path, "scale", get(mod.weight))
            put(path, "bias", get(mod.bias))
        elif isinstance(mod, TAdaGate):
            put(path, "beta", get(mod.beta))
    return out


def to_ncthw(x) -> torch.Tensor:
    """jaxar's ``(N, T, H, W, C)`` clip batch -> a contiguous torch ``(N, C, T, H, W)``."""
    return torch.from_numpy(np.array(np.asarray(x, np.float32).transpose(0, 4, 1, 2, 3), order="C"))


def from_config(cfg, variables: Mapping | None = None) -> X3DUGT:
    """The torch network of ``cfg``, with jaxar's ``variables`` copied in when given."""
    model = X3DUGT(cfg)
    return load_jax_variables(model, variables) if variables is not None else model


def _main(argv=None) -> int:
    import argparse

    import jax

    from jaxar.initialization import init_variables
    from jaxar.registry import create_config

    ap = argparse.ArgumentParser(description="build the torch X3D-UGT, load jaxar's weights, compare")
    ap.add_argument("--variant", default="x3d_ugt_tiny")
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args(argv)
    cfg = create_config(args.variant, frames=args.frames, size=args.size)
    jmodel = cfg.build()
    x = jax.random.normal(jax.random.PRNGKey(1), (2, *cfg.input_shape))
    v = init_variables(jmodel, jax.random.PRNGKey(0), x)
    tmodel = from_config(cfg, v).eval()
    with torch.no_grad():
        t = tmodel(to_ncthw(x)).numpy()
    j = np.asarray(jmodel.apply(v, x))
    n_t = sum(p.numel() for p in tmodel.parameters())
    n_j = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(v["params"]))
    print(f"{args.variant}: {n_t} torch parameters, {n_j} jaxar; eval logits max |diff| "
          f"{np.abs(t - j).max():.2e} (max |logit| {np.abs(j).max():.2e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
