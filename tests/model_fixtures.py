"""Model fixtures the tests share: small configs and the variants worth testing.

Every family config gives ``small(frames=4, size=32, num_classes=7, **overrides)``
(:class:`jaxar.models.base.ModelConfigBase`), the one tiny-config helper;
realistic (trained-looking) variables come from :mod:`jaxar.demo_variables`.
"""
from __future__ import annotations

from jaxar.registry import create_config, list_variants


def small(name: str, **overrides):
    """The small copy of registered variant ``name``."""
    return create_config(name).small(**overrides)


def rgb_variants() -> list[str]:
    """Registered variants whose input is one RGB clip (``input_domain == "rgb"``;
    the compressed-domain CD-KD students have their own tests, tests/test_cdkd_*.py)."""
    return [n for n in list_variants() if create_config(n).input_domain == "rgb"]


def distinct_small_variants(names=None, **overrides) -> list[str]:
    """The first of ``names`` (default: every registered RGB-input variant) for each
    distinct small config: variants that differ only in their input (X3D-XS/S/M)
    or only in what ``small()`` overrides share one, so per-variant tests run it once."""
    seen, out = [], []
    for name in rgb_variants() if names is None else names:
        cfg = small(name, **overrides)
        if cfg not in seen:
            seen.append(cfg)
            out.append(name)
    return out
