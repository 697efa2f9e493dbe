"""Ghost-body filtering for NTU skeletons (see :mod:`jaxar.runtime.ghost_bodies`).

The rules live in the runtime so that dataset preparation and the device's
``--skeleton FILE`` crop remove the same bodies before the person crop.
"""
from jaxar.runtime.ghost_bodies import (  # noqa: F401
    GHOST_MAX_FRAMES, GHOST_MAX_SHARE, SPREAD_MAX_WIDE_SHARE, SPREAD_RATIO, filter_ghost_bodies)
