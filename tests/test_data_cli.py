"""Tests for the prepare / inspect_dataset command-line tools."""
import json

import numpy as np
import pytest

import data_fixtures as fx
from data_pipelines import inspect_dataset as inspect_cli
from data_pipelines import prepare as prepare_cli
from data_pipelines.clip_prep import PrepOptions


def test_prep_options_from_flags():
    args = prepare_cli.parse_args(["ntu_rgbd/ntu60_xsub", "--size", "224", "--max_frames", "64",
                                   "--box_mode", "per_clip"])
    opts = prepare_cli.prep_options(args, None)
    assert opts.size == 224 and opts.max_frames == 64 and opts.crop.box_mode == "per_clip"
    assert opts.crop.padding == PrepOptions().crop.padding
    assert prepare_cli.prep_options(prepare_cli.parse_args(["video_folder"]), None) is None


def test_prepare_then_inspect(tmp_path, capsys):
    manual = tmp_path / "manual"
    fx.write_ntu_dir(str(manual), [
        fx.FakeSample("S001C001P001R001A001"), fx.FakeSample("S001C002P003R001A002"),
        fx.FakeSample("S002C002P002R001A002"), fx.FakeSample("S001C002P005R002A008")])
    data = tmp_path / "data"
    assert prepare_cli.main(["ntu_rgbd/ntu60_xsub", "--manual_dir", str(manual), "--data_dir",
                             str(data), "--workers", "1", "--size", "32"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("prepared ntu_rgbd/"))
    name = line.split()[1]
    assert name.startswith("ntu_rgbd/ntu60_xsub_") and "{'train': 3, 'test': 1}" in line
    report = next(l for l in out.splitlines() if "preparation report:" in l).split(": ", 1)[1]
    assert json.loads(open(report).read())["samples_kept"] == {"train": 3, "test": 1, "total": 4}

    png = tmp_path / "sheet.png"
    assert inspect_cli.main([name, "--data_dir", str(data), "--out", str(png), "--clips", "3",
                             "--frames", "4"]) == 0
    out = capsys.readouterr().out
    assert "train: 3 examples" in out and "test: 1 examples" in out
    assert "brushing teeth" not in out and "eat meal/snack" in out
    assert "'missing_list': 1" in out
    assert "samples kept: {'train': 3, 'test': 1, 'total': 4} of 4 found" in out
    data_png = png.read_bytes()
    assert data_png[:8] == b"\x89PNG\r\n\x1a\n" and len(data_png) > 5000


def test_inspect_unprepared_dataset(tmp_path, capsys):
    assert inspect_cli.main(["synthetic_actions/small", "--data_dir", str(tmp_path)]) == 2
    assert "not prepared" in capsys.readouterr().err
    assert inspect_cli.main(["no_such_dataset", "--data_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "'no_such_dataset'" in err


def test_box_in_crop_maps_coordinates():
    x0, y0, x1, y1 = inspect_cli.box_in_crop(np.array([20, 30, 40, 50]), np.array([10, 10, 110, 110]),
                                             50, 50)
    assert (x0, y0, x1, y1) == (5.0, 10.0, 15.0, 20.0)


def test_unknown_dataset_is_a_clear_error(capsys):
    args = prepare_cli.parse_args(["imagenet"])
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        prepare_cli.make_builder("imagenet", args)
    with pytest.raises(ValueError, match="needs a protocol"):
        prepare_cli.make_builder("ntu_rgbd", args)
    assert prepare_cli.main(["imagenet"]) == 2
    assert capsys.readouterr().err.strip() == ("prepare: error: unknown dataset 'imagenet': use "
                                               "ntu_rgbd/<protocol>, video_folder or "
                                               "synthetic_actions[/small]")
    assert prepare_cli.main(["ntu_rgbd/ntu60_xsub", "--size", "4"]) == 2
    assert "size=4: must be >= 8" in capsys.readouterr().err
