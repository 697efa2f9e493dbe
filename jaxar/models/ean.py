"""EAN: Event Adaptive Network (Tian et al., IJCV 2022), a TSN-style 2-D
ResNet-50 run per segment with Event Adaptive Blocks (EAB), a Sparse Object
Interaction Transformer (SOI-Tr) and, optionally, the Latent Motion Code (LMC).

Training form :class:`EAN`: clips ``(N, T, H, W, 3)`` -> logits ``(N, K)`` float32,
``T = segments * segment_frames`` (RGB: 8 x 1; RGB+LMC: 8 x 5, frames in
segment order)::

    [LMC: per segment, motion from the 5 frames' RGB differences]   (Eq. 7-11)
    conv1 7x7/2, bn1, ReLU, max-pool 3x3/2  on each segment's anchor frame
      [+ LMC motion features]                                        (Eq. 12)
    [eab1] layer1 [eab2] layer2 [eab3] layer3 [eab4] layer4 [eab5]  (EAB after "stage" s)
    [soitr{s}: SOI-Tr after a stage s < 5 (Table 6), map + zero-init residual]
    head: SOI-Tr(layer4 output) if 5 in soitr_stages else global average pool,
          dropout, fc

"Stage" numbers follow the paper's Fig. 2: stage 1 = conv1 (64 ch, 56x56),
stages 2-5 = torchvision's layer1-layer4. The ResNet baseline of the paper's
ablations (its Sec. 4, after TEA/MSNet) puts a TEA motion excitation and a
channel-wise k=3 temporal conv before every bottleneck's 3x3 conv
(:mod:`jaxar.modules.motion_excitation`).

Parameter names follow torchvision's ResNet-50 so ImageNet weights map by
name (docs/ean.md): ``conv1``, ``bn1``, ``layer{1..4}/block{b}/{conv1, bn1,
conv2, bn2, conv3, bn3[, downsample_conv, downsample_bn]}``, ``fc``; the
additions are ``layer*/block*/{me, t_conv}``, ``eab{s}``, ``soitr``, ``lmc``.

Deploy form (:meth:`EAN.deploy_params` / :meth:`EAN.deploy_apply`):
frames-major ``(N*T, C, H, W)`` from the input reshape to the head, BN
folded, every tensor rank <= 4, no Transpose; both layouts give this one
graph (a 2-D network has nothing to gain from channels-major).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxar.deploy import ops as dops
from jaxar.deploy.bn_fold import Variables, f32
from jaxar.models.base import DTYPES, FrameFeatures, ModelConfigBase, NoFrameFeaturesError
from jaxar.modules import ean_layers as el
from jaxar.modules.event_adaptive import ESP_FORMS, ORDERS, EventAdaptiveBlock
from jaxar.modules.latent_motion import LatentMotionCode
from jaxar.modules.layers import Dense, SpatialConv, batch_norm
from jaxar.modules.motion_excitation import ChannelTemporalConv, MotionExcitation
from jaxar.modules.soi_transformer import NORMS, SOITransformer

STAGES = (1, 2, 3, 4, 5)


@dataclasses.dataclass(frozen=True)
class EANConfig(ModelConfigBase):
    """EAN family config. ``frames`` counts every input frame
    (``segments * segment_frames``); defaults are the paper's EAN_8F(RGB)."""
    family: ClassVar[str] = "ean"

    num_classes: int = 174
    frames: int = 8
    size: int = 224
    depths: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)     # 3x3-conv width of layer1-4 (x4 out)
    stem_width: int = 64
    dropout: float = 0.5
    # ResNet baseline (TEA-style): ME + channel-wise temporal conv before each 3x3
    motion_excitation: bool = True
    me_reduction: int = 16
    temporal_conv: bool = True
    # EAB
    eab_stages: tuple[int, ...] = (1, 2, 3, 4)
    eab_reduction: int = 4
    eab_squeeze_groups: int = 4
    eab_order: str = "spatial_first"                  # paper Eq. 2; "temporal_first": authors' code
    esp_form: str = "code"                            # ESP-Net depth: authors' code | paper text
    esp_reduction: int = 16
    # SOI-Tr: after stage 5 it makes the clip feature; after stages 1-4 (Table 6) it
    # returns the stage's map plus a zero-initialised residual (docs/ean.md)
    soitr_stages: tuple[int, ...] = (5,)
    soitr_reduction: int = 4
    soitr_objects: int = 4
    soitr_heads: int = 8
    soitr_depth: int = 2
    soitr_saliency_reduction: int = 8
    soitr_norm: str = "batch"                         # paper: BN over tokens; "layer": LayerNorm
    # LMC
    segment_frames: int = 1                           # 1: EAN_RGB; 5: EAN_RGB+LMC
    lmc_patch: int = 32
    lmc_latent: int = 128
    lmc_groups: int = 16
    lmc_anchor: int = 0                               # frame of the segment fed to conv1 (paper: first)

    def __post_init__(self):
        super().__post_init__()
        if len(self.depths) != 4 or len(self.widths) != 4:
            raise ValueError(f"EAN is a 4-stage bottleneck ResNet: depths/widths need 4 entries, got "
                             f"{self.depths}/{self.widths}")
        if min(self.depths) < 1 or min(self.widths) < 1 or self.stem_width < 1:
            raise ValueError("depths, widths and stem_width must be positive")
        for name in ("eab_stages", "soitr_stages"):
            bad = [s for s in getattr(self, name) if s not in STAGES]
            if bad:
                raise ValueError(f"{name}: stages must be in {STAGES}, got {bad}")
        both = sorted(set(self.soitr_stages) & set(self.eab_stages))
        if both:
            raise ValueError(f"soitr_stages {both} also have an EAB (eab_stages); Table 6 puts one "
                             f"module after each stage")
        if self.eab_order not in ORDERS:
            raise ValueError(f"eab_order must be one of {ORDERS}, got {self.eab_order!r}")
        if self.esp_form not in ESP_FORMS:
            raise ValueError(f"esp_form must be one of {ESP_FORMS}, got {self.esp_form!r}")
        if self.soitr_norm not in NORMS:
            raise ValueError(f"soitr_norm must be one of {NORMS}, got {self.soitr_norm!r}")
        if self.segment_frames < 1 or self.frames % self.segment_frames:
            raise ValueError(f"frames ({self.frames}) must be a multiple of segment_frames "
                             f"({self.segment_frames})")
        if not 0 <= self.lmc_anchor < self.segment_frames:
            raise ValueError(f"lmc_anchor must index a frame of the segment, got {self.lmc_anchor}")
        if self.size % 32:
            raise ValueError(f"size must be a multiple of 32 (ResNet strides), got {self.size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def segments(self) -> int:
        return self.frames // self.segment_frames

    @property
    def lmc(self) -> bool:
        return self.segment_frames > 1

    def out_width(self, layer: int) -> int:
        return self.widths[layer - 1] * 4

    def stage_width(self, stage: int) -> int:
        """Channels after paper stage ``stage`` (1: conv1, 2-5: layer1-4)."""
        return self.stem_width if stage == 1 else self.out_width(stage - 1)

    def stride(self, layer: int, block: int) -> int:
        return 2 if layer > 1 and block == 0 else 1

    def small(self, **overrides: Any) -> "EANConfig":
        """Same block structure at narrow widths, one block per layer, 4 segments, 64^2."""
        fields = dict(depths=(1, 1, 1, 1), widths=(8, 16, 16, 32), stem_width=16,
                      frames=4 * self.segment_frames, size=64, num_classes=5, soitr_heads=4,
                      me_reduction=4, lmc_latent=32, lmc_groups=4)
        fields.update(overrides)
        return self.replace(**fields)

    def frame_features(self) -> FrameFeatures:
        """RGB EAN (one frame per segment): the last stage's map ``(N, T, h, w, 4 x widths[-1])``
        (``eab5`` when an EAB follows layer4, else ``layer4``), before SOI-Tr / pooling.
        With the Latent Motion Code the network keeps one map per *segment* of
        ``segment_frames`` frames, not per frame: refused."""
        if self.segment_frames != 1:
            raise NoFrameFeaturesError(
                f"EANConfig with segment_frames={self.segment_frames} (LMC) keeps one feature map "
                f"per segment of {self.segment_frames} frames, not per input frame")
        return FrameFeatures(("eab5",) if 5 in self.eab_stages else ("layer4",), self.stage_width(5))

    def build(self) -> "EAN":
        return EAN(self)


# ---------------------------------------------------------------- blocks
class Bottleneck(nn.Module):
    """torchvision bottleneck (v1.5, stride in the 3x3) with [ME] [temporal conv]
    before the 3x3: ``(N, T, H, W, C) -> (N, T, H/s, W/s, 4*width)``."""
    config: EANConfig
    width: int
    stride: int
    train: bool = False

    @nn.nowrap
    def me(self) -> MotionExcitation | None:
        c = self.config
        return MotionExcitation(c.me_reduction, self.train, DTYPES[c.dtype], name="me") \
            if c.motion_excitation else None

    @nn.nowrap
    def t_conv(self) -> ChannelTemporalConv | None:
        return ChannelTemporalConv(name="t_conv") if self.config.temporal_conv else None

    @nn.compact
    def __call__(self, x):
        cfg = self.config
        bn = lambda name: batch_norm(self.train, x.dtype, name=name)  # noqa: E731
        out = self.width * 4
        h = nn.relu(bn("bn1")(el.Conv3D(self.width, name="conv1")(x)))
        for part in (self.me(), self.t_conv()):
            if part is not None:
                h = part(h)
        h = nn.relu(bn("bn2")(SpatialConv(self.width, 3, self.stride, impl=cfg.impl, name="conv2")(h)))
        h = bn("bn3")(el.Conv3D(out, name="conv3")(h))
        if self.stride != 1 or x.shape[-1] != out:
            x = bn("downsample_bn")(el.Conv3D(out, stride=(1, self.stride), name="downsample_conv")(x))
        return nn.relu(x + h)

    @nn.nowrap
    def deploy_params(self, v: Variables) -> dict:
        out = {"conv1": el.Conv3D(1).deploy_params(v.child("conv1"), v.child("bn1")),
               "conv2": v.conv_bn("conv2", "bn2"),
               "conv3": el.Conv3D(1).deploy_params(v.child("conv3"), v.child("bn3"))}
        for name, part in (("me", self.me()), ("t_conv", self.t_conv())):
            if part is not None:
                out[name] = part.deploy_params(v.child(name))
        if v.has("downsample_conv"):
            out["downsample"] = el.Conv3D(1).deploy_params(v.child("downsample_conv"), v.child("downsample_bn"))
        return out

    @nn.nowrap
    def deploy_apply(self, p: dict, x: jax.Array, frames: int) -> jax.Array:
        s = self.stride
        h = jax.nn.relu(el.deploy_conv3d(x, frames, p["conv1"]["w"], p["conv1"]["b"])[0])
        for name, part in (("me", self.me()), ("t_conv", self.t_conv())):
            if part is not None:
                h = part.deploy_apply(p[name], h, frames)
        h = jax.nn.relu(dops.conv(h, p["conv2"]["w"], p["conv2"]["b"], (s, s), ((1, 1), (1, 1))))
        h = el.deploy_conv3d(h, frames, p["conv3"]["w"], p["conv3"]["b"])[0]
        if "downsample" in p:
            x = el.deploy_conv3d(x, frames, p["downsample"]["w"], p["downsample"]["b"], (1, s))[0]
        return jax.nn.relu(x + h)


class Layer(nn.Module):
    """torchvision ``layer{index}``: ``depths[index-1]`` bottlenecks."""
    config: EANConfig
    index: int
    train: bool = False

    @nn.nowrap
    def blocks(self) -> list[Bottleneck]:
        c, i = self.config, self.index
        return [Bottleneck(c, c.widths[i - 1], c.stride(i, b), self.train, name=f"block{b}")
                for b in range(c.depths[i - 1])]

    @nn.compact
    def __call__(self, x):
        for blk in self.blocks():
            x = blk(x)
        return x


class EAN(nn.Module):
    """The EAN network (module docstring)."""
    config: EANConfig

    # -- wiring shared by both forms --------------------------------------------
    @nn.nowrap
    def eab(self, stage: int, train: bool = False) -> EventAdaptiveBlock:
        c = self.config
        return EventAdaptiveBlock(c.eab_reduction, c.eab_squeeze_groups, c.eab_order, c.esp_form,
                                  c.esp_reduction, train, DTYPES[c.dtype], name=f"eab{stage}")

    @nn.nowrap
    def soitr(self, train: bool = False, stage: int = 5) -> SOITransformer:
        """Stage 5: ``soitr`` (clip feature); stages 1-4: ``soitr{stage}`` (feature map)."""
        c = self.config
        return SOITransformer(c.soitr_reduction, c.soitr_objects, c.soitr_heads, c.soitr_depth,
                              c.soitr_saliency_reduction, c.soitr_norm, train, DTYPES[c.dtype],
                              output="clip" if stage == 5 else "map",
                              name="soitr" if stage == 5 else f"soitr{stage}")

    @nn.nowrap
    def lmc_module(self) -> LatentMotionCode:
        c = self.config
        return LatentMotionCode(c.stem_width, c.lmc_patch, c.lmc_latent, c.lmc_groups, 4, name="lmc")

    @nn.compact
    def __call__(self, x, train: bool = False):
        cfg = self.config
        if x.ndim != 5 or x.shape[-1] != 3 or x.shape[1] != cfg.frames:
            raise ValueError(f"EAN expects (N, {cfg.frames}, H, W, 3) clips "
                             f"({cfg.segments} segments x {cfg.segment_frames} frames), got {x.shape}")
        dtype = DTYPES[cfg.dtype]
        x = x.astype(dtype)
        n, _, hh, ww, _ = x.shape
        segs = x.reshape(n, cfg.segments, cfg.segment_frames, hh, ww, 3)
        h = SpatialConv(cfg.stem_width, 7, 2, impl=cfg.impl, name="conv1")(segs[:, :, cfg.lmc_anchor])
        h = el.stem_max_pool(nn.relu(batch_norm(train, dtype, name="bn1")(h)))
        if cfg.lmc:
            h = h + self.lmc_module()(segs).astype(h.dtype)
        for stage in STAGES:
            if stage > 1:
                h = Layer(cfg, stage - 1, train, name=f"layer{stage - 1}")(h)
            if stage in cfg.eab_stages:
                h = self.eab(stage, train)(h)
            if stage in cfg.soitr_stages and stage < 5:
                h = self.soitr(train, stage)(h)
        feat = self.soitr(train)(h) if 5 in cfg.soitr_stages else jnp.mean(h, axis=(1, 2, 3))
        feat = nn.Dropout(cfg.dropout, deterministic=not train)(feat)
        logits = Dense(cfg.num_classes, kernel_init=nn.initializers.normal(0.001), name="fc")(feat)
        return logits.astype(jnp.float32)

    # -- deploy form -------------------------------------------------------------
    @nn.nowrap
    def deploy_params(self, variables: Mapping) -> dict:
        """Trained ``{"params", "batch_stats"}`` -> folded float32 tree named like the
        training tree (``conv1``, ``layer{l}/block{b}``, ``eab{s}``, ``soitr``, ``lmc``, ``fc``)."""
        cfg = self.config
        v = Variables.of(variables)
        tree: dict = {"conv1": v.conv_bn("conv1", "bn1")}
        if cfg.lmc:
            tree["lmc"] = self.lmc_module().deploy_params(v.child("lmc"))
        for stage in STAGES:
            if stage > 1:
                layer = Layer(cfg, stage - 1)
                lv = v.child(f"layer{stage - 1}")
                tree[f"layer{stage - 1}"] = {blk.name: blk.deploy_params(lv.child(blk.name))
                                             for blk in layer.blocks()}
            if stage in cfg.eab_stages:
                tree[f"eab{stage}"] = self.eab(stage).deploy_params(v.child(f"eab{stage}"),
                                                                     cfg.stage_width(stage))
            if stage in cfg.soitr_stages and stage < 5:
                tree[f"soitr{stage}"] = self.soitr(stage=stage).deploy_params(v.child(f"soitr{stage}"),
                                                                              cfg.stage_width(stage))
        if 5 in cfg.soitr_stages:
            tree["soitr"] = self.soitr().deploy_params(v.child("soitr"), cfg.stage_width(5))
        w, b = v.dense("fc")
        tree["fc"] = {"w": f32(w), "b": f32(b)}
        return tree

    @nn.nowrap
    def deploy_apply(self, params: Mapping, x: jax.Array, layout: str = "frames-major") -> jax.Array:
        """``(N, T, 3, H, W)`` float32 -> logits ``(N, num_classes)``."""
        dops.check_layout(layout)
        cfg = self.config
        if x.ndim != 5 or x.shape[1] != cfg.frames or x.shape[2] != 3:
            raise ValueError(f"EAN deploy form expects (N, {cfg.frames}, 3, H, W) clips, got {x.shape}")
        _, _, _, hh, ww = x.shape
        frames = x.astype(jnp.float32).reshape(-1, 3, hh, ww)                # (N*T, 3, H, W)
        t = cfg.segments
        if cfg.lmc:
            f = cfg.segment_frames
            seg = frames.reshape(-1, f, 3 * hh * ww)
            anchor = jax.lax.slice_in_dim(seg, cfg.lmc_anchor, cfg.lmc_anchor + 1, axis=1)
            anchor = anchor.reshape(-1, 3, hh, ww)                             # (N*S, 3, H, W)
        else:
            anchor = frames
        p = params["conv1"]
        h = el.deploy_stem_max_pool(jax.nn.relu(dops.conv(anchor, p["w"], p["b"], (2, 2), ((3, 3), (3, 3)))))
        if cfg.lmc:
            h = h + self.lmc_module().deploy_apply(params["lmc"], frames, cfg.segment_frames)
        for stage in STAGES:
            if stage > 1:
                layer = Layer(cfg, stage - 1)
                for blk in layer.blocks():
                    h = blk.deploy_apply(params[f"layer{stage - 1}"][blk.name], h, t)
            if stage in cfg.eab_stages:
                h = self.eab(stage).deploy_apply(params[f"eab{stage}"], h, t)
            if stage in cfg.soitr_stages and stage < 5:
                h = self.soitr(stage=stage).deploy_apply(params[f"soitr{stage}"], h, t)
        if 5 in cfg.soitr_stages:
            feat = self.soitr().deploy_apply(params["soitr"], h, t)
        else:
            feat = el.clip_mean(h, t)
        return dops.dense(feat, params["fc"]["w"], params["fc"]["b"])


# ---------------------------------------------------------------- variants
def ean_r50() -> EANConfig:
    """EAN_8F(RGB): EABs after stages 1-4, SOI-Tr after stage 5, 8 x 224^2."""
    return EANConfig()


VARIANTS = {
    "ean_r50": ean_r50,
    # EAN_8F(RGB+LMC): 8 segments x 5 adjacent frames
    "ean_r50_lmc": lambda: EANConfig(frames=40, segment_frames=5),
    # Table 5 ablations
    "ean_r50_base": lambda: EANConfig(eab_stages=(), soitr_stages=()),
    "ean_r50_eab": lambda: EANConfig(soitr_stages=()),
    "ean_r50_soitr": lambda: EANConfig(eab_stages=()),
    # Table 6 placements: rows 1-2 (SOI-Tr after stages 3-5 / 4-5; the mid-network
    # SOI-Tr returns its map + a zero-initialised residual, docs/ean.md), row 4
    "ean_r50_soitr345": lambda: EANConfig(eab_stages=(1, 2), soitr_stages=(3, 4, 5)),
    "ean_r50_soitr45": lambda: EANConfig(eab_stages=(1, 2, 3), soitr_stages=(4, 5)),
    "ean_r50_eab5": lambda: EANConfig(eab_stages=(1, 2, 3, 4, 5), soitr_stages=()),
}
