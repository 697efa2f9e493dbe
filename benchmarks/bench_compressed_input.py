"""Benchmark: compressed-domain input (I-frames, motion vectors, residuals) vs full decoding.

Two questions, answered in one run on the same clips (synthetic-set videos
rendered at ``--source`` pixels, ``--length`` frames, encoded as MPEG-4 Part 2
with GOP ``--gop``, no B-frames, ``--qscale``; one decoder thread; ``T`` =
``--frames`` sampled at segment centres):

1. **Input cost** (issue 19, item 6), ms per clip, median of ``--repeats``
   interleaved rounds (wall and process CPU time):

   ``decode_all_rgb``      decode every frame, convert every frame to RGB
   ``decode_all_T_rgb``    decode every frame up to the last sampled one, convert
                           only the T sampled frames (the raw-domain teacher's minimum)
   ``decode_iframes``      decode only I-frames (``skip_frame=NONKEY``), convert them
   ``decode_mvs``          decode every frame with ``+export_mvs`` and read the vectors
                           (FFmpeg's floor for getting motion vectors at all)
   ``extract_acc``         :func:`jaxar.runtime.compressed_video.extract`, accumulated
   ``extract_frame``       the same, per-frame vectors and residuals (bilinear MC)
   ``cd_clip``             ``extract_acc`` + crop / resize / scale to ``--size``
                           (:func:`jaxar.runtime.compressed_clip.read_clip`): the
                           student's input and the teacher's frames
   ``raw_clip``            the raw-domain clip from the same stream: ``decode_all_T_rgb``
                           + centre crop / resize / normalise of the T frames
   ``jpeg_T``              decode T stored JPEG frames (the raw pipelines' layout)

2. **Storage vs CPU** for training data, bytes per clip and load ms per clip:

   ``stream``       the MPEG-4 stream (extract at load time = ``cd_clip``)
   ``jpeg_frames``  every frame as JPEG (quality 90; the raw datasets' layout)
   ``arrays_all``   extracted arrays for every frame at source resolution
                    (I-frames uint8, per-pixel vectors int16 in half-pels, residuals
                    int16, + JPEG frames for the teacher) in a compressed ``.npz``:
                    load = ``np.load`` + sample + crop/resize
   ``arrays_T``     arrays already at model size for fixed T timestamps (float16
                    ``.npz``, compressed): cheapest load, but no temporal sampling /
                    crop augmentation and tied to one T and S

    OMP_NUM_THREADS=1 python benchmarks/bench_compressed_input.py \
        [--source 256 --length 48 --gop 12 --frames 8 --size 224 --clips 4 --repeats 5]

Not a test; numbers depend on the CPU and the content (the synthetic set has
per-pixel noise in every frame, so P-frames carry residual everywhere).
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import time

import numpy as np


def _timed(calls: dict, repeats: int, per: int) -> tuple[dict, dict]:
    """Every call once per round, ``repeats`` rounds; medians of wall / CPU ms per clip."""
    wall = {k: [] for k in calls}
    cpu = {k: [] for k in calls}
    for _ in range(repeats):
        for k, fn in calls.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[k].append((time.perf_counter() - t0) * 1e3 / per)
            cpu[k].append((time.process_time() - c0) * 1e3 / per)
    return ({k: statistics.median(v) for k, v in wall.items()},
            {k: statistics.median(v) for k, v in cpu.items()})


def _decode(stream: bytes, *, mvs=False, keys_only=False, rgb_at=None, last=None):
    import av

    from jaxar.runtime.compressed_video import RGBConverter
    to_rgb = RGBConverter()
    n = 0
    with av.open(io.BytesIO(stream)) as c:
        vs = c.streams.video[0]
        vs.codec_context.thread_count = 1
        if mvs:
            vs.codec_context.options = {"flags2": "+export_mvs"}
        if keys_only:
            vs.codec_context.skip_frame = "NONKEY"
        for t, fr in enumerate(c.decode(vs)):
            if last is not None and t > last:
                break
            if mvs:
                sd = fr.side_data.get("MOTION_VECTORS")
                if sd is not None:
                    sd.to_ndarray()
            if rgb_at is None or t in rgb_at:
                to_rgb(fr)
            n += 1
    return n


def _raw_clip(stream: bytes, idx, size: int) -> np.ndarray:
    """Teacher-only clip: decode up to the last sampled frame, T frames to RGB,
    centre square, resize, normalise (what a raw-domain model needs)."""
    import av

    from jaxar.runtime.compressed_video import RGBConverter
    from jaxar.runtime.crop import center_square, crop_and_resize
    from jaxar.runtime.preprocess import normalise
    to_rgb, wanted, last, out = RGBConverter(), set(int(i) for i in idx), int(max(idx)), {}
    with av.open(io.BytesIO(stream)) as c:
        vs = c.streams.video[0]
        vs.codec_context.thread_count = 1
        for t, fr in enumerate(c.decode(vs)):
            if t > last:
                break
            if t in wanted:
                out[t] = to_rgb(fr)
    box = center_square(out[last].shape[1], out[last].shape[0])
    return normalise(np.stack([crop_and_resize(out[int(i)], box, size, size) for i in idx]))


def _arrays_all(stream: bytes, n: int) -> bytes:
    """Every frame's extracted arrays (source resolution) + JPEG frames, compressed npz."""
    from data_pipelines.video_io import encode_jpeg
    from jaxar.runtime import compressed_video as cv
    clip = cv.extract(stream, range(n), accumulate=True)
    istarts = sorted(set(clip.gop_start.tolist()))
    buf = io.BytesIO()
    jpegs = [encode_jpeg(f, 90) for f in clip.frames]
    np.savez_compressed(
        buf, iframes=clip.iframe[[int(np.flatnonzero(clip.gop_start == s)[0]) for s in istarts]],
        gop_start=clip.gop_start, mv=np.rint(clip.mv * 2).astype(np.int16),
        residual=np.rint(clip.residual).astype(np.int16),
        jpeg_blob=np.frombuffer(b"".join(jpegs), np.uint8),
        jpeg_len=np.array([len(j) for j in jpegs], np.int64))
    return buf.getvalue()


