"""Small PyTorch definitions of the source networks of ``jaxar.weights``, written
from the published architectures with the published module names, for the
import tests (``tests/test_weights_*.py``). Test-only; needs torch.

* :class:`TSMResNet`   torchvision ``resnet.py`` names (``conv1, bn1, layer{s}.{b}.conv{i},
  bn{i}, downsample.0/.1, fc``), the TSM shift on every block's conv1 input, TSN average
  consensus of per-frame logits.
* :class:`TSMMobileNetV2`  torchvision ``mobilenetv2.py`` names (``features.{i}.conv...``,
  ``classifier.1``), the shift before every residual block.
* :class:`X3D`  PyTorchVideo ``create_x3d`` names (``blocks.0.conv.conv_t`` (the 1x3x3
  conv), ``blocks.0.conv.conv_xy`` (the 5x1x1 one), ``blocks.{s}.res_blocks.{b}.branch2...``,
  ``blocks.5.pool.pre_conv`` ... ``blocks.5.proj``).

The other sources are renamings of these (the functions ``to_*``): MMAction2's
ConvModule names (``conv1.conv`` / ``conv1.bn``; the shift wraps ``conv1.conv`` as
``.net``), the TSM authors' (``module.base_model.``, ``conv1.net``, ``module.new_fc``).
"""
from __future__ import annotations

