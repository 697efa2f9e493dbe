"""Progress of the training loop: step, loss, lr, clips/s and ETA.

With ``bar=True`` a tqdm bar (for terminals); otherwise one plain line per
log record (for batch-job logs). Only the lead process reports.
"""
from __future__ import annotations

import sys
import time


class Progress:
    """``update(step, metrics)`` after every step; ``clips_per_sec`` is measured
    over the last ~20 steps, excluding the first step of the session (compile)."""

    def __init__(self, total: int, initial: int, global_batch: int, enabled: bool = True,
                 bar: bool = True):
        self.total = total
        self.global_batch = global_batch
        self.enabled = enabled
        self._times: list[tuple[int, float]] = []
        self.bar = None
        if enabled and bar:
            from tqdm import tqdm
            self.bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                            mininterval=1.0, file=sys.stderr, desc="train")

    @property
    def clips_per_sec(self) -> float | None:
        if len(self._times) < 2:
            return None
        (s0, t0), (s1, t1) = self._times[0], self._times[-1]
        return (s1 - s0) * self.global_batch / max(t1 - t0, 1e-9)

    def update(self, step: int, metrics: dict) -> None:
        self._times = (self._times + [(step, time.perf_counter())])[-21:]
        if self.bar is None:
            return
        rate = self.clips_per_sec
        self.bar.set_postfix_str(f"loss {float(metrics['loss']):.4f}  lr {float(metrics['lr']):.4g}"
                                 + (f"  {rate:.1f} clips/s" if rate else ""), refresh=False)
        self.bar.update(step - self.bar.n)

    def log_line(self, step: int, record: dict) -> None:
        """A plain progress line (only without a bar)."""
        if not self.enabled or self.bar is not None:
            return
        rate = self.clips_per_sec
        eta = f"  ETA {_hms((self.total - step) * self.global_batch / rate)}" if rate else ""
        self.note(f"step {step}/{self.total}  loss {record['loss']:.4f}  lr {record['lr']:.4g}"
                  + (f"  {rate:.1f} clips/s" if rate else "") + eta)

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        elif self.enabled:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
