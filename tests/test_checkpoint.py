"""Orbax checkpoints: exact state restore, keep-N + best, restore_inference contract."""
import jax
import numpy as np
import pytest

from jaxar.checkpoint import Checkpointer, restore_inference
from jaxar.optim import sgd_torch
from jaxar.registry import config_from_json, config_to_json, create_config
from jaxar.train.state import create_train_state

CONFIG = create_config("x3d_ugt_tiny", num_classes=5, frames=4, size=16, widths=(8, 16),
                       depths=(1, 1), strides=(1, 2), tada_stages=(2,), se_stages=(2,),
                       simam_stages=(2,))
NAMES = ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def state():
    model = CONFIG.build()
    st = jax.device_get(create_train_state(model, sgd_torch(0.1), CONFIG.input_shape, seed=3))
    # make every leaf distinct from its initial value so a restore of the wrong thing shows
    return jax.tree.map(lambda x: np.asarray(x + 1 if x.dtype == np.float32 else x), st)


def meta(step):
    return {"step": step, "data": {"seed": 0, "next_step": step},
            "model_config": config_to_json(CONFIG), "class_names": NAMES}


def bump(state, k):
    return state.replace(step=np.asarray(k, np.int32),
                         params=jax.tree.map(lambda x: np.asarray(x * np.float32(1 + k)),
                                             state.params))


def assert_trees_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_model_config_json_round_trip():
    d = config_to_json(CONFIG)
    assert d["class"] == "X3DUGTConfig" and isinstance(d["fields"]["widths"], list)
    assert config_from_json(d) == CONFIG
    # checkpoints written before X3D-UGT's config moved name its class "ModelConfig"
    assert config_from_json({**d, "class": "ModelConfig"}) == CONFIG
    with pytest.raises(ValueError, match="ckpt/7: model config class None"):
        config_from_json(d["fields"], where="ckpt/7")            # a bare field dict names no family
    with pytest.raises(ValueError, match="no fields.*'nope'"):
        config_from_json({**d, "fields": {**d["fields"], "nope": 1}})
    with pytest.raises(ValueError, match="'Nope' is not one of"):
        config_from_json({**d, "class": "Nope"})
    with pytest.raises(ValueError, match="ckpt/7: invalid model config"):
        config_from_json({**d, "fields": {**d["fields"], "widths": [8]}}, where="ckpt/7")


def test_exact_restore_keep_and_best(tmp_path, state):
    ck = Checkpointer(tmp_path, keep=1, async_save=True)
    ck.save(1, bump(state, 1), meta(1), {"top1": 0.5})
    ck.save(2, bump(state, 2), meta(2), {"top1": 0.7})
    ck.save(3, bump(state, 3), meta(3), None)
    ck.wait()
    assert ck.latest_step() == 3 and ck.best_step() == 2
    assert sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir()) == [2, 3]
    restored, m = ck.restore(3, state)
    assert_trees_equal(restored, bump(state, 3))      # params, opt_state, rng, step: bitwise
    assert {k: v for k, v in m.items() if k != "checksums"} == meta(3)
    assert {"params", "batch_stats", "opt_state", "rng", "step"} <= set(m["checksums"])
    ck.close()

    best = restore_inference(tmp_path)                     # a work directory -> best by eval
    assert best.step == 2 and best.config == CONFIG and best.class_names == NAMES
    assert "checksums" not in best.metadata
    assert_trees_equal(best.variables, {"params": bump(state, 2).params,
                                        "batch_stats": state.batch_stats})
    assert all(x.dtype == np.float32 and isinstance(x, np.ndarray)
               for x in jax.tree.leaves(best.variables))
    latest = restore_inference(tmp_path / "checkpoints" / "3")   # one step directory
    assert latest.step == 3
    assert_trees_equal(latest.variables["params"], bump(state, 3).params)

    # the bundle alone rebuilds the network and reproduces its outputs
    x = np.random.default_rng(0).normal(size=(2, *CONFIG.input_shape)).astype(np.float32)
    forward = jax.jit(best.config.build().apply)
    want = forward({"params": bump(state, 2).params, "batch_stats": state.batch_stats}, x)
    got = forward(best.variables, x)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_latest_when_no_eval_metrics(tmp_path, state):
    ck = Checkpointer(tmp_path, keep=3, async_save=False)
    ck.save(4, bump(state, 4), meta(4))
    ck.save(8, bump(state, 8), meta(8))
    ck.close()
    assert restore_inference(tmp_path).step == 8


def test_best_of_equal_eval_metrics_is_the_latest(tmp_path, state):
    ck = Checkpointer(tmp_path, keep=3, async_save=False)
    for step, top1 in ((1, 0.5), (2, 0.7), (3, 0.7), (4, None)):
        ck.save(step, bump(state, step), meta(step), None if top1 is None else {"top1": top1})
    assert ck.best_step() == 3 and ck.latest_step() == 4
    ck.close()
    assert restore_inference(tmp_path).step == 3


def test_restore_inference_errors_name_the_path(tmp_path, state):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path / 'missing'} does not exist"):
        restore_inference(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no checkpoint found"):
        restore_inference(tmp_path / "empty")
    ck = Checkpointer(tmp_path / "run", keep=1, async_save=False)
    ck.save(1, state, {"step": 1})                 # no model_config in meta
    ck.close()
    with pytest.raises(ValueError, match="checkpoints/1/meta: missing 'model_config'"):
        restore_inference(tmp_path / "run")


def test_flipped_bits_in_array_data_are_refused(tmp_path, state):
    """A damaged data file that still decodes (the arrays are zstd-compressed
    without a content checksum) would restore wrong weights silently; the
    checksums saved in meta make both restores refuse it. One flipped byte at
    up to 49 places of each data file, largest first (which file holds the
    array data varies between runs): each restore either fails or returns
    exactly the saved state (some bytes are not array data), and at least one
    damaged file decodes and is caught by a checksum."""
    import shutil
    ck = Checkpointer(tmp_path / "good", keep=1, async_save=False)
    ck.save(1, state, meta(1))
    ck.close()
    data_dir = tmp_path / "good" / "checkpoints" / "1" / "state" / "ocdbt.process_0" / "d"
    data_files = sorted(data_dir.iterdir(), key=lambda f: -f.stat().st_size)
    caught_by_checksum = []
    places = [(i, f, frac) for i, f in enumerate(data_files) for frac in np.linspace(0.02, 0.98, 49)]
    for i, data_file, frac in places:     # until one decodes (many flips break a zstd frame)
        if caught_by_checksum:
            break
        run = tmp_path / f"flip{i}_{frac}"
        shutil.copytree(tmp_path / "good", run)
        f = run / data_file.relative_to(tmp_path / "good")
        raw = bytearray(f.read_bytes())
        raw[int(len(raw) * frac)] ^= 0x5A
        f.write_bytes(bytes(raw))
        ck = Checkpointer(run, keep=1, async_save=False)
        try:
            restored, _ = ck.restore(1, state)
        except ValueError as e:
            if "does not match the checksum saved with it" in str(e):
                assert "checkpoints/1/state" in str(e)
                caught_by_checksum.append(frac)
            restored = None
        finally:
            ck.close()
        if restored is not None:
            assert_trees_equal(restored, state)          # never silently different
        try:
            inference = restore_inference(run)
        except ValueError as e:
            assert "checkpoints/1/state: checkpoint array data" in str(e)
        else:
            assert_trees_equal(inference.variables, {"params": state.params,
                                                     "batch_stats": state.batch_stats})
    assert caught_by_checksum, "no flipped byte produced data that decodes; the checksum path was not exercised"
