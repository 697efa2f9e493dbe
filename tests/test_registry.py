"""The variant table and the model-config protocol every family follows (no tracing, no compute)."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import flax.linen as nn
import pytest

from jaxar import registry

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", registry.list_variants())
def test_variant_follows_the_config_protocol(name):
    cfg = registry.create_config(name)
    assert dataclasses.is_dataclass(cfg)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_classes = 3
    for field in ("num_classes", "frames", "size", "impl", "dtype"):
        assert field in {f.name for f in dataclasses.fields(cfg)}, field
    t = 4 * getattr(cfg, "segment_frames", 1)          # EAN RGB+LMC reads 5-frame segments
    small = cfg.replace(num_classes=7, frames=t, size=32)
    assert small.input_shape == (t, 32, 32, 3) and small.num_classes == 7
    with pytest.raises(ValueError, match="nope"):
        cfg.replace(nope=1)
    assert isinstance(small.build(), nn.Module)
    assert type(registry.create_model(name, num_classes=7)) is type(small.build())


@pytest.mark.parametrize("name", registry.list_variants())
def test_config_json_round_trip_names_the_class(name):
    cfg = registry.create_config(name, num_classes=11)
    doc = registry.config_to_json(cfg)
    assert doc["class"] == type(cfg).__name__
    assert all(not isinstance(v, tuple) for v in doc["fields"].values())
    assert registry.config_from_json(doc) == cfg


def test_config_from_json_rejects_unknown_class_and_fields():
    doc = registry.config_to_json(registry.create_config("x3d_ugt"))
    with pytest.raises(ValueError, match="ckpt/3: model config class 'Resnet'"):
        registry.config_from_json({**doc, "class": "Resnet"}, where="ckpt/3")
    with pytest.raises(ValueError, match=r"no fields \['depthz'\]"):
        registry.config_from_json({**doc, "fields": {**doc["fields"], "depthz": [1]}})


def test_unknown_variant_lists_the_registered_ones():
    with pytest.raises(ValueError, match="unknown model variant 'x3d_nope'.*x3d_ugt_tiny"):
        registry.create_config("x3d_nope")


def test_variant_table_does_not_import_the_registry():
    """The table imports config modules only, so registry -> variants is the one direction."""
    code = "import sys, jaxar.variants; assert 'jaxar.registry' not in sys.modules; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
