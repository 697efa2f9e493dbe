"""experiments/baselines/: one run file per (baseline, protocol), each the
protocol's recipe with only the network swapped, at the variant's paper input."""
import runpy
from pathlib import Path

import pytest

from jaxar.registry import create_config
from jaxar.train.config import load_config, model_config

ROOT = Path(__file__).resolve().parents[1]

BASELINES = ["x3d_xs", "x3d_s", "x3d_m", "tsm_resnet18", "tsm_resnet50", "tsm_mobilenetv2",
             "arc_tsm_resnet18", "arc_tsm_resnet50"]
HELPER = runpy.run_path(str(ROOT / "experiments" / "baselines" / "__init__.py"))


def test_every_baseline_has_a_file_per_protocol_and_nothing_else():
    files = {p.stem for p in (ROOT / "experiments" / "baselines").glob("*.py") if p.stem != "__init__"}
    assert files == {f"{v}_{p}" for v in BASELINES for p in HELPER["PROTOCOLS"]}


@pytest.mark.parametrize("protocol", ["ntu60_xsub", "ntu120_xset"])
@pytest.mark.parametrize("variant", ["x3d_s", "tsm_mobilenetv2", "arc_tsm_resnet50"])
def test_run_is_the_protocol_recipe_with_the_network_swapped(variant, protocol):
    base = load_config(ROOT / "experiments" / f"{protocol}.py").to_dict()
    cfg = load_config(ROOT / "experiments" / "baselines" / f"{variant}_{protocol}.py")
    assert {k: v for k, v in cfg.to_dict().items() if k != "model"} == \
        {k: v for k, v in base.items() if k != "model"}
    # the variant at its own defaults (the paper input), the protocol's classes
    assert model_config(cfg) == create_config(variant, num_classes=base["model"]["num_classes"])


def test_helper_rejects_an_unknown_protocol():
    with pytest.raises(ValueError, match="protocol must be one of.*'ntu61'"):
        HELPER["baseline_config"]("x3d_s", "ntu61")
