"""A demo video for ``jaxar.predict``: held-out synthetic action clips played
one after another at the synthetic set's nominal frame rate.

    python -m jaxar.demo_video runs/demo/demo_video.avi

Clips come from the held-out seed (never trained on), one per class in turn,
rendered at the training size and enlarged ``scale`` times with nearest
neighbour (so the centre crop + area resize of the predict path recovers the
training pixels exactly). The true label of each clip is written next to the
video as ``<name>.labels.json`` (``[{"start_s", "end_s", "label"}, ...]``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from jaxar.runtime.files import atomic_path, atomic_write_text


def write_demo_video(path: str | os.PathLike, num_classes: int = 10, frames: int = 8, size: int = 32,
                     clips: int = 6, scale: int = 4) -> list[dict]:
    """Writes an MJPG video of ``clips`` clips; returns the per-clip truth."""
    import cv2
    from data_pipelines import synthetic
    videos, labels = synthetic.generate(clips * 4, frames, size, seed=synthetic.TEST_SEED,
                                        num_classes=num_classes)
    chosen, seen = [], set()
    for i, lab in enumerate(labels):               # distinct classes first, then any
        if lab not in seen and len(chosen) < clips:
            chosen.append(i)
            seen.add(lab)
    chosen += [i for i in range(len(labels)) if i not in chosen][:clips - len(chosen)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    side, fps = size * scale, synthetic.SYNTHETIC_FPS
    truth = []
    with atomic_path(path) as tmp:
        out = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, (side, side))
        if not out.isOpened():
            raise RuntimeError(f"{path}: OpenCV cannot write MJPG video here")
        for n, i in enumerate(chosen):
            for f in videos[i]:
                big = np.repeat(np.repeat(f, scale, axis=0), scale, axis=1)
                out.write(cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
            truth.append({"start_s": n * frames / fps, "end_s": (n + 1) * frames / fps,
                          "label": synthetic.CLASS_NAMES[int(labels[i])]})
        out.release()
    atomic_write_text(path.with_name(path.stem + ".labels.json"), json.dumps(truth, indent=1) + "\n")
    return truth


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jaxar.demo_video", description=__doc__.split("\n")[0])
    p.add_argument("out", help="output video (.avi)")
    p.add_argument("--clips", type=int, default=6)
    a = p.parse_args(argv)
    if a.clips < 1:
        p.error("--clips must be >= 1")
    for t in write_demo_video(a.out, clips=a.clips):
        print(f"{t['start_s']:5.1f}-{t['end_s']:4.1f} s  {t['label']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
