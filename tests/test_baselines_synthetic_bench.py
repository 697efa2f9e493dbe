"""benchmarks/bench_synthetic_baselines.py: one narrow config per variant,
diagnostic --set overrides, CLI errors (the training runs are the benchmark)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_synthetic_baselines import NARROW, parse_sets, train_config
from jaxar.registry import create_config, list_variants
from jaxar.train.config import model_config

ROOT = Path(__file__).resolve().parents[1]


def test_every_family_has_a_narrow_width_at_the_demo_input():
    assert set(NARROW) <= set(list_variants())
    multi_frame_segments = {n for n in list_variants()                 # EAN RGB+LMC: 5-frame segments
                            if getattr(create_config(n), "segment_frames", 1) > 1}
    raw = {n for n in list_variants()                # compressed-domain students train elsewhere
           if create_config(n).input_domain == "rgb"}
    assert {n for n in raw if not n.startswith("x3d_ugt")} - multi_frame_segments <= set(NARROW)
    for variant in NARROW:
        cfg = train_config(variant, epochs=2, train_clips=64, test_clips=32, seed=0)
        model = model_config(cfg)
        assert model.input_shape == (8, 32, 32, 3) and model.num_classes == 10, variant
        assert cfg.data.synthetic_train == 64 and cfg.epochs == 2.0


def test_sets_and_size_change_only_their_fields():
    base = train_config("tsm_resnet18", 15, 2000, 500, 0).to_dict()
    cfg = train_config("tsm_resnet18", 15, 2000, 500, 0, parse_sets(["lr=0.05", "batch_size=16"]), size=48)
    assert cfg.optim.lr == 0.05 and cfg.batch_size == 16
    assert cfg.model.size == 48 and cfg.data.synthetic_size == 48
    d = cfg.to_dict()
    assert {k for k in d if d[k] != base[k]} == {"model", "data", "optim", "batch_size"}


@pytest.mark.parametrize("item,message", [("lr", "expected KEY=VALUE"), ("momentum=0.8", "KEY one of"),
                                          ("lr=fast", "'fast' is not a float")])
def test_bad_set_is_named(item, message):
    with pytest.raises(ValueError, match=message):
        parse_sets([item])


def test_cli_rejects_a_variant_without_a_narrow_width():
    out = subprocess.run([sys.executable, "benchmarks/bench_synthetic_baselines.py", "--variants", "x3d_ugt"],
                         cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))   # as after `pip install -e .`
    assert out.returncode == 2 and "x3d_ugt" in out.stderr.splitlines()[-1]
