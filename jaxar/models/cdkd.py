"""CD-KD student (Liu et al., ICASSP 2023): a three-stream compressed-domain
action recogniser -- I-frame, motion-vector and residual backbones with an FC
fusion -- plus the training-only pseudo-decoder and attention gate through
which a raw-frame teacher distils into it (:mod:`jaxar.distill`).

Input: a dict of three clips (the compressed-domain contract, channels-last,
float32, ``T`` sampled frames at ``S x S``)::

    "iframe":   (N, T, S, S, 3)  normalised RGB of the I-frame of each frame's GOP
    "mv":       (N, T, S, S, 2)  dense motion field, about [-1, 1]
    "residual": (N, T, S, S, 3)  residual, about [-1, 1]

Output: logits ``(N, num_classes)`` float32; with ``return_features=True``
also a dict of per-frame features for distillation (below).

Streams. Each modality runs its own, unmodified frame network of a jaxar
family (``iframe_backbone`` / ``mv_backbone`` / ``residual_backbone``:
``tsm_resnet50``, ``tsm_resnet18`` or ``tsm_mobilenetv2``); the motion
vectors enter with a constant zero third channel (the stem's third input
channel sees only zeros and gets no gradient). ``light_width`` scales the
channel widths of the MV and residual streams (CoViAR's observation: the
sparse modalities need far less capacity than the I-frame).

Fusion. The paper's FC fusion is one linear layer on the concatenation of the
streams' per-frame pooled features, averaged over frames; as
``W [f_I; f_M; f_R] + b = W_I f_I + W_M f_M + W_R f_R + b`` it is computed
as the sum of each stream's own per-frame linear classifier (TSN consensus,
dropout per stream = dropout on the concatenation). The student's logits are
therefore the sum of the three streams' logits, and its deploy form is the
sum of the three streams' deploy forms (no code of its own to fold).

Distillation heads (``distill_heads``; parameters ``pseudo_decoder``,
``attention_gate``): the per-frame feature maps of the last trunk layer of
each stream (:data:`FEATURE_LAYER`) go through
:class:`jaxar.modules.pseudo_decoder.PseudoDecoder` (out width
``teacher_features``) and :class:`jaxar.modules.attention_gate.AttentionGate`.
They run only when ``return_features=True`` (and at init, so the parameters
exist); the classifier does not read them, so they are not part of the
inference or deploy graph (docs/cdkd.md measures what they would add).
``return_features=True`` returns ``(logits, {"h_hat": (N, T, D) pooled
pseudo-decoded features, "alpha": (N, T) gate weights, "iframe" / "mv" /
"residual": (N, T, h, w, C) stream feature maps})``.

Parameter tree: ``iframe``, ``mv``, ``residual`` (each the backbone family's
tree, classifier ``head/fc`` included), ``pseudo_decoder``, ``attention_gate``.

Deploy form: ``deploy_apply(params, x, layout)`` with ``x`` a dict of
channels-first clips ``iframe (N, T, 3, S, S)``, ``mv (N, T, 2, S, S)``,
``residual (N, T, 3, S, S)`` -> logits; the ONNX graph has three inputs
(:mod:`export.multi_input`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.deploy import ops as dops
from jaxar.models.base import ModelConfigBase, NoFrameFeaturesError
from jaxar.models.tsm_mobilenetv2 import TSMMobileNetV2Config, tsm_mobilenetv2
from jaxar.models.tsm_resnet import TSMResNetConfig, tsm_resnet18, tsm_resnet50
from jaxar.modules.attention_gate import AttentionGate
from jaxar.modules.pseudo_decoder import PseudoDecoder
from jaxar.modules.squeeze_excite import make_divisible

MODALITIES = ("iframe", "mv", "residual")
CHANNELS = {"iframe": 3, "mv": 2, "residual": 3}
BACKBONES: dict[str, Callable[[], Any]] = {
    "tsm_resnet50": tsm_resnet50,
    "tsm_resnet18": tsm_resnet18,
    "tsm_mobilenetv2": tsm_mobilenetv2,
}


def feature_layer(cfg) -> str:
    """Name of the backbone module whose output is the per-frame feature map
    ``(N, T, h, w, C)`` (the input of the per-frame classifier): the family's
    :meth:`~jaxar.models.base.ModelConfigBase.frame_features` (a top-level module
    whose output is the map as it is, which every stream backbone family gives)."""
    feats = cfg.frame_features()
    if len(feats.path) != 1 or feats.activation:
        raise ValueError(f"{type(cfg).__name__}: a stream backbone's per-frame features must be "
                         f"a top-level module's output, got {feats}")
    return feats.path[0]


def tiny_backbone(cfg):
    """Narrow, shallow copy of a stream backbone with the same block kinds (tests)."""
    if isinstance(cfg, TSMResNetConfig):
        return cfg.replace(depths=(1,) * len(cfg.depths), widths=(8, 8, 16, 16)[:len(cfg.widths)],
                           stem_width=8)
    if isinstance(cfg, TSMMobileNetV2Config):
        return cfg.replace(blocks=((1, 8, 1, 1), (6, 8, 2, 2), (6, 16, 1, 2), (6, 16, 1, 2)),
                           stem_width=8, last_width=32)
    raise ValueError(f"no tiny copy for {type(cfg).__name__}")


def scale_width(cfg, mult: float):
    """A backbone with every channel width times ``mult`` (multiples of 8, at least 8)."""
    if mult == 1.0:
        return cfg
    w = lambda c: max(8, make_divisible(c * mult, 8))                   # noqa: E731
    if isinstance(cfg, TSMResNetConfig):
        return cfg.replace(widths=tuple(w(c) for c in cfg.widths), stem_width=w(cfg.stem_width))
    if isinstance(cfg, TSMMobileNetV2Config):
        return cfg.replace(blocks=tuple((t, w(c), n, s) for t, c, n, s in cfg.blocks),
                           stem_width=w(cfg.stem_width), last_width=w(cfg.last_width))
    raise ValueError(f"cannot scale the width of {type(cfg).__name__}")


@dataclasses.dataclass(frozen=True)
class CDKDConfig(ModelConfigBase):
    family: ClassVar[str] = "cdkd"
    input_domain: ClassVar[str] = "compressed"    # raw-frame tools (benchmarks) skip this family

    num_classes: int = 60
    frames: int = 8
    size: int = 224
    # streams
    iframe_backbone: str = "tsm_resnet50"
    mv_backbone: str = "tsm_resnet50"
    residual_backbone: str = "tsm_resnet50"
    light_width: float = 1.0           # width multiplier of the MV and residual streams
    tiny_streams: bool = False         # narrow, shallow streams (tests, CPU demos)
    shift_div: int = 8
    dropout: float = 0.5               # before each stream's per-frame classifier
    # distillation heads (training only)
    distill_heads: bool = True
    teacher_features: int = 2048       # width D of the teacher's h_t (TSM-R50: 2048)
    decoder_width: int = 256           # attention width (Eq. 1)
    decoder_heads: int = 4
    lstm_features: int = 128           # Bi-ConvLSTM channels per direction (Eq. 2)
    lstm_kernel: int = 3
    gate_hidden: int = 64              # attention-gate bottleneck (Eq. 4)
    gate_floor: float = 0.5            # every alpha_t >= floor, sum_t alpha_t = T

    def __post_init__(self):
        super().__post_init__()
        for m in MODALITIES:
            name = getattr(self, f"{m}_backbone")
            if name not in BACKBONES:
                raise ValueError(f"{m}_backbone must be one of {sorted(BACKBONES)}, got {name!r}")
        if not 0.0 < self.light_width <= 4.0:
            raise ValueError(f"light_width must be in (0, 4], got {self.light_width}")
        if not 0.0 <= self.gate_floor <= 1.0:
            raise ValueError(f"gate_floor must be in [0, 1], got {self.gate_floor}")
        if min(self.teacher_features, self.decoder_width, self.decoder_heads, self.lstm_features,
               self.lstm_kernel, self.gate_hidden) < 1:
            raise ValueError("teacher_features, decoder_width/heads, lstm_features/kernel and "
                             "gate_hidden must be positive")
        if self.decoder_width % self.decoder_heads:
            raise ValueError(f"decoder_width {self.decoder_width} is not divisible by "
                             f"decoder_heads {self.decoder_heads}")

    @property
    def input_shapes(self) -> dict[str, tuple[int, int, int, int]]:
        """Per-clip input shape of each modality, channels-last."""
        return {m: (self.frames, self.size, self.size, CHANNELS[m]) for m in MODALITIES}

    def stream_config(self, modality: str):
        """The backbone config of one stream (classes, clip shape and execution fields set)."""
        cfg = BACKBONES[getattr(self, f"{modality}_backbone")]().replace(
            num_classes=self.num_classes, frames=self.frames, size=self.size, impl=self.impl,
            dtype=self.dtype, dropout=self.dropout, shift_div=self.shift_div)
        if self.tiny_streams:
            cfg = tiny_backbone(cfg)
        return scale_width(cfg, self.light_width) if modality != "iframe" else cfg

    def small(self, frames: int = 4, size: int = 32, num_classes: int = 7, **overrides) -> "CDKDConfig":
        fields = dict(frames=frames, size=size, num_classes=num_classes, tiny_streams=True,
                      teacher_features=16, decoder_width=8, decoder_heads=2, lstm_features=4,
                      gate_hidden=8)
        fields.update(overrides)
        return self.replace(**fields)

    def frame_features(self) -> FrameFeatures:
        raise NoFrameFeaturesError(
            f"{type(self).__name__} is a compressed-domain student (input: I-frames, motion vectors, "
            f"residuals); a per-frame feature layer of a raw-RGB network is needed")

    def build(self) -> nn.Module:
        return CDKDStudent(self)


def check_inputs(x: Any, frames: int, channels_first: bool, where: str) -> None:
    if not isinstance(x, Mapping) or set(x) != set(MODALITIES):
        got = sorted(x) if isinstance(x, Mapping) else type(x).__name__
        raise ValueError(f"{where} expects a dict with keys {list(MODALITIES)} (compressed-domain "
                         f"clips), got {got}")
    for m in MODALITIES:
        s = x[m].shape
        c_axis = 2 if channels_first else -1
        if len(s) != 5 or s[1] != frames or s[c_axis] != CHANNELS[m]:
            layout = f"(N, {frames}, {CHANNELS[m]}, S, S)" if channels_first else \
                f"(N, {frames}, S, S, {CHANNELS[m]})"
            raise ValueError(f"{where}: input {m!r} must be {layout}, got shape {tuple(s)}")
    if len({x[m].shape[0] for m in MODALITIES}) != 1:
        raise ValueError(f"{where}: the three inputs disagree on the batch size: "
                         f"{ {m: x[m].shape[0] for m in MODALITIES} }")


def pad_mv(mv: jax.Array, channel_axis: int) -> jax.Array:
    """Motion field with a constant zero third channel (backbones take 3 channels)."""
    pads = [(0, 0)] * mv.ndim
    pads[channel_axis] = (0, 1)
    return jnp.pad(mv, pads)


class CDKDStudent(nn.Module):
    config: CDKDConfig

    @nn.compact
    def __call__(self, x, train: bool = False, return_features: bool = False):
        cfg = self.config
        check_inputs(x, cfg.frames, False, type(self).__name__)
        logits, maps = 0.0, {}
        for m in MODALITIES:
            scfg = cfg.stream_config(m)
            stream = scfg.build().clone(parent=self, name=m)
            layer = feature_layer(scfg)
            inp = pad_mv(x[m], -1) if m == "mv" else x[m]

            def grab(next_fun, args, kwargs, context, m=m, layer=layer):
                out = next_fun(*args, **kwargs)
                if context.method_name == "__call__" and context.module.name == layer:
                    maps[m] = out
                return out

            with nn.intercept_methods(grab):
                logits = logits + stream(inp, train=train)
        if not (return_features or (self.is_initializing() and cfg.distill_heads)):
            return logits
        if not cfg.distill_heads:
            raise ValueError("return_features=True needs distill_heads=True (the pseudo-decoder "
                             "and the attention gate)")
        h_hat = PseudoDecoder(cfg.teacher_features, cfg.decoder_width, cfg.decoder_heads,
                              cfg.lstm_features, cfg.lstm_kernel, name="pseudo_decoder")(
            maps["iframe"], maps["mv"], maps["residual"])
        alpha = AttentionGate(cfg.gate_hidden, cfg.gate_floor, name="attention_gate")(
            maps["mv"], maps["residual"])
        if not return_features:
            return logits
        return logits, {"h_hat": jnp.mean(h_hat, axis=(2, 3)), "alpha": alpha, **maps}

    # -- deploy form (jaxar.deploy protocol): the sum of the streams' deploy forms
    @nn.nowrap
    def deploy_params(self, variables: Mapping) -> dict:
        """``{"iframe", "mv", "residual"}``: each stream's folded deploy tree
        (the pseudo-decoder and the gate are training-only and dropped)."""
        if not isinstance(variables, Mapping) or "params" not in variables:
            raise ValueError("variables must be a mapping with 'params' and 'batch_stats'")
        params, stats = variables["params"], variables.get("batch_stats", {})
        out = {}
        for m in MODALITIES:
            if m not in params:
                raise KeyError(f"variables lack the {m!r} stream; do they belong to a CD-KD student?")
            out[m] = self.config.stream_config(m).build().deploy_params(
                {"params": params[m], "batch_stats": stats.get(m, {})})
        return out

    @nn.nowrap
    def deploy_apply(self, params: Mapping, x: Mapping, layout: str = "frames-major") -> jax.Array:
        """``{"iframe": (N, T, 3, S, S), "mv": (N, T, 2, S, S), "residual": (N, T, 3, S, S)}``
        float32 -> logits ``(N, num_classes)``."""
        dops.check_layout(layout)
        check_inputs(x, self.config.frames, True, "CD-KD deploy form")
        logits = None
        for m in MODALITIES:
            inp = x[m].astype(jnp.float32)
            inp = pad_mv(inp, 2) if m == "mv" else inp
            out = self.config.stream_config(m).build().deploy_apply(params[m], inp, layout)
            logits = out if logits is None else logits + out
        return logits


def cdkd_tsm_resnet50() -> CDKDConfig:
    """The paper's "TSM+ours": three TSM-ResNet-50 streams, 8x224^2, TSM-R50 teacher width."""
    return CDKDConfig()


def cdkd_mobilenetv2() -> CDKDConfig:
    """Edge student: TSM-MobileNetV2 streams, MV/residual at half width; teacher X3D-UGT
    (head width 432)."""
    return CDKDConfig(iframe_backbone="tsm_mobilenetv2", mv_backbone="tsm_mobilenetv2",
                      residual_backbone="tsm_mobilenetv2", light_width=0.5, teacher_features=432,
                      decoder_width=128, lstm_features=64, gate_hidden=32)


VARIANTS = {
    "cdkd_tsm_resnet50": cdkd_tsm_resnet50,
    "cdkd_mobilenetv2": cdkd_mobilenetv2,
}
