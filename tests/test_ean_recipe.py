"""EAN's training recipe: the step schedule (optax piecewise) and the
experiment configs of experiments/ean.py for the NTU protocols."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from jaxar.optim import schedule_values, step_schedule
from jaxar.train.config import model_config, validate
from jaxar.train.loop import Plan, lr_schedule

ROOT = Path(__file__).resolve().parents[1]


def _experiment():
    spec = importlib.util.spec_from_file_location("ean_experiment", ROOT / "experiments" / "ean.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_step_schedule_divides_by_ten_at_each_boundary():
    lrs = schedule_values(step_schedule(0.01, [40, 50, 60]), 70)
    np.testing.assert_allclose(lrs[[0, 39, 40, 49, 50, 59, 60, 70]],
                               [0.01, 0.01, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5], rtol=1e-6)
    warm = schedule_values(step_schedule(0.01, [40], warmup_steps=10), 50)
    assert warm[0] == 0.0 and abs(warm[10] - 0.01) < 1e-9 and abs(warm[45] - 1e-3) < 1e-9
    with pytest.raises(ValueError, match="increasing"):
        step_schedule(0.01, [50, 40])


@pytest.mark.parametrize("protocol,classes", [("ntu60_xsub", 60), ("ntu60_xview", 60),
                                              ("ntu120_xsub", 120), ("ntu120_xset", 120)])
def test_ntu_configs_carry_the_paper_recipe(protocol, classes):
    c = _experiment().get_config(f"ean_r50_lmc,{protocol}")
    validate(c)
    m = model_config(c)
    assert (m.family, m.num_classes, m.frames, m.size, m.dropout) == ("ean", classes, 40, 224, 0.5)
    assert c.data.tfds_name.endswith(protocol)
    assert (c.optim.lr, c.optim.base_batch, c.optim.weight_decay, c.optim.momentum) == (0.01, 64, 5e-4, 0.9)
    assert c.loss.name == "ce" and c.epochs == 70.0
    # the loop turns it into lr 0.01 / 1e-3 / 1e-4 / 1e-5 at epochs 0 / 40 / 50 / 60
    plan = Plan(total_steps=70 * 10, steps_per_epoch=10, peak_lr=0.01, warmup_steps=0)
    lrs = schedule_values(lr_schedule(c, plan), plan.total_steps)
    np.testing.assert_allclose(lrs[[0, 399, 400, 500, 600, 699]], [1e-2, 1e-2, 1e-3, 1e-4, 1e-5, 1e-5],
                               rtol=1e-6)


def test_bad_arguments_are_rejected():
    exp = _experiment()
    with pytest.raises(ValueError, match="VARIANT,PROTOCOL"):
        exp.get_config("ean_r50")
    with pytest.raises(ValueError, match="protocol"):
        exp.get_config("ean_r50,kinetics")
    with pytest.raises(ValueError, match="not an EAN variant"):
        exp.get_config("tsm_resnet50,ntu60_xsub")


def test_synthetic_check_config():
    """The CPU learning check: narrow widths at 8 x 32^2, lr 0.02 (lr 0.1 kills the 1x1
    last stage, docs/ean.md), the family's step schedule, dropout 0.2; the real runs keep 0.5."""
    c = _experiment().get_config("ean_r50,synthetic")
    validate(c)
    m = model_config(c)
    assert (m.num_classes, m.frames, m.size, m.dropout, m.depths) == (10, 8, 32, 0.2, (1, 1, 1, 1))
    assert m.size // 32 == 1                              # stage-5 map is 1x1 here
    plan = Plan(total_steps=1240, steps_per_epoch=62, peak_lr=0.02, warmup_steps=62)
    lrs = schedule_values(lr_schedule(c, plan), 1240)
    np.testing.assert_allclose(lrs[[62, 743, 744, 929, 930, 1115, 1116]],
                               [0.02, 0.02, 2e-3, 2e-3, 2e-4, 2e-4, 2e-5], rtol=1e-5)
    assert model_config(_experiment().get_config("ean_r50,ntu60_xsub")).dropout == 0.5


def test_synthetic_plot_draws_every_result_file(tmp_path):
    from benchmarks.ean_synthetic import plot_curves
    with pytest.raises(FileNotFoundError, match="no ean_synthetic_"):
        plot_curves(tmp_path, tmp_path / "x.png")
    for v, top1 in (("ean_r50", 0.5), ("ean_r50_base", 0.8)):
        doc = {"variant": v, "curve": [{"step": 124, "top1": 0.1, "top5": 0.5},
                                       {"step": 248, "top1": top1, "top5": 0.9}]}
        (tmp_path / f"ean_synthetic_{v}.json").write_text(__import__("json").dumps(doc))
    assert plot_curves(tmp_path, tmp_path / "x.png") == ["ean_r50", "ean_r50_base"]
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
