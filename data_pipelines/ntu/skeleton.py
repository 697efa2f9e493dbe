"""Reader for NTU RGB+D ``.skeleton`` files (see :mod:`jaxar.runtime.skeleton`).

The parser lives in :mod:`jaxar.runtime.skeleton` so that the dataset
builder and the on-device runtime (``--skeleton FILE``) read skeletons with
the same code.
"""
from jaxar.runtime.skeleton import (  # noqa: F401
    BODY_INFO_FIELDS, COLOR_X, COLOR_Y, JOINT_FIELDS, Body, SkeletonFormatError,
    SkeletonSequence, format_skeleton, parse_skeleton, parse_skeleton_bytes, read_skeleton)
