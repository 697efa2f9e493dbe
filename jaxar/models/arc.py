"""ARC: Adaptive Recursive Circle (Lin, Zhao and Wu), a wrapper around TSM-ResNet.

Every non-pointwise conv of a TSM-ResNet (the 7x7 stem and every 3x3 conv)
becomes an :class:`jaxar.modules.arc_conv.ARCConv`: its ``c`` output channels are produced in ``n``
steps of ``g = c/n`` channels, and before each step after the first the
layer input evolves (the paper's Eqs. 2-5)::

    Y   = concat(f(X_1; w_1), ..., f(X_n; w_n))         f: the conv, w_i: its i-th g outputs
    X_1 = X
    X_i = phi(phi(X + We X + A(F)) + R(F))              i = 2..n
    A(F) = Wa_F (maxpool_space(F) (+) maxpool_time(F))   (+): broadcast sum
    R(F) = Wf_F F

``phi`` is the leaky ReLU, ``F`` the ``(i-1)*g`` channels generated so far,
``Wa_F`` / ``Wf_F`` the columns of ``Wa`` / ``Wf`` that belong to them. ``We``
and ``Wf`` start at zero. Shapes (channels-last, per clip): ``X (T, H, W,
C_in)``, ``F (T, H', W', C_gen)``, ``maxpool_space(F) (T, 1, 1, C_gen)``,
``maxpool_time(F) (1, H', W', C_gen)``.

Implementation choices where the paper is silent (``docs/baselines.md``):

* the columns of the last step's channels never feed a state, so ``Wa`` and
  ``Wf`` store only the ``c - g`` used ones: parameters ``k*k*C_in*c + C_in^2
  + 2*C_in*(c - g)`` per layer (this reproduces the paper's 14.2 M / 27.0 M);
* by linearity ``Wa_F pool(F)`` and ``Wf_F F`` are accumulated one step's
  ``g`` new channels at a time (the same maths as re-multiplying all of F), and
  ``X + We X`` is computed once: the layer costs the conv plus
  ``C_in^2`` MACs per input position plus ``(c - g) * C_in`` per output position;
* for a strided conv, ``F`` lives at the output resolution; ``A(F)`` and
  ``R(F)`` are brought to the input resolution by nearest upsampling (input
  pixel ``j`` reads output pixel ``j // stride``), as in the authors' code;
* ``phi`` has negative slope 0.01 (PyTorch's default); ``Wa`` is initialised
  like a PyTorch linear layer (uniform, bound ``1/sqrt(c - g)``).

The BN after an ARC conv is not folded into it in the deploy form: the
recursion reads the raw conv outputs, and a max-pool does not commute with a
negative BN scale; it stays a per-channel Mul + Add after the Concat.

The network is :class:`jaxar.models.tsm_resnet.TSMResNet`: its blocks build
an ARC conv where :attr:`ARCTSMResNetConfig.arc` says so; the layer, with its
deploy form, lives in :mod:`jaxar.modules.arc_conv`.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from jaxar.models.tsm_resnet import TSMResNetConfig


@dataclasses.dataclass(frozen=True)
class ARCTSMResNetConfig(TSMResNetConfig):
    """A :class:`TSMResNetConfig` whose non-pointwise convs are ARC convs."""
    family: ClassVar[str] = "arc_tsm_resnet"
    steps: int = 4
    negative_slope: float = 0.01

    def __post_init__(self):
        super().__post_init__()
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        bad = [c for c in (self.stem_width, *self.widths) if c % self.steps]
        if bad:
            raise ValueError(f"ARC needs conv widths divisible by steps={self.steps}; {bad} are not")

    @property
    def arc(self) -> tuple[int, float]:
        return (self.steps, self.negative_slope)

    def small(self, frames: int = 4, size: int = 32, num_classes: int = 7, **overrides) -> "ARCTSMResNetConfig":
        """One stage (width 8, depth 1) after the strided ARC stem: an ARC layer with
        4 steps compiles slowly, so the smallest copy with a strided and a plain ARC conv."""
        return super().small(frames, size, num_classes, **{"widths": (8,), "depths": (1,), **overrides})


def arc_tsm_resnet18() -> ARCTSMResNetConfig:
    """ARC-TSM-ResNet-18, n = 4 steps, 8x224^2 (paper: 14.2 M / 17.2 G at 174 classes)."""
    return ARCTSMResNetConfig(block="basic", depths=(2, 2, 2, 2))


def arc_tsm_resnet50() -> ARCTSMResNetConfig:
    """ARC-TSM-ResNet-50, n = 4 steps, 8x224^2 (paper: 27.0 M / 37 G at 174 classes)."""
    return ARCTSMResNetConfig(block="bottleneck", depths=(3, 4, 6, 3))
