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
