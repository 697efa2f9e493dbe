"""Registry of named model variants (timm / big_vision style).

A variant is a function returning a :class:`~jaxar.config.ModelConfig`;
``create_config(name, **overrides)`` applies field overrides (e.g.
``num_classes``, ``frames``, ``size``, ``impl``).  The variants of the paper
are registered in :mod:`jaxar.variants`; every registered variant gets the
same init/forward/grad tests automatically (``tests/test_variants.py``).
"""
from __future__ import annotations

from typing import Callable

from jaxar.config import ModelConfig

_VARIANTS: dict[str, Callable[[], ModelConfig]] = {}


def register(name: str):
    def wrap(fn: Callable[[], ModelConfig]):
        if name in _VARIANTS:
            raise ValueError(f"variant {name!r} is already registered")
        _VARIANTS[name] = fn
        return fn
    return wrap


def list_variants() -> list[str]:
    import jaxar.variants  # noqa: F401  (registers the built-in variants)
    return sorted(_VARIANTS)


def create_config(name: str, **overrides) -> ModelConfig:
    names = list_variants()
    if name not in _VARIANTS:
        raise ValueError(f"unknown model variant {name!r}; registered: {', '.join(names)}")
    return _VARIANTS[name]().replace(**overrides)


def create_model(name: str, bn_axis_name: str | None = None, **overrides):
    from jaxar.network import X3DUGT
    config = create_config(name, **overrides)
    if not isinstance(config, ModelConfig):          # other families build themselves
        return config.build()
    return X3DUGT(config, bn_axis_name=bn_axis_name)
