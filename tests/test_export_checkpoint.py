"""A real Orbax checkpoint written by jaxar.checkpoint goes through the export
to a parity-checked ONNX (labels from the checkpoint's class names); damaged
checkpoints and unusable output options end in one line naming the path or
flag, exit status 2, and no output directory."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from flax import traverse_util

from export import to_trt
from jaxar.demo_variables import realistic_variables
from jaxar import checkpoint as ckpt
from jaxar import registry
from jaxar.registry import create_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    cfg = create_config("x3d_ugt").small(num_classes=3)
    variables = realistic_variables(cfg, seed=4)
    run = tmp_path_factory.mktemp("ckpt") / "run"
    saver = ckpt.Checkpointer(run, async_save=False)
    meta = {"step": 12, "model_config": registry.config_to_json(cfg), "class_names": ["wave", "sit", "fall"],
            "train_config": {"lr": 0.1}}
    saver.save(12, {"params": variables["params"], "batch_stats": variables["batch_stats"],
                    "step": np.int32(12)}, meta)
    saver.wait()
    saver.close()
    return run, cfg


def test_checkpoint_to_parity_checked_onnx(run_dir, tmp_path):
    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_checkpoint
    from jaxar.model_record import read_record
    run, cfg = run_dir
    bundle = from_checkpoint(run)
    assert bundle.step == 12 and bundle.config == cfg and bundle.metadata["train_config"] == {"lr": 0.1}
    out = tmp_path / "export"
    opts = ExportOptions(routes=("jax2onnx",), savedmodel=False, num_clips=4, profile=False, tensorrt=False)
    result = export(bundle, out, opts, log=lambda m: None)
    assert result["parity"]["passed"]
    assert json.loads((out / "labels.json").read_text()) == ["wave", "sit", "fall"]
    assert json.loads((out / "manifest.json").read_text())["step"] == 12
    assert (out / "model.onnx").is_file()
    back = read_record(out)                  # the record round-trips through the export directory
    assert back.config == cfg and back.step == 12 and back.class_names == ["wave", "sit", "fall"]
    assert back.metadata["train_config"] == {"lr": 0.1} and back.preprocessing["input_shape"][0] == 1
    flat, flat_back = (traverse_util.flatten_dict(v) for v in (bundle.variables, back.variables))
    assert flat.keys() == flat_back.keys()
    for key, value in flat.items():
        np.testing.assert_array_equal(flat_back[key], value)


def _truncate(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CORRUPTIONS = {
    # Orbax spreads the arrays over several OCDBT data files (how many, and
    # which holds what, depends on its writer threads), so all are truncated;
    # the first read that fails is the metadata's, through the same store, and
    # the message names the store, not the intact _METADATA file.
    "truncated data files": (lambda step: [_truncate(p) for p in (step / "state").rglob("d/*") if p.is_file()],
                             "state: checkpoint metadata is empty or unreadable although _METADATA is intact"),
    "truncated _METADATA": (lambda step: _truncate(step / "state" / "_METADATA"), "_METADATA"),
    "bad meta file": (lambda step: _truncate(step / "meta" / "metadata"), "meta/metadata: unreadable"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_damaged_checkpoint_is_one_line_naming_the_file(case, run_dir, tmp_path, capsys):
    run, _ = run_dir
    bad = tmp_path / "bad"
    shutil.copytree(run, bad)
    damage, message = CORRUPTIONS[case]
    damage(bad / "checkpoints" / "12")
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as info:
        to_trt.main(["--checkpoint", str(bad), "--out", str(out), "--no-profile"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    last = err.strip().splitlines()[-1]
    assert message in last and str(bad) in last and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--batch", "4", "--max-batch", "2"], "--batch 4 is larger than --max-batch 2"),
    (["--precision", "int8"], "--precision int8 needs --calib-clips"),
    (["--layout", "sideways"], "--layout"),
])
def test_bad_options_exit_2_and_create_nothing(args, message, tmp_path, capsys):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as info:
        to_trt.main(["--variant", "x3d_ugt_tiny", "--out", str(out), *args])
    assert info.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()


def test_unwritable_out_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(SystemExit) as info:
            to_trt.main(["--variant", "x3d_ugt_tiny", "--out", str(out)])
        err = capsys.readouterr().err
        assert info.value.code == 2 and f"--out {out}" in err and "Traceback" not in err
    assert blocker.read_text() == "not a directory"


def test_preprocessing_spec_states_the_training_crop():
    """preprocessing.json describes the crop the model was trained with, not one fixed text."""
    from export.preprocess import spec
    synth = spec(8, 32, 1, {"data": {"source": "synthetic"}})
    ntu = spec(16, 224, None, {"data": {"source": "tfds", "tfds_name": "ntu_rgbd/ntu60_xsub"}})
    folder = spec(16, 224, None, {"data": {"source": "tfds", "tfds_name": "video_folder/default"}})
    unknown = spec(16, 224, None, None)
    assert synth["crop"].startswith("whole frame") and "32x32" in synth["crop"]
    assert ntu["crop"].startswith("person-centred") and "skeleton" in ntu["crop"]
    assert "preparation_report.json" in folder["crop"]
    assert unknown["crop"].startswith("not known")
    assert len({synth["crop"], ntu["crop"], folder["crop"], unknown["crop"]}) == 4
    assert ntu["input_shape"] == ["N", 16, 3, 224, 224] and "window" in ntu["frame_sampling"]
