"""Spurious ("ghost") bodies in NTU RGB+D skeleton files.

Kinect tracking adds bodies that are not the performers to some NTU files:
objects or reflections tracked for a few frames, or shapes wider than tall.
Left in, a ghost on the other side of the room widens the person-centric
crop box (which spans every tracked body) to nearly the full frame.
:func:`filter_ghost_bodies` removes them before the crop, with the rules and
thresholds of the usual NTU skeleton denoising (body length, then x/y
spread). The rules apply only to files that track more than one body id and
never remove the last body; missing-skeleton and single-body files are
unchanged. The preparation report counts the removed bodies per rule.
"""
from __future__ import annotations

from .skeleton import Body, SkeletonSequence

# Ghost-body rules (see filter_ghost_bodies).
GHOST_MAX_FRAMES = 11          # tracked in <= this many frames ...
GHOST_MAX_SHARE = 0.5          # ... and in < this share of the frames with any body
SPREAD_RATIO = 0.8             # a frame is "wide" if x-spread > 0.8 * y-spread (3-D joints)
SPREAD_MAX_WIDE_SHARE = 0.69754  # a body wide in >= this share of its frames is removed


def _body_frames(seq: SkeletonSequence) -> dict[int, list[Body]]:
    """``{body_id: [Body per frame it is tracked in]}`` in first-seen order."""
    out: dict[int, list[Body]] = {}
    for bodies in seq.frames:
        for b in bodies:
            out.setdefault(b.body_id, []).append(b)
    return out


def _wide_share(track: list[Body]) -> float:
    """Share of a body's frames whose 3-D joints spread more in x than
    ``SPREAD_RATIO`` times their spread in y (a standing or sitting person is
    taller than wide)."""
    wide = 0
    for b in track:
        x, y = b.joints[:, 0], b.joints[:, 1]
        wide += (x.max() - x.min()) > SPREAD_RATIO * (y.max() - y.min())
    return wide / max(len(track), 1)


def filter_ghost_bodies(seq: SkeletonSequence) -> tuple[SkeletonSequence, dict[str, int]]:
    """Removes spurious bodies; returns the filtered sequence and the number of
    bodies removed per rule.

    Rules, applied in order to files that track more than one body id, each
    keeping at least one body (the longest-tracked of those it would remove):

    * ``short_lived``: a body tracked in at most ``GHOST_MAX_FRAMES`` (11)
      frames and in less than ``GHOST_MAX_SHARE`` (half) of the frames that
      have any body;
    * ``implausible_spread``: a body whose 3-D joints spread more in x than
      ``SPREAD_RATIO`` (0.8) times in y in at least ``SPREAD_MAX_WIDE_SHARE``
      (69.754 %) of its frames.

    Returns:
      ``(sequence, {"short_lived": n1, "implausible_spread": n2})``; the
      sequence is ``seq`` itself when nothing was removed.
    """
    removed = {"short_lived": 0, "implausible_spread": 0}
    tracks = _body_frames(seq)
    if len(tracks) <= 1:
        return seq, removed
    with_body = sum(1 for bodies in seq.frames if bodies)
    keep = list(tracks)
    rules = {
        "short_lived": lambda t: (len(t) <= GHOST_MAX_FRAMES
                                  and len(t) < GHOST_MAX_SHARE * with_body),
        "implausible_spread": lambda t: _wide_share(t) >= SPREAD_MAX_WIDE_SHARE,
    }
    for rule, is_ghost in rules.items():
        ghosts = [i for i in keep if is_ghost(tracks[i])]
        if len(ghosts) == len(keep):   # never remove every body
            ghosts.remove(max(ghosts, key=lambda i: len(tracks[i])))
        removed[rule] += len(ghosts)
        keep = [i for i in keep if i not in ghosts]
    if len(keep) == len(tracks):
        return seq, removed
    kept = set(keep)
    return SkeletonSequence(seq.source, [[b for b in bodies if b.body_id in kept]
                                         for bodies in seq.frames]), removed

