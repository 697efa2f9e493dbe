"""Orbax checkpoints of a run, and loading a trained model for inference.

Layout of a work directory::

    <workdir>/checkpoints/<step>/state/     TrainState (params, batch_stats,
                                            opt_state, step, rng), float32
    <workdir>/checkpoints/<step>/meta/      JSON: step, data position, model
                                            config ({"class", "fields"}, any
                                            registered family), variant name,
                                            class names, run config
    <workdir>/checkpoints/<step>/metrics/   JSON eval metrics (eval steps only)

Every step directory is self-contained: :func:`restore_inference` needs
nothing else. ``meta`` also holds a SHA-256 of each top-level collection of
the state (every leaf's path, dtype, shape and bytes, :func:`state_checksums`);
both restores recompute it and refuse data that differs, so a damaged file
that still decodes (a flipped bit) fails loudly instead of resuming or
predicting with wrong weights. Orbax writes each step into a temporary directory and renames
it when complete, so a crash never leaves a half-written step behind
(unfinished ones are removed on the next start). Kept: the latest
``keep`` steps plus the best one by eval top-1.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxar.model_record import ModelRecord
from jaxar.registry import config_from_json

CHECKPOINT_DIR = "checkpoints"
BEST_METRIC = "top1"


class _QuietPeriodicSaves(logging.Filter):
    """Orbax warns on every save without metrics when tracking the best
    checkpoint; periodic (non-eval) saves are meant to have none."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_QuietPeriodicSaves())


# ----------------------------------------------------------------------------
# training checkpoints

