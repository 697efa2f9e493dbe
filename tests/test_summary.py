"""Full-size parameter and MAC counts (shape tracing only) and the summary CLI."""
import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxar.models.x3d_ugt import X3DUGTConfig
from jaxar.complexity import profile
from jaxar.registry import create_config
from tests.conftest import ROOT

# Paper Table 2 (parameters, K, 60 classes) and the tolerance the issue states.
TABLE2 = {"x3d_ugt": (962.0, 962 * 0.005), "x3d_ugt_tada_all": (965.0, 1.5),
          "x3d_ugt_tada_s12": (930.0, 1.5), "x3d_ugt_tada_s3": (934.0, 1.5),
          "x3d_ugt_tada_s4": (955.0, 1.5)}


@pytest.mark.parametrize("name", sorted(TABLE2))
def test_full_size_param_counts_match_table2(name):
    target, tol = TABLE2[name]
    prof = profile(create_config(name, num_classes=60))
    assert abs(prof.params / 1e3 - target) <= tol, (name, prof.params)


def test_default_macs_match_paper():
    prof = profile(create_config("x3d_ugt", num_classes=60))
    assert prof.input_shape == (1, 16, 224, 224, 3)
    assert abs(prof.macs / 9.15e9 - 1) <= 0.05, prof.macs


def test_profile_params_equal_a_real_init_and_macs_equal_hand_count():
    cfg = X3DUGTConfig(stem_width=4, widths=(4, 8, 8, 8), depths=(1, 1, 1, 1), head_width=8,
                      num_classes=3, frames=2, size=16)
    prof = profile(cfg)
    v = jax.eval_shape(cfg.build().init, jax.random.PRNGKey(0), np.zeros((1, 2, 16, 16, 3), np.float32))
    assert prof.params == sum(int(np.prod(l.shape)) for l in jax.tree_util.tree_leaves(v["params"]))
    stem = prof.rows[0]
    # stem: 1x3x3 conv 3->4, stride 2: 2 frames x 8 x 8 outputs x 4 channels x 27 MACs
    assert stem["macs"] == 2 * 8 * 8 * 4 * 27
    assert stem["params"] == 3 * 3 * 3 * 4 + 2 * 4
    # head: Ghost projection 8 -> 8 (primary 8x4, cheap 4 x 3x3) on 2 frames of the 1x1
    # final map (16 -> 8 stem -> 8 -> 4 -> 2 -> 1), then the classifier 8 -> 3
    head = prof.rows[-1]
    assert head["macs"] == 2 * 1 * 1 * (8 * 4 + 4 * 9) + 8 * 3


def test_num_classes_changes_only_the_classifier():
    a = profile(create_config("x3d_ugt", num_classes=60))
    b = profile(create_config("x3d_ugt", num_classes=120))
    assert b.params - a.params == 60 * (432 + 1)


def test_cli_json_and_table():
    out = subprocess.run([sys.executable, "-m", "jaxar.summary", "x3d_ugt_tada_s3", "--json",
                          "--num-classes", "60"], cwd=ROOT, capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["params"] == profile(create_config("x3d_ugt_tada_s3")).params
    assert {r["name"] for r in d["rows"]} == {"stem", "stage1", "stage2", "stage3", "stage4", "head"}
    assert sum(r["macs"] for r in d["rows"]) == d["macs"]
    out = subprocess.run([sys.executable, "-m", "jaxar.summary", "x3d_ugt", "--frames", "8"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert "1x8x224x224x3" in out.stdout and "total" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "jaxar.summary", "nope"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown model variant 'nope'" in bad.stderr
