"""Config files and --set overrides: typed, and bad input fails with a clear message."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxar.train.config import TrainConfig, from_dict, load_config, with_overrides

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p for p in (ROOT / "experiments").rglob("*.py") if p.name != "__init__.py")


def test_overrides_are_typed():
    cfg = with_overrides(TrainConfig(), ["optim.lr=0.2", "batch_size=128", "data.frames=8",
                                         "model.dtype=bfloat16", "model.depths=(1, 1, 2, 2)",
                                         "model.dropout=0", "optim.base_batch=256",
                                         "data.flip=true", "data.data_dir=None"])
    assert cfg.optim.lr == 0.2 and cfg.batch_size == 128 and cfg.data.frames == 8
    assert cfg.model.dtype == "bfloat16"
    assert cfg.model.overrides == {"depths": (1, 1, 2, 2), "dropout": 0.0}
    assert isinstance(cfg.model.overrides["dropout"], float)
    assert cfg.optim.base_batch == 256 and cfg.data.flip is True and cfg.data.data_dir is None
    mc = cfg.model_config()
    assert mc.depths == (1, 1, 2, 2) and mc.frames == 8 and mc.dtype == "bfloat16"


@pytest.mark.parametrize("item,message", [
    ("optim.learning_rate=0.1", "unknown config key 'optim.learning_rate'.*fields: lr"),
    ("optim.lr=fast", r"optim.lr: expected float, got 'fast'"),
    ("batch_size=1.5", "batch_size: expected int"),
    ("batch_size", "expected key=value"),
    ("optim=1", "is a section"),
    ("model.widthz=(1,2)", "unknown config key 'model.widthz'"),
    ("model.frames=8", "use data.frames"),
    ("model.variant=x3d_nope", "unknown model variant 'x3d_nope'"),
    ("model.dtype=float16", "dtype must be one of"),
    ("loss.name=focal", "poly1"),
    ("eval_every=0", "eval_every must be >= 1"),
])
def test_bad_overrides_fail_clearly(item, message):
    with pytest.raises(ValueError, match=message):
        with_overrides(TrainConfig(), [item])


def test_to_dict_round_trip():
    cfg = with_overrides(TrainConfig(), ["model.depths=(1,1,1,1)", "data.crop_area=(0.5, 1.0)"])
    assert from_dict(json.loads(cfg.to_json())) == cfg


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_experiment_loads_and_documents_its_command(path):
    cfg = load_config(path)
    first = path.read_text().split('"""')[1].strip().splitlines()[0]
    assert first.startswith("python -m jaxar."), f"{path}: docstring must start with its command"
    if not first.startswith("python -m jaxar.train.demo"):
        assert f"--config {path.relative_to(ROOT)}" in first
    assert cfg.model_config().num_classes == cfg.data.num_classes


def test_missing_config_file_and_cli_error_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py does not exist"):
        load_config(tmp_path / "nope.py")
    proc = subprocess.run([sys.executable, "-m", "jaxar.train", "--config",
                           "experiments/smoke_tiny.py", "--workdir", str(tmp_path / "w"),
                           "--set", "optim.lrr=1"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "unknown config key 'optim.lrr'" in proc.stderr
    assert "Traceback" not in proc.stderr
