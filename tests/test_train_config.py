"""Run configs and --config.KEY=VALUE overrides: typed, one model section, clear errors."""
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxar.registry import create_config
from jaxar.train.config import (default_config, from_dict, load_config, model_config, to_json,
                                with_overrides)

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").rglob("*.py") if p.name != "__init__.py")
SMOKE = ROOT / "experiments" / "smoke_tiny.py"


def test_overrides_are_typed():
    cfg = load_config(SMOKE, ["optim.lr=0.2", "batch_size=128", "model.frames=8",
                              "model.dtype=bfloat16", "--config.model.depths=(1, 2)",
                              "model.dropout=0", "optim.base_batch=256", "data.flip=true"])
    assert cfg.optim.lr == 0.2 and cfg.batch_size == 128 and cfg.data.flip is True
    assert cfg.optim.base_batch == 256
    mc = model_config(cfg)
    assert mc.depths == (1, 2) and mc.frames == 8 and mc.dtype == "bfloat16"
    assert isinstance(mc.dropout, float) and mc.dropout == 0.0
    assert mc.widths == (8, 16)                          # set by the file, kept


def test_model_section_is_the_only_place_for_model_fields():
    cfg = default_config("x3d_ugt_tiny", num_classes=7)
    assert "num_classes" not in cfg.data and "frames" not in cfg.data
    assert set(cfg.model) == {"variant"} | {f.name for f in dataclasses.fields(create_config("x3d_ugt"))}
    # None keeps the variant's value, so switching variant switches every unset field
    assert model_config(cfg) == create_config("x3d_ugt_tiny", num_classes=7)
    cfg.model.variant = "x3d_ugt_tada_s3"
    assert model_config(cfg) == create_config("x3d_ugt_tada_s3", num_classes=7)
    with pytest.raises(ValueError, match="has no fields.*'widthz'"):
        default_config("x3d_ugt", widthz=(1, 2))


@pytest.mark.parametrize("arg,key", [("tada_all", ("model", "variant")), ("tada_s12", ("model", "variant")),
                                     ("tada_s3", ("model", "variant")), ("tada_s4", ("model", "variant")),
                                     ("no_poly1", ("loss", "name"))])
def test_ablation_is_one_field_away_from_its_base(arg, key):
    base = load_config(ROOT / "experiments" / "ntu60_xsub.py").to_dict()
    cfg = load_config(f"{ROOT / 'experiments' / 'ablations.py'}:{arg}").to_dict()
    diff = [(s, k) for s in base for k in (base[s] if isinstance(base[s], dict) else [None])
            if (cfg[s][k] if k else cfg[s]) != (base[s][k] if k else base[s])]
    assert diff == [key], arg
    if key == ("model", "variant"):
        assert cfg["model"]["variant"] == f"x3d_ugt_{arg}"
    with pytest.raises(ValueError, match=r"ablations.py: give one of .*got 'tada_s5'"):
        load_config(f"{ROOT / 'experiments' / 'ablations.py'}:tada_s5")


@pytest.mark.parametrize("item,message", [
    ("optim.learning_rate=0.1", "unknown config key 'optim.learning_rate'.*fields: base_batch"),
    ("optim.lr=fast", r"--config.optim.lr=fast: could not convert"),
    ("batch_size=1.5", "--config.batch_size=1.5"),
    ("batch_size", "expected key=value"),
    ("optim=1", "is a section"),
    ("optim.lr.x=1", "optim.lr is a value"),
    ("model.widthz=(1,2)", "unknown config key 'model.widthz'"),
    ("model.frames=8.5", "--config.model.frames=8.5"),
    ("model.variant=x3d_nope", "unknown model variant 'x3d_nope'"),
    ("model.dtype=float16", "dtype must be one of"),
    ("loss.name=focal", "poly1"),
    ("eval_every=0", "eval_every must be >= 1"),
    ("progress=maybe", "--config.progress=maybe"),
])
def test_bad_overrides_fail_clearly(item, message):
    with pytest.raises(ValueError, match=message):
        load_config(SMOKE, [item])


def test_overrides_leave_the_input_unchanged_and_take_space_separated_values():
    cfg = load_config(SMOKE)
    new = with_overrides(cfg, ["--config.optim.lr", "0.3", "--config.model.size=32"])
    assert new.optim.lr == 0.3 and model_config(new).size == 32
    assert cfg.optim.lr == 0.1 and cfg.model.size == 16
    with pytest.raises(ValueError, match="unexpected argument '0.5'"):
        with_overrides(cfg, ["0.5"])


def test_json_round_trip():
    cfg = load_config(SMOKE, ["model.depths=(1,1)", "data.crop_area=(0.5, 1.0)"])
    back = from_dict(json.loads(to_json(cfg)))
    assert back.to_dict() == cfg.to_dict() and model_config(back) == model_config(cfg)
    assert isinstance(back.data.crop_area, tuple)
    with pytest.raises(ValueError, match="unknown field 'optim.lrr'"):
        from_dict({**cfg.to_dict(), "optim": {**cfg.optim.to_dict(), "lrr": 1}})


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_experiment_loads_and_documents_its_command(path):
    first = path.read_text().split('"""')[1].strip().splitlines()[0]
    assert first.startswith("python -m jaxar."), f"{path}: docstring must start with its command"
    spec = str(path.relative_to(ROOT))
    if not first.startswith("python -m jaxar.train.demo"):
        spec = first.split("--config ", 1)[1].split()[0]      # FILE or FILE:ARG, as documented
        assert spec.split(":")[0] == str(path.relative_to(ROOT)), first
    cfg = load_config(ROOT / spec)
    assert "--set" not in path.read_text()
    assert model_config(cfg).input_shape[0] == cfg.model.frames


def test_missing_config_file_and_cli_error_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py does not exist"):
        load_config(tmp_path / "nope.py")
    proc = subprocess.run([sys.executable, "-m", "jaxar.train", "--config",
                           "experiments/smoke_tiny.py", "--workdir", str(tmp_path / "w"),
                           "--config.optim.lrr=1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "unknown config key 'optim.lrr'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "w").exists()
