"""Look-up of named model variants (timm / big_vision style), any family.

``create_config(name, **fields)`` returns the variant's frozen config with
fields replaced (e.g. ``num_classes``, ``frames``, ``size``, ``impl``);
``create_model`` builds its Flax module. The variants live in the static
table :data:`jaxar.variants.VARIANTS`; every entry gets the same
init/forward/grad tests (``tests/test_variants.py``).

Configs travel through JSON (checkpoint metadata, run configs, export
directories) by the one codec here, :func:`config_to_json` /
:func:`config_from_json`: the config class name plus its fields, so a
checkpoint rebuilds the same family.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from jaxar.variants import VARIANTS

# Class names written by earlier versions -> today's class name.
LEGACY_CLASS_NAMES = {"ModelConfig": "X3DUGTConfig"}   # X3D-UGT's config before jaxar/models/x3d_ugt.py


def list_variants() -> list[str]:
    return sorted(VARIANTS)


def model_family(cfg) -> str:
    """Model family of a config (its class's ``family``)."""
    return cfg.family


def create_config(name: str, **overrides) -> Any:
    if name not in VARIANTS:
        raise ValueError(f"unknown model variant {name!r}; registered: {', '.join(list_variants())}")
    return VARIANTS[name]().replace(**overrides)


def create_model(name: str, **overrides):
    """The Flax module of variant ``name`` (input ``(N, T, H, W, 3)``, logits ``(N, K)``)."""
    return create_config(name, **overrides).build()


def config_classes() -> dict[str, type]:
    """Config class name -> class, over all registered variants."""
    return {type(fn()).__name__: type(fn()) for fn in VARIANTS.values()}


def _to_json(v):
    return [_to_json(x) for x in v] if isinstance(v, (tuple, list)) else v


def _from_json(v):
    return tuple(_from_json(x) for x in v) if isinstance(v, list) else v


def config_to_json(cfg) -> dict:
    """``{"class": <config class name>, "fields": {...}}`` with tuples as lists."""
    return {"class": type(cfg).__name__,
            "fields": {f.name: _to_json(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}}


def config_from_json(d: Mapping, where: str = "config") -> Any:
    """Inverse of :func:`config_to_json`. An unknown class, unknown or invalid
    fields, or anything but ``{"class": ..., "fields": {...}}`` raise
    ``ValueError`` naming ``where`` (a file or checkpoint step)."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{where}: model config must be a JSON object, got {type(d).__name__}")
    classes = config_classes()
    name = LEGACY_CLASS_NAMES.get(d.get("class"), d.get("class"))
    if name not in classes or not isinstance(d.get("fields"), Mapping):
        raise ValueError(f"{where}: model config class {d.get('class')!r} is not one of "
                         f"{sorted(classes)} (expected {{'class': ..., 'fields': {{...}}}})")
    cls = classes[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d["fields"]) - known)
    if unknown:
        raise ValueError(f"{where}: {name} has no fields {unknown} in this jaxar")
    try:
        return cls(**{k: _from_json(v) for k, v in d["fields"].items()})
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: invalid model config: {e}") from e
