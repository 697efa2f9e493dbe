"""The stages of every family with ``stage{s}/block{b}`` blocks (X3D,
X3D-UGT, TSM-ResNet, TSM-MobileNetV2), in training and deploy form.

Each family has one block factory, ``stage_blocks(cfg, s, train)`` (unbound
block modules named ``block{b}``). :class:`Stage` is the training module of
one stage (parameters ``stage{s}/block{b}/...``); :func:`stage_parts` turns
the same factory into the :class:`~jaxar.deploy.network.Part` list that
:mod:`jaxar.deploy.network` walks.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn

from jaxar.deploy.network import Part


class Stage(nn.Module):
    """One stage: ``blocks_of(train)``'s blocks in order, then ``after`` (a
    parameter-free function of the activations, or None). Name it ``stage{s}``;
    ``blocks_of`` is e.g. ``functools.partial(stage_blocks, cfg, s)``."""
    blocks_of: Callable[[bool], Sequence[nn.Module]]
    train: bool = False
    after: Callable | None = None

    @nn.compact
    def __call__(self, x):
        for blk in self.blocks_of(self.train):
            x = blk(x)
        return self.after(x) if self.after is not None else x


def stage_parts(num_stages: int, blocks_of: Callable[[int], Sequence[Any]],
                after: Callable[[int], Any] | None = None) -> list[Part]:
    """``Part(("stage{s}", block.name), block)`` for the blocks of stages
    ``1..num_stages`` (``blocks_of(s)``: unbound block modules named
    ``block{b}``), with ``after(s)`` (a parameter-free part, or None) after
    each stage."""
    parts = []
    for s in range(1, num_stages + 1):
        parts.extend(Part((f"stage{s}", blk.name), blk) for blk in blocks_of(s))
        extra = after(s) if after else None
        if extra is not None:
            parts.append(Part(None, extra))
    return parts
