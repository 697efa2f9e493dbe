"""Person-centric square crop boxes and cropping (see :mod:`jaxar.runtime.crop`).

The implementation lives in :mod:`jaxar.runtime.crop` so that the dataset
preparation, the evaluation pipeline, ``jaxar.predict`` and the standalone
runtime of an export bundle all crop with the same code.
"""
from jaxar.runtime.crop import (  # noqa: F401
    BOX_MODES, OUT_OF_FRAME, BoxResult, CropOptions, center_square, crop_and_resize,
    full_frame_box, person_boxes, tight_boxes)
