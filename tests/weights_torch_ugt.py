"""The X3D-UGT PyTorch reference's network (copied from
``benchmarks/torch_x3d_ugt.py``, model classes only: tests do not import from
``benchmarks/``) for the reverse-export test ``tests/test_weights_export.py``.
Module names mirror jaxar's parameter tree; ``(N, C, T, H, W)`` -> logits.
Keep in step with the benchmark file (the export test loads a state dict into
this copy with ``strict=True`` and compares logits with jaxar's).
"""
from __future__ import annotations

import math

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