def _load_arrays_all(blob: bytes, idx, size: int):
    from data_pipelines.video_io import decode_jpeg
    from jaxar.runtime import compressed_video as cv
    from jaxar.runtime.compressed_clip import clip_at_size
    from jaxar.runtime.crop import center_square
    with np.load(io.BytesIO(blob)) as z:
        starts = sorted(set(z["gop_start"].tolist()))
        gs = z["gop_start"][idx]
        iframes = z["iframes"][[starts.index(int(s)) for s in gs]]
        h, w = iframes.shape[1:3]
        mv = z["mv"][idx].astype(np.float32) / 2
        residual = z["residual"][idx].astype(np.float32)
        off = np.concatenate([[0], np.cumsum(z["jpeg_len"])])
        raw = z["jpeg_blob"]
        frames = np.stack([decode_jpeg(raw[off[i]:off[i + 1]].tobytes()) for i in idx])
    clip = cv.CompressedClip(iframes, mv, residual, frames, np.asarray(idx), gs,
                             gs == np.asarray(idx), True, len(idx))
    return clip_at_size(clip, center_square(w, h), size)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=int, default=256, help="stored frame side (pixels)")
    ap.add_argument("--length", type=int, default=48, help="frames per video")
    ap.add_argument("--gop", type=int, default=12)
    ap.add_argument("--qscale", type=int, default=3)
    ap.add_argument("--frames", type=int, default=8, help="T sampled frames")
    ap.add_argument("--size", type=int, default=224, help="model input side S")
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    from data_pipelines import synthetic
    from data_pipelines.compressed.encode import encode_videos
    from data_pipelines.video_io import decode_jpeg, encode_jpeg
    from jaxar.runtime import compressed_video as cv
    from jaxar.runtime.compressed_clip import CompressedInput, read_clip
    from jaxar.runtime.sampling import frame_indices

    videos, _ = synthetic.generate(args.clips, args.length, args.source, seed=0)
    streams = encode_videos(videos, gop=args.gop, qscale=args.qscale, fps=25.0)
    idx = frame_indices(args.length, args.frames, 0.5)
    last, wanted = int(idx.max()), set(idx.tolist())
    spec = CompressedInput(frames=args.frames, size=args.size, gop=args.gop)
    jpegs = [[encode_jpeg(f, 90) for f in v] for v in videos]
    print(f"{args.clips} synthetic clips, {args.length} frames of {args.source}x{args.source}, "
          f"MPEG-4 Part 2 GOP {args.gop} qscale {args.qscale}; T={args.frames} at S={args.size}; "
          f"frames sampled {idx.tolist()}; 1 decoder thread, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)

    def each(fn):
        return lambda: [fn(i) for i in range(args.clips)]

    calls = {
        "decode_all_rgb": each(lambda i: _decode(streams[i])),
        "decode_all_T_rgb": each(lambda i: _decode(streams[i], rgb_at=wanted, last=last)),
        "decode_iframes": each(lambda i: _decode(streams[i], keys_only=True)),
        "decode_mvs": each(lambda i: _decode(streams[i], mvs=True, rgb_at=wanted, last=last)),
        "extract_acc": each(lambda i: cv.extract(streams[i], idx, accumulate=True)),
        "extract_frame": each(lambda i: cv.extract(streams[i], idx, accumulate=False)),
        "cd_clip": each(lambda i: read_clip(streams[i], spec, indices=idx)),
        "raw_clip": each(lambda i: _raw_clip(streams[i], idx, args.size)),
        "jpeg_T": each(lambda i: [decode_jpeg(jpegs[i][j]) for j in idx]),
    }
    wall, cpu = _timed(calls, args.repeats, args.clips)
    base = cpu["decode_all_T_rgb"]
    print("\n1. input cost, ms per clip (median of %d rounds)" % args.repeats)
    print(f"{'':18s} {'wall':>8s} {'cpu':>8s} {'cpu / decode_all_T_rgb':>24s}")
    for k in calls:
        print(f"{k:18s} {wall[k]:8.2f} {cpu[k]:8.2f} {cpu[k] / base:24.2f}")

    arrays_all = [_arrays_all(s, args.length) for s in streams]
    t_clips = [read_clip(s, spec, indices=idx) for s in streams]
    arrays_t = []
    for c in t_clips:
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: v.astype(np.float16) for k, v in c.items()})
        arrays_t.append(buf.getvalue())

    def load_t(i):
        with np.load(io.BytesIO(arrays_t[i])) as z:
            return {k: z[k].astype(np.float32) for k in z.files}

    sizes = {"stream": np.mean([len(s) for s in streams]),
             "jpeg_frames": np.mean([sum(map(len, j)) for j in jpegs]),
             "arrays_all": np.mean([len(a) for a in arrays_all]),
             "arrays_T": np.mean([len(a) for a in arrays_t])}
    loads = {"stream": calls["cd_clip"],
             "jpeg_frames": calls["jpeg_T"],
             "arrays_all": each(lambda i: _load_arrays_all(arrays_all[i], idx, args.size)),
             "arrays_T": each(load_t)}
    lwall, lcpu = _timed(loads, args.repeats, args.clips)
    print(f"\n2. storage vs load CPU per clip ({args.length} stored frames)")
    print(f"{'':12s} {'KiB':>9s} {'x stream':>9s} {'load ms cpu':>12s} {'x stream':>9s}")
    for k in sizes:
        print(f"{k:12s} {sizes[k] / 1024:9.1f} {sizes[k] / sizes['stream']:9.2f} "
              f"{lcpu[k]:12.2f} {lcpu[k] / lcpu['stream']:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
