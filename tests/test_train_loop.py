"""The training loop end to end, through the real CLIs in subprocesses.

All runs use ``experiments/smoke_tiny.py`` and share one persistent XLA
compilation cache, so the train/eval programs are compiled once per session.
"""
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from jaxar.checkpoint import restore_inference
from jaxar.train.metric_writer import read_log

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow      # training runs in subprocesses
SMOKE = ["--config", "experiments/smoke_tiny.py"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "xla-cache"
    return dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu",
                JAX_COMPILATION_CACHE_DIR=str(cache),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def run(args, env, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def steps_on_disk(workdir: Path) -> list[int]:
    d = workdir / "checkpoints"
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit()) if d.is_dir() else []


def tensorboard_tags(logdir: Path) -> set[str]:
    """Parses the TFRecord event files (length, crc, payload, crc) without TensorFlow."""
    from tensorboard.compat.proto.event_pb2 import Event
    tags = set()
    for path in logdir.glob("events.out.tfevents.*"):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos:pos + 8])
            event = Event.FromString(data[pos + 12:pos + 12 + n])
            tags |= {v.tag for v in event.summary.value}
            pos += 12 + n + 4
    return tags


def test_short_synthetic_run_lowers_loss_then_evaluate(tmp_path, env):
    work = tmp_path / "run"
    proc = run(["-m", "jaxar.train", *SMOKE, "--workdir", str(work)], env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    records = read_log(work)
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train] == list(range(5, 41, 5))
    assert [r["step"] for r in evals] == [20, 40]
    first, last = np.mean([r["loss"] for r in train[:2]]), np.mean([r["loss"] for r in train[-2:]])
    assert last < first - 0.05, f"loss did not go down: {first:.4f} -> {last:.4f}"
    assert train[0]["lr"] > train[-1]["lr"] > 0 and all(np.isfinite(r["grad_norm"]) for r in train)

    for png in ("plots/curves.png", "plots/confusion.png"):
        assert (work / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"train/loss", "train/lr", "eval/top1", "eval/top5"} <= tensorboard_tags(work / "tensorboard")
    results = json.loads((work / "results.json").read_text())
    assert results["step"] == 40 and results["eval"]["count"] == 64
    confusion = np.loadtxt(work / "confusion.csv", delimiter=",")
    assert confusion.shape == (10, 10) and confusion.sum() == 64
    assert np.trace(confusion) / 64 == pytest.approx(results["eval"]["top1"])
    best = results["best_step"]
    assert steps_on_disk(work) == sorted({30, 40, best})          # keep=2 latest + best

    proc = run(["-m", "jaxar.evaluate", "--workdir", str(work)], env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads((work / f"eval_{best}" / "eval.json").read_text())
    assert out["checkpoint_step"] == best
    assert out["top1"] == next(r["top1"] for r in evals if r["step"] == best)
    assert (work / f"eval_{best}" / "confusion.png").is_file()


POISONED = textwrap.dedent("""
    import copy
    import sys
    import numpy as np
    from jaxar.train import data

    @data.register_source("poisoned")
    def poisoned(spec, model, host_batch, index, count):
        clean_spec = copy.deepcopy(spec)
        clean_spec.source = "synthetic"
        src = data.build_source(clean_spec, model, host_batch, index, count)
        clean = src.train_batches

        def train_batches(seed, start):
            for step, batch in enumerate(clean(seed, start), start):
                if step == 24:                     # the batch of step 25: a corrupt clip
                    batch["video"][3, 1, 2, 2, 0] = np.nan
                yield batch
        src.train_batches = train_batches
        return src

    from jaxar.train.__main__ import main
    from jaxar.train.cli import run_main
    run_main(lambda: main(sys.argv[1:]))
""")


def test_nan_guard_stops_and_keeps_last_good_checkpoint(tmp_path, env):
    work = tmp_path / "nan"
    proc = run(["-c", POISONED, *SMOKE, "--workdir", str(work), "--config.data.source=poisoned"], env)
    assert proc.returncode == 3, proc.stderr[-4000:]
    assert "non-finite training at step 25: loss=nan" in proc.stderr
    assert f"last good checkpoint: {work / 'checkpoints' / '20'}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert steps_on_disk(work) == [10, 20]
    bundle = restore_inference(work)
    assert bundle.step == 20
    assert all(np.isfinite(x).all() for x in _leaves(bundle.variables))
    assert read_log(work)[-1]["event"] == "nonfinite"


def _leaves(tree):
    import jax
    return jax.tree.leaves(tree)


def _saved_state(step_dir: Path) -> dict:
    import orbax.checkpoint as ocp
    with ocp.PyTreeCheckpointer() as ckptr:
        return ckptr.restore(step_dir / "state")


def test_sigkill_mid_run_and_resume_is_bitwise_exact(tmp_path, env):
    args = [*SMOKE, "--config.steps=60", "--config.eval_every", "30"]
    full = tmp_path / "full"
    proc = run(["-m", "jaxar.train", *args, "--workdir", str(full)], env)
    assert proc.returncode == 0, proc.stderr[-4000:]

    killed = tmp_path / "killed"
    child = subprocess.Popen([sys.executable, "-m", "jaxar.train", *args, "--workdir", str(killed)],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (killed / "checkpoints" / "20").is_dir() and child.poll() is None:
        assert time.time() < deadline, "no checkpoint 20 within the time limit"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert 20 <= max(steps_on_disk(killed)) < 60

    proc = run(["-m", "jaxar.train", *args, "--workdir", str(killed)], env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "resumed from" in proc.stderr

    a, b = _saved_state(full / "checkpoints" / "60"), _saved_state(killed / "checkpoints" / "60")
    import jax
    la, lb = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb] and len(la) > 10
    for (path, x), (_, y) in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path))
    # the resumed log equals the uninterrupted one (apart from wall-clock fields)
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("time", "clips_per_sec")}
                        for r in rs if r["kind"] in ("train", "eval")]
    assert strip(read_log(killed)) == strip(read_log(full))
