"""Multiply-add (MAC) accounting for the model summary.

Layers call :func:`record` with the multiply-adds of the maths they compute
(convolutions and dense layers, the fvcore/X3D convention; element-wise ops
such as BN, activations, the shift and SimAM are not counted).  Counting is
off unless a :func:`counting` context is active, so training pays nothing.
Because counts come from static shapes during tracing, a full-size count runs
under ``jax.eval_shape`` without any compute.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

_STACK: list[list[tuple[tuple[str, ...], int]]] = []


def record(path: tuple[str, ...], macs: int) -> None:
    """Adds ``macs`` multiply-adds for the module at ``path`` if counting."""
    if _STACK:
        _STACK[-1].append((tuple(path), int(macs)))


@contextlib.contextmanager
def counting() -> Iterator[list[tuple[tuple[str, ...], int]]]:
    """Collects ``(module_path, macs)`` records made while the context is open."""
    records: list[tuple[tuple[str, ...], int]] = []
    _STACK.append(records)
    try:
        yield records
    finally:
        _STACK.pop()
