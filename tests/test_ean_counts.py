"""EAN parameter and multiply-add counts against the paper (Tian et al. 2022),
174 classes, 8 x 224^2, by shape tracing only (``jax.eval_shape``).

Goal (issue 18): every parameter count within 2 % and every MAC count within
5 % of Tables 5/6. The LMC module alone is counted against Eqs. 8-10 (the
paper's "1.1 GFLOPs" does not follow from its own layer sizes; docs/ean.md).
"""
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxar import macs
from jaxar.registry import create_config, list_variants
from jaxar.summary import main as summary_main

EAN_VARIANTS = ["ean_r50", "ean_r50_lmc", "ean_r50_base", "ean_r50_eab", "ean_r50_soitr", "ean_r50_eab5",
                "ean_r50_soitr345", "ean_r50_soitr45"]


@functools.lru_cache(maxsize=None)
def count(name):
    """(parameters, MACs, MACs per top-level module) of one clip at 174 classes."""
    cfg = create_config(name, num_classes=174)
    model = cfg.build()
    x = jax.ShapeDtypeStruct((1, *cfg.input_shape), jnp.float32)
    with macs.counting() as records:
        v = jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x), x)
    params = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(v["params"]))
    parts: dict = {}
    for path, n in records:
        parts[path[0]] = parts.get(path[0], 0) + n
    return params, sum(parts.values()), parts


def test_variants_are_registered():
    assert set(EAN_VARIANTS) <= set(list_variants())
    for name in EAN_VARIANTS:
        cfg = create_config(name)
        assert cfg.family == "ean" and cfg.num_classes == 174
        assert cfg.input_shape == ((40 if name == "ean_r50_lmc" else 8), 224, 224, 3)


@pytest.mark.parametrize("name,params_m,gmacs", [
    ("ean_r50_base", 24.0, 33.1),     # Table 5: ResNet baseline
    ("ean_r50_eab", 29.5, 35.3),      # Table 5: ResNet + EABs
    ("ean_r50_soitr", 30.3, 33.8),    # Table 5: ResNet + SOI-Tr
    ("ean_r50", 36.0, 36.1),          # Tables 5/6: EABs (stages 1-4) + SOI-Tr (stage 5)
    ("ean_r50_eab5", 65.8, 36.2),     # Table 6: EABs after stages 1-5, no SOI-Tr
])
def test_counts_meet_the_paper_tables(name, params_m, gmacs):
    p, m, _ = count(name)
    assert abs(p / 1e6 - params_m) <= 0.02 * params_m, (name, p)
    assert abs(m / 1e9 - gmacs) <= 0.05 * gmacs, (name, m / 1e9)


@pytest.mark.parametrize("name,params_m,gmacs,mid", [
    ("ean_r50_soitr345", 35.6, 35.8, (3, 4)),   # Table 6 row 1: EAB 1-2, SOI-Tr 3-5
    ("ean_r50_soitr45", 34.8, 35.9, (4,)),      # Table 6 row 2: EAB 1-3, SOI-Tr 4-5
])
def test_table6_mid_network_soitr_counts(name, params_m, gmacs, mid):
    """MACs meet the 5 % goal (a mid-network SOI-Tr costs its squeeze and its 1x1
    expand over the whole map, ~0.9 G at stage 3 or 4). Parameters do NOT meet the
    2 % goal: the stage-5 design at C/4 width gives 1.18 M (stage 3) and 1.89 M
    (stage 4), while the table implies ~1.5 M and ~3.6-3.9 M; docs/ean.md. The
    bound here records the known gap (-5.6 % / -6.3 %) so a change is noticed."""
    p, m, parts = count(name)
    assert abs(m / 1e9 - gmacs) <= 0.05 * gmacs, (name, m / 1e9)
    assert -0.07 * params_m <= p / 1e6 - params_m <= -0.05 * params_m, (name, p)
    for s in mid:                                   # the map-valued SOI-Trs, one per stage
        assert parts[f"soitr{s}"] > 0
    assert "soitr" in parts


def test_rgb_lmc_total_meets_table_1():
    """EAN_8F(RGB+LMC): 37 GFLOPs in Table 1; the LMC part as Eqs. 8-10 give it."""
    p, m, parts = count("ean_r50_lmc")
    assert abs(m / 1e9 - 37.0) <= 0.05 * 37.0, m / 1e9
    cfg = create_config("ean_r50_lmc")
    positions = cfg.segments * (cfg.segment_frames - 1) * (cfg.size // cfg.lmc_patch) ** 2
    L = cfg.lmc_latent
    encode = positions * cfg.lmc_patch ** 2 * 3 * L
    motion = 2 * positions * 27 * L * L // cfg.lmc_groups
    decode = positions * L * (cfg.stem_width // (cfg.segment_frames - 1)) * (cfg.lmc_patch // 4) ** 2
    assert parts["lmc"] == encode + motion + decode
    rgb_p, rgb_m, _ = count("ean_r50")
    assert m - rgb_m == parts["lmc"] and p > rgb_p


def test_summary_prints_per_stage_rows(capsys):
    assert summary_main(["ean_r50", "--num-classes", "174", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [r["name"] for r in out["rows"]]
    for part in ("conv1", "eab1", "layer1", "eab2", "layer2", "eab3", "layer3", "eab4", "layer4",
                 "soitr", "fc"):
        assert part in names, names
    p, m, _ = count("ean_r50")
    assert out["params"] == p and out["macs"] == m
    assert sum(r["params"] for r in out["rows"]) == p
