"""Run metrics to a JSONL log and TensorBoard event files (process 0 only).

``<workdir>/log.jsonl``: one JSON object per line, ``{"kind": "train" |
"eval" | "event", "step": int, ...}``. On resume, records after the restored
step (written by the interrupted run) are dropped so the log describes one
consistent run. ``<workdir>/tensorboard/``: the same scalars as
``<kind>/<name>`` (TFRecord event files written with TensorBoard's
record writer; TensorBoard's ``EventFileWriter`` would import TensorFlow).
"""
from __future__ import annotations

import json
import math
import socket
import time
from pathlib import Path

from jaxar.runtime.files import atomic_write_text

LOG_FILE = "log.jsonl"
TB_DIR = "tensorboard"


def read_log(workdir: str | Path) -> list[dict]:
    path = Path(workdir) / LOG_FILE
    if not path.is_file():
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class MetricWriter:
    def __init__(self, workdir: str | Path, resume_step: int = 0, enabled: bool = True):
        self.enabled = enabled
        self._tb = None
        if not enabled:
            return
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        self.path = workdir / LOG_FILE
        kept = [r for r in read_log(workdir) if r.get("step", 0) <= resume_step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._tb = _EventFile(workdir / TB_DIR)

    def write(self, kind: str, step: int, values: dict) -> None:
        if not self.enabled:
            return
        record = {"kind": kind, "step": int(step), "time": time.time()}
        record.update({k: _jsonable(v) for k, v in values.items()})
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        scalars = {k: float(v) for k, v in values.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if scalars:
            self._scalars(kind, step, scalars)

    def _scalars(self, kind: str, step: int, scalars: dict) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        summary = Summary(value=[Summary.Value(tag=f"{kind}/{k}", simple_value=v)
                                 for k, v in scalars.items()])
        self._tb.write(Event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self) -> None:
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


class _EventFile:
    """One TensorBoard event file (``events.out.tfevents.<time>.<host>``)."""

    def __init__(self, logdir: Path):
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.summary.writer.record_writer import RecordWriter
        logdir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}"
        self._writer = RecordWriter(open(logdir / name, "wb"))
        self.write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def write(self, event) -> None:
        self._writer.write(event.SerializeToString())

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def _jsonable(v):
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)        # JSON has no NaN/Inf
    return v