import re

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def shift(x: torch.Tensor, frames: int, div: int) -> torch.Tensor:
    """TSM on ``(N*T, C, H, W)``: channels [0, f) read frame t+1, [f, 2f) frame t-1."""
    nt, c, h, w = x.shape
    v = x.view(nt // frames, frames, c, h, w)
    fold = c // div
    out = torch.zeros_like(v)
    out[:, :-1, :fold] = v[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = v[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = v[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """BN affine and running statistics away from their initial values (some negative
    scales) so a BN mapped to the wrong place or a stat left out changes the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                sign = torch.where(torch.rand(c, generator=g) < 0.2, -1.0, 1.0)
                m.weight.copy_((0.5 + torch.rand(c, generator=g)) * sign)
                m.bias.copy_(0.2 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.3 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                m.num_batches_tracked.fill_(123)
            elif isinstance(m, (nn.Linear,)) and m.bias is not None:
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def clips_to_frames(x: np.ndarray) -> torch.Tensor:
    """jaxar ``(N, T, H, W, 3)`` -> ``(N*T, 3, H, W)``."""
    n, t, h, w, c = x.shape
    return torch.from_numpy(np.ascontiguousarray(x.reshape(n * t, h, w, c).transpose(0, 3, 1, 2)))


def clips_to_ncthw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 4, 1, 2, 3)))


# ---------------------------------------------------------------- ResNet (torchvision names)
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride, downsample, frames, div):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample
        self.frames, self.div = frames, div

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(shift(x, self.frames, self.div))))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride, downsample, frames, div):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.downsample = downsample
        self.frames, self.div = frames, div

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(shift(x, self.frames, self.div))))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class TSMResNet(nn.Module):
    def __init__(self, block="basic", depths=(2, 2, 2, 2), widths=(64, 128, 256, 512), stem_width=64,
                 num_classes=1000, frames=8, shift_div=8):
        super().__init__()
        cls = BasicBlock if block == "basic" else Bottleneck
        self.frames = frames
        self.conv1 = nn.Conv2d(3, stem_width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        cin = stem_width
        for s, (d, w) in enumerate(zip(depths, widths), 1):
            blocks = []
            for b in range(d):
                stride = 2 if s > 1 and b == 0 else 1
                down = None
                if stride != 1 or cin != w * cls.expansion:
                    down = nn.Sequential(nn.Conv2d(cin, w * cls.expansion, 1, stride, bias=False),
                                         nn.BatchNorm2d(w * cls.expansion))
                blocks.append(cls(cin, w, stride, down, frames, shift_div))
                cin = w * cls.expansion
            self.add_module(f"layer{s}", nn.Sequential(*blocks))
        self.n_stages = len(depths)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for s in range(1, self.n_stages + 1):
            x = getattr(self, f"layer{s}")(x)
        logits = self.fc(x.mean(dim=(2, 3)))
        return logits.view(-1, self.frames, logits.shape[-1]).mean(1)


def _rename(state: dict, rules: list[tuple[str, str]], prefix: str = "", head=None) -> dict:
    out = {}
    for k, v in state.items():
        if head is not None and k.startswith(head[0] + "."):
            out[head[1] + k[len(head[0]):]] = v
            continue
        for pat, rep in rules:
            k = re.sub(pat, rep, k)
        out[prefix + k] = v
    return out


def to_mmaction2_resnet(state: dict) -> dict:
    """torchvision names -> MMAction2 ResNetTSM + TSMHead names."""
    return _rename(state, [(r"^conv1\.", "conv1.conv."), (r"^bn1\.", "conv1.bn."),
                           (r"(layer\d+\.\d+)\.conv1\.", r"\1.conv1.conv.net."),
                           (r"(layer\d+\.\d+)\.conv(\d)\.weight", r"\1.conv\2.conv.weight"),
                           (r"(layer\d+\.\d+)\.bn(\d)\.", r"\1.conv\2.bn."),
                           (r"downsample\.0\.", "downsample.conv."), (r"downsample\.1\.", "downsample.bn.")],
                   "backbone.", head=("fc", "cls_head.fc_cls"))


def to_tsm_resnet(state: dict) -> dict:
    """torchvision names -> the TSM authors' (TSN wrapper in DataParallel)."""
    return _rename(state, [(r"(layer\d+\.\d+)\.conv1\.", r"\1.conv1.net.")], "module.base_model.",
                   head=("fc", "module.new_fc"))


# ---------------------------------------------------------------- MobileNetV2 (torchvision names)
def _cbr(cin, cout, k, stride, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, hidden, stride, residual, frames, div):
        super().__init__()
        layers = [_cbr(cin, hidden, 1, 1)] if hidden != cin else []
        layers += [_cbr(hidden, hidden, 3, stride, groups=hidden), nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual, self.frames, self.div = residual, frames, div

    def forward(self, x):
        if self.residual:
            return x + self.conv(shift(x, self.frames, self.div))
        return self.conv(x)


class TSMMobileNetV2(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.frames = config.frames
        feats = [_cbr(3, config.stem_width, 3, 2)]
        cin = config.stem_width
        for _, _, cin, cout, hidden, stride, residual in config.layout():
            feats.append(InvertedResidual(cin, cout, hidden, stride, residual, config.frames, config.shift_div))
            cin = cout
        feats.append(_cbr(cin, config.last_width, 1, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(config.last_width, config.num_classes))

    def forward(self, x):
        logits = self.classifier(self.features(x).mean(dim=(2, 3)))
        return logits.view(-1, self.frames, logits.shape[-1]).mean(1)


def to_tsm_mobilenetv2(state: dict, config) -> dict:
    """torchvision names -> the TSM authors' ``archs/mobilenet_v2.py`` in TSN/DataParallel."""
    rules = []
    for i, (_, _, cin, _, hidden, _, residual) in enumerate(config.layout(), 1):
        p = rf"^features\.{i}\.conv\."
        if hidden != cin:
            table = {"0.0": "0.net" if residual else "0", "0.1": "1", "1.0": "3", "1.1": "4", "2": "6", "3": "7"}
        else:
            table = {"0.0": "0", "0.1": "1", "1": "3", "2": "4"}
        for a, b in table.items():
            rules.append((p + re.escape(a) + r"\.(weight|bias|running_mean|running_var|num_batches_tracked)$",
                          f"features.{i}.conv.{b}.\\1"))
    out = {}
    for k, v in state.items():
        if k.startswith("classifier.1."):
            out["module.new_fc." + k[len("classifier.1."):]] = v
            continue
        for pat, rep in rules:
            new = re.sub(pat, rep, k)
            if new != k:
                k = new
                break
        out["module.base_model." + k] = v
    return out


# ---------------------------------------------------------------- X3D (PyTorchVideo names)
class _SE(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.block = nn.Sequential(nn.Conv3d(c, r, 1, bias=True), nn.ReLU(), nn.Conv3d(r, c, 1, bias=True),
                                   nn.Sigmoid())

    def forward(self, x):
        return x * self.block(x.mean(dim=(2, 3, 4), keepdim=True))


class _Branch2(nn.Module):
    def __init__(self, cin, inner, cout, stride, se, kt, k):
        super().__init__()
        self.conv_a = nn.Conv3d(cin, inner, 1, bias=False)
        self.norm_a = nn.BatchNorm3d(inner)
        self.conv_b = nn.Conv3d(inner, inner, (kt, k, k), (1, stride, stride), (kt // 2, k // 2, k // 2),
                                groups=inner, bias=False)
        self.norm_b = nn.Sequential(nn.BatchNorm3d(inner), _SE(inner, se) if se else nn.Identity())
        self.conv_c = nn.Conv3d(inner, cout, 1, bias=False)
        self.norm_c = nn.BatchNorm3d(cout)

    def forward(self, x):
        h = F.relu(self.norm_a(self.conv_a(x)))
        h = F.silu(self.norm_b(self.conv_b(h)))
        return self.norm_c(self.conv_c(h))


class _ResBlock(nn.Module):
    def __init__(self, blk):
        super().__init__()
        kind = blk.shortcut_kind()
        if kind != "identity":
            self.branch1_conv = nn.Conv3d(blk.in_channels, blk.out_channels, 1, (1, blk.stride, blk.stride),
                                          bias=False)
        if kind == "conv_bn":
            self.branch1_norm = nn.BatchNorm3d(blk.out_channels)
        self.kind = kind
        self.branch2 = _Branch2(blk.in_channels, blk.inner, blk.out_channels, blk.stride, blk.se_hidden,
                                blk.temporal_kernel, blk.kernel_size)

    def forward(self, x):
        sc = x
        if self.kind != "identity":
            sc = self.branch1_conv(x)
        if self.kind == "conv_bn":
            sc = self.branch1_norm(sc)
        return F.relu(sc + self.branch2(x))


class _Stem(nn.Module):
    def __init__(self, c, kt):
        super().__init__()
        self.conv = nn.Module()
        self.conv.conv_t = nn.Conv3d(3, c, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False)
        self.conv.conv_xy = nn.Conv3d(c, c, (kt, 1, 1), 1, (kt // 2, 0, 0), groups=c, bias=False)
        self.norm = nn.BatchNorm3d(c)

    def forward(self, x):
        return F.relu(self.norm(self.conv.conv_xy(self.conv.conv_t(x))))


class _Stage(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.res_blocks = nn.ModuleList([_ResBlock(b) for b in blocks])

    def forward(self, x):
        for b in self.res_blocks:
            x = b(x)
        return x


class _Head(nn.Module):
    def __init__(self, cin, width, hidden, classes):
        super().__init__()
        self.pool = nn.Module()
        self.pool.pre_conv = nn.Conv3d(cin, width, 1, bias=False)
        self.pool.pre_norm = nn.BatchNorm3d(width)
        self.pool.post_conv = nn.Conv3d(width, hidden, 1, bias=False)
        self.proj = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.relu(self.pool.pre_norm(self.pool.pre_conv(x))).mean(dim=(2, 3, 4), keepdim=True)
        x = F.relu(self.pool.post_conv(x)).flatten(1)
        return self.proj(x)


class X3D(nn.Module):
    """PyTorchVideo's X3D for a :class:`jaxar.models.x3d.X3DConfig`; ``(N, 3, T, H, W)`` -> logits."""

    def __init__(self, config):
        super().__init__()
        from jaxar.models.x3d import stage_blocks
        mods = [_Stem(config.stem_width, config.stem_temporal_kernel)]
        for s in range(1, len(config.widths) + 1):
            mods.append(_Stage(stage_blocks(config, s)))
        mods.append(_Head(config.widths[-1], config.head_width, config.head_hidden, config.num_classes))
        self.blocks = nn.ModuleList(mods)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


def to_mmaction2_x3d(state: dict) -> dict:
    """PyTorchVideo names -> MMAction2's X3D backbone + X3DHead."""
    rules = [(r"^blocks\.0\.conv\.conv_t\.", "backbone.conv1_s.conv."),
             (r"^blocks\.0\.conv\.conv_xy\.", "backbone.conv1_t.conv."),
             (r"^blocks\.0\.norm\.", "backbone.conv1_t.bn."),
             (r"^blocks\.\d\.pool\.pre_conv\.", "backbone.conv5.conv."),
             (r"^blocks\.\d\.pool\.pre_norm\.", "backbone.conv5.bn."),
             (r"^blocks\.\d\.pool\.post_conv\.", "cls_head.fc1."),
             (r"^blocks\.\d\.proj\.", "cls_head.fc2."),
             (r"^blocks\.(\d)\.res_blocks\.(\d+)\.", r"backbone.layer\1.\2."),
             (r"branch2\.conv_a\.", "conv1.conv."), (r"branch2\.norm_a\.", "conv1.bn."),
             (r"branch2\.conv_b\.", "conv2.conv."), (r"branch2\.norm_b\.0\.", "conv2.bn."),
             (r"branch2\.norm_b\.1\.block\.0\.", "se_module.fc1."),
             (r"branch2\.norm_b\.1\.block\.2\.", "se_module.fc2."),
             (r"branch2\.conv_c\.", "conv3.conv."), (r"branch2\.norm_c\.", "conv3.bn."),
             (r"branch1_conv\.", "downsample.conv."), (r"branch1_norm\.", "downsample.bn.")]
    out = {}
    for k, v in state.items():
        for pat, rep in rules:
            k = re.sub(pat, rep, k)
        if k == "cls_head.fc1.weight":          # MMAction2's fc1 is an nn.Linear
            v = v[:, :, 0, 0, 0]
        out[k] = v
    return out
