"""CPU per training epoch of the compressed synthetic batches with and without
the extraction cache (``data.compressed_cache``, data_pipelines/compressed/extract_cache.py).

    OMP_NUM_THREADS=1 python benchmarks/bench_compressed_cache.py [--clips 256] [--rounds 3]

Synthetic set at the CD-KD experiment's geometry (8 frames of 32x32, random
aspect crops as in training), batch 32, no prefetch thread; process CPU ms
per clip for epoch 1 (the cache fills) and epoch 2 (the cache serves), median
of ``--rounds`` interleaved rounds. The model's step is not included.
"""
from __future__ import annotations

import argparse
import statistics
import time

from data_pipelines import synthetic
from data_pipelines.clip_config import ClipConfig
from data_pipelines.compressed.encode import compressed_synthetic
from data_pipelines.compressed.extract_cache import ExtractCache
from data_pipelines.compressed.pipeline import compressed_numpy_batches
from jaxar.runtime.compressed_clip import CompressedInput


def epoch_cpu(streams, labels, extract, batch: int, epochs: int) -> list[float]:
    clip = ClipConfig(num_frames=8, size=32, area_range=(1.0, 1.0))
    gen = compressed_numpy_batches(streams, labels, batch, num_frames=[8] * len(streams),
                                   train=True, clip=clip, compressed=CompressedInput(frames=8, size=32),
                                   seed=0, prefetch=0, extract=extract)
    per_epoch = len(streams) // batch
    out = []
    for _ in range(epochs):
        t = time.process_time()
        for _ in range(per_epoch):
            next(gen)
        out.append(1e3 * (time.process_time() - t) / (per_epoch * batch))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--clips", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    streams, labels = compressed_synthetic(args.clips, frames=8, size=32, seed=synthetic.TRAIN_SEED,
                                           num_classes=10)
    rows = {"uncached": [], "cached": []}
    for _ in range(args.rounds):
        rows["uncached"].append(epoch_cpu(streams, labels, None, 32, 2))
        rows["cached"].append(epoch_cpu(streams, labels, ExtractCache(), 32, 2))
    print(f"CPU ms per clip, {args.clips} clips of 8x32x32, median of {args.rounds} rounds")
    print(f"{'':>10} {'epoch 1':>9} {'epoch 2':>9}")
    med = {k: [statistics.median(r[i] for r in v) for i in (0, 1)] for k, v in rows.items()}
    for k, (e1, e2) in med.items():
        print(f"{k:>10} {e1:9.2f} {e2:9.2f}")
    print(f"epoch 2 cached / uncached: {med['cached'][1] / med['uncached'][1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
