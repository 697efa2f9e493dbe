"""experiments/baselines.py: one run config per (baseline, protocol) argument, each the
protocol's recipe with only the network swapped, at the variant's paper input."""
from pathlib import Path

import pytest

from jaxar.registry import create_config
from jaxar.train.config import load_config, model_config

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "experiments" / "baselines.py"
BASELINES = ["x3d_xs", "x3d_s", "x3d_m", "tsm_resnet18", "tsm_resnet50", "tsm_mobilenetv2",
             "arc_tsm_resnet18", "arc_tsm_resnet50"]
PROTOCOLS = ["ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset"]
BASES = {}


def _base(protocol):
    if protocol not in BASES:
        BASES[protocol] = load_config(ROOT / "experiments" / f"{protocol}.py").to_dict()
    return BASES[protocol]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("variant", BASELINES)
def test_every_pair_is_the_protocol_recipe_with_the_network_swapped(variant, protocol):
    base = _base(protocol)
    cfg = load_config(f"{FILE}:{variant},{protocol}")
    assert {k: v for k, v in cfg.to_dict().items() if k != "model"} == \
        {k: v for k, v in base.items() if k != "model"}
    # the variant at its own defaults (the paper input), the protocol's classes
    assert model_config(cfg) == create_config(variant, num_classes=base["model"]["num_classes"])


def test_the_file_lists_exactly_these_runs_and_overrides_still_apply():
    import runpy
    run_file = runpy.run_path(str(FILE))
    assert list(run_file["VARIANTS"]) == BASELINES and list(run_file["PROTOCOLS"]) == PROTOCOLS
    cfg = load_config(f"{FILE}:tsm_resnet18,ntu60_xview", ["model.frames=16", "model.size=224"])
    assert model_config(cfg).input_shape == (16, 224, 224, 3)


@pytest.mark.parametrize("arg,message", [
    ("x3d_s,ntu61", "protocol must be one of.*got 'ntu61'"),
    ("x3d_q,ntu60_xsub", "variant must be one of.*got 'x3d_q'"),
    ("x3d_s", "give VARIANT,PROTOCOL.*got 'x3d_s'"),
])
def test_bad_argument_names_the_file_and_what_is_allowed(arg, message):
    with pytest.raises(ValueError, match=message):
        load_config(f"{FILE}:{arg}")
    with pytest.raises(ValueError, match="give VARIANT,PROTOCOL.*got None"):
        load_config(FILE)
