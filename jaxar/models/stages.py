"""The stage walk of the deploy form, shared by every family with
``stage{s}/block{b}`` blocks (X3D, X3D-UGT, TSM-ResNet, TSM-MobileNetV2).

:func:`stage_parts` turns a family's block factory (the same function its
training stages call) into the :class:`~jaxar.deploy.network.Part` list that
:mod:`jaxar.deploy.network` walks.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from jaxar.deploy.network import Part


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