class Checkpointer:
    """Periodic / best-by-eval saves and exact restore for one work directory."""

    def __init__(self, workdir: str | Path, keep: int = 3, async_save: bool = True):
        self.directory = Path(workdir).absolute() / CHECKPOINT_DIR
        policy = ocp.checkpoint_managers.AnyPreservationPolicy([
            ocp.checkpoint_managers.LatestN(n=keep),
            ocp.checkpoint_managers.BestN(get_metric_fn=_best_metric, reverse=False, n=1,
                                          keep_checkpoints_without_metrics=False),
        ])
        options = ocp.CheckpointManagerOptions(
            best_fn=_best_metric, best_mode="max", preservation_policy=policy,
            enable_async_checkpointing=async_save, create=True)
        self.manager = ocp.CheckpointManager(self.directory, options=options,
                                             item_names=("state", "meta"))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        """Best kept step by eval top-1 (the latest of equals), None without evals."""
        return self.manager.best_step()

    def save(self, step: int, state, meta: dict, metrics: dict | None = None) -> None:
        """Saves ``state`` (a pytree of arrays) and ``meta`` (JSON, plus the
        state's checksums) as ``step``; ``metrics`` (eval results with
        ``top1``) makes it a best-checkpoint candidate."""
        meta = {**meta, CHECKSUMS: state_checksums(state)}
        args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                                  meta=ocp.args.JsonSave(meta))
        self.manager.save(step, args=args, metrics=metrics, force=True)

    def restore(self, step: int, target):
        """``(state, meta)`` of ``step``; ``target`` gives structure, dtypes and shardings."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        out = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        verify_checksums(out["state"], out["meta"], self.directory / str(step) / "state")
        return out["state"], out["meta"]

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()


def _best_metric(metrics: dict) -> float:
    return float(metrics[BEST_METRIC])


CHECKSUMS = "checksums"


def _key_name(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def _host_array(leaf) -> np.ndarray | None:
    """The leaf's values on this host; None where this process holds only a
    shard of an array that is not replicated (multi-host model parallelism)."""
    if isinstance(leaf, jax.Array):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if not leaf.is_fully_addressable:
            if not leaf.is_fully_replicated:
                return None
            leaf = leaf.addressable_data(0)
    return np.asarray(leaf)


def state_checksums(state) -> dict[str, str]:
    """``{collection: sha256 hex}`` over each top-level field of ``state``
    (``params``, ``batch_stats``, ``opt_state``, ...): every leaf's path,
    dtype, shape and bytes in tree order. Collections with a leaf this host
    cannot read whole are left out."""
    hashes: dict[str, hashlib._Hash] = {}
    skipped = set()
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        names = [_key_name(k) for k in path]
        top = names[0] if names else ""
        arr = _host_array(leaf)
        if arr is None:
            skipped.add(top)
            continue
        h = hashes.setdefault(top, hashlib.sha256())
        h.update(f"{'/'.join(names)}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return {k: h.hexdigest() for k, h in hashes.items() if k not in skipped}


def verify_checksums(state, meta: dict, where: Path) -> None:
    """Raises ``ValueError`` naming ``where`` when a collection of the restored
    ``state`` differs from the checksum saved in ``meta`` (checkpoints without
    checksums, and collections not restored, are not checked)."""
    saved = meta.get(CHECKSUMS) or {}
    got = state_checksums(state)
    bad = sorted(k for k in got if k in saved and saved[k] != got[k])
    if bad:
        raise ValueError(f"{where}: checkpoint array data does not match the checksum saved with it "
                         f"({', '.join(bad)}): the files are damaged; delete that step directory "
                         "to resume from an earlier one, or retrain")




# ----------------------------------------------------------------------------
# inference

def _is_step_dir(p: Path) -> bool:
    return (p / "state").is_dir() and (p / "meta").is_dir()


def resolve_checkpoint(path: str | Path) -> Path:
    """A step directory from a work directory (best by eval, else latest), a
    ``checkpoints/`` directory (same rule) or a step directory itself."""
    p = Path(path).absolute()
    if not p.exists():
        raise FileNotFoundError(f"checkpoint path {p} does not exist")
    if _is_step_dir(p):
        return p
    ckdir = p / CHECKPOINT_DIR if (p / CHECKPOINT_DIR).is_dir() else p
    steps = sorted(int(d.name) for d in ckdir.iterdir() if d.name.isdigit() and _is_step_dir(d)) \
        if ckdir.is_dir() else []
    if not steps:
        raise FileNotFoundError(
            f"{p}: no checkpoint found; expected a work directory with {CHECKPOINT_DIR}/<step>/"
            f"{{state,meta}}, a {CHECKPOINT_DIR}/ directory, or a step directory with state/ and meta/")
    manager = ocp.CheckpointManager(ckdir, options=ocp.CheckpointManagerOptions(
        read_only=True, best_fn=_best_metric, best_mode="max"))
    try:
        step = manager.best_step()
    finally:
        manager.close()
    return ckdir / str(step if step is not None else steps[-1])


def read_meta(step_dir: str | Path) -> dict:
    """The JSON ``meta`` item of a step directory."""
    step_dir = Path(step_dir)
    files = [f for f in (step_dir / "meta").iterdir() if f.is_file() and not f.name.startswith("_")] \
        if (step_dir / "meta").is_dir() else []
    if not files:
        raise FileNotFoundError(f"{step_dir}: no meta/ item (model config, class names) in this checkpoint")
    try:
        with ocp.Checkpointer(ocp.JsonCheckpointHandler()) as ckptr:
            meta = ckptr.restore(step_dir / "meta")
    except Exception as e:                  # JSONDecodeError, OSError, orbax errors
        raise ValueError(f"{files[0]}: unreadable checkpoint meta ({_first_line(e)})") from e
    if not isinstance(meta, dict):
        raise ValueError(f"{files[0]}: checkpoint meta must be a JSON object, got {type(meta).__name__}")
    return meta


def _first_line(e: BaseException) -> str:
    """``Type: first line`` of ``e`` (of its cause when that says more: TensorStore
    wraps the file-level error in a long spec dump)."""
    inner = e.__cause__ or e.__context__
    use = inner if inner is not None and str(inner) else e
    text = str(use).strip().splitlines()
    return f"{type(use).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def restore_inference(path: str | Path) -> ModelRecord:
    """Loads ``{"params", "batch_stats"}`` (numpy float32), the model config
    and class names from a work directory or one checkpoint step directory."""
    step_dir = resolve_checkpoint(path)
    meta = read_meta(step_dir)
    for key in ("model_config", "step"):
        if key not in meta:
            raise ValueError(f"{step_dir}/meta: missing {key!r}; was it written by jaxar.train?")
    config = config_from_json(meta["model_config"], where=str(step_dir))
    state = _restore_variables(step_dir / "state")
    verify_checksums(state, meta, step_dir / "state")
    variables = jax.tree.map(lambda x: np.asarray(x, np.float32), state)
    extra = {k: v for k, v in meta.items() if k not in ("model_config", "class_names", "step", CHECKSUMS)}
    return ModelRecord(config=config, variables=variables, class_names=meta.get("class_names"),
                           step=int(meta["step"]), metadata={"checkpoint": str(step_dir), **extra},
                           origin=f"checkpoint:{step_dir}")


def _metadata_error(state_dir: Path, what: str) -> ValueError:
    """Names the damaged part when Orbax cannot read a checkpoint's metadata:
    ``_METADATA`` itself when it is not valid JSON, else the array store it is
    read through (OCDBT manifest and ``d/`` data files)."""
    try:
        json.loads((state_dir / "_METADATA").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return ValueError(f"{state_dir / '_METADATA'}: checkpoint metadata is {what} "
                          "(truncated or damaged file)")
    return ValueError(f"{state_dir}: checkpoint metadata is {what} although _METADATA is intact: "
                      "the array store (ocdbt.process_*/, d/ data files) is truncated or damaged")


def _restore_variables(state_dir: Path) -> dict:
    """Only ``params`` and ``batch_stats`` of a saved TrainState, on the first
    local CPU device (whatever devices the run was trained on)."""
    if not state_dir.is_dir():
        raise FileNotFoundError(f"{state_dir}: no saved state in this checkpoint")
    cpu = jax.sharding.SingleDeviceSharding(jax.local_devices(backend="cpu")[0])
    with ocp.PyTreeCheckpointer() as ckptr:
        try:
            saved = ckptr.metadata(state_dir).item_metadata
        except Exception as e:              # a truncated _METADATA surfaces as TypeError/ValueError
            raise _metadata_error(state_dir, f"unreadable ({_first_line(e)})") from e
        if not saved:                       # orbax reads a truncated _METADATA as None
            raise _metadata_error(state_dir, "empty or unreadable")
        if "params" not in saved:
            raise ValueError(f"{state_dir}: the saved state has no 'params'")
        target = {k: jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=cpu),
                                  saved[k])
                  for k in ("params", "batch_stats") if k in saved}
        try:
            out = ckptr.restore(state_dir, args=ocp.args.PyTreeRestore(
                item=target, restore_args=ocp.checkpoint_utils.construct_restore_args(target),
                partial_restore=True))
        except Exception as e:              # TensorStore: truncated or damaged array data
            raise ValueError(f"{state_dir}: checkpoint array data is damaged or truncated "
                             f"({_first_line(e)})") from e
    out.setdefault("batch_stats", {})
    return out
