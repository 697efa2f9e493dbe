"""Re-encode a video to MPEG-4 Part 2 with a fixed GOP and no B-frames.

The explicit preparation step for compressed-domain input: FFmpeg exports no
motion vectors for HEVC, VP9 and AV1, and H.264 / B-frame streams predict from
several or future frames, which the reader does not model. This decodes the
whole video and encodes it again (a second lossy step: quality set by
``--qscale``, 2 best .. 31 worst), keeping size (cropped to even) and frame
rate; the output is written atomically.

    python -m data_pipelines.compressed.reencode IN.mp4 OUT.mp4 [--gop 12] [--qscale 3]
"""
from __future__ import annotations

import argparse
import sys

from jaxar.runtime.compressed_video import (DEFAULT_GOP, DEFAULT_QSCALE, CompressedVideoError,
                                            MissingPyAVError, reencode_mpeg4)
from jaxar.runtime.files import atomic_write_bytes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--gop", type=int, default=DEFAULT_GOP, help="frames per GOP (I-frame period)")
    ap.add_argument("--qscale", type=int, default=DEFAULT_QSCALE, help="fixed quantiser 2..31")
    args = ap.parse_args(argv)
    try:
        data = reencode_mpeg4(args.input, gop=args.gop, qscale=args.qscale)
    except (CompressedVideoError, MissingPyAVError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    atomic_write_bytes(args.output, data)
    print(f"{args.output}: {len(data)} bytes, MPEG-4 Part 2, GOP {args.gop}, no B-frames, "
          f"qscale {args.qscale}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
