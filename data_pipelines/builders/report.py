"""The preparation report every builder writes next to its dataset.

``preparation_report.json`` (in the dataset's version directory, beside
``dataset_info.json``; also in ``info.metadata["preparation"]``)::

    {
      "dataset": "ntu_rgbd/ntu60_xsub",
      "prep_options": {...},
      "samples_found": 56880,
      "samples_kept": {"train": 40091, "test": 16487, "total": 56578},
      "crop_fallbacks": {"train": {"total": 3, "missing_list": 2, ...}, ...},
      "ghost_bodies": {"samples": 812, "short_lived": 790, "implausible_spread": 40},
      "skipped": {"truncated_video": ["S001C001P001R001A001", ...], ...},
      "skipped_messages": {"S001C001P001R001A001": "<file>: decoded only ...", ...},
      "ignored_files": {"not_ntu_name": {"count": 2, "examples": [...]}, ...},
      "clip_duration": {"train": {"samples": 40091, "median_seconds": 2.8,
                                   "median_frames": 84, "median_fps": 30.0,
                                   "min_seconds": 1.0, "max_seconds": 10.0}, ...},
      "warnings": ["..."]
    }

``clip_duration`` is measured on the decoded source videos (frames / fps),
before ``max_frames`` subsampling; ``median_seconds`` of the training split is
the clip duration the training pipeline samples its frames over.
"""
from __future__ import annotations

import collections
import json
import os
import statistics
from typing import Iterable, Mapping, Sequence

import numpy as np

from data_pipelines.video_io import OutputWriteError
from jaxar.runtime.files import atomic_write_text

REPORT_FILE = "preparation_report.json"
FALLBACK_WARN_SHARE = 0.05   # warn when more samples than this use the full-frame crop
MAX_EXAMPLES = 20            # ignored files listed by name per category


def read_cached_sample(path: str) -> dict:
    """The report fields of one cached prepared clip (without its JPEGs)."""
    with np.load(path, allow_pickle=False) as z:
        notes = json.loads(str(z["notes"])) if "notes" in z.files else {}
        return {"crop_source": str(z["crop_source"]), "fps": float(z["fps"]),
                "source_frames": int(z["meta"][2]), "notes": notes}


def _duration_stats(samples: Sequence[dict]) -> dict:
    secs = [s["source_frames"] / s["fps"] for s in samples if s["fps"] > 0]
    out = {"samples": len(samples), "samples_without_fps": len(samples) - len(secs)}
    if samples:
        out["median_frames"] = float(statistics.median(s["source_frames"] for s in samples))
    if secs:
        out.update(median_seconds=round(statistics.median(secs), 4),
                   median_fps=round(statistics.median(s["fps"] for s in samples
                                                      if s["fps"] > 0), 4),
                   min_seconds=round(min(secs), 4), max_seconds=round(max(secs), 4))
    return out


def build_report(dataset: str, prep_options: dict, samples_found: int,
                 kept: Mapping[str, Sequence[str]],
                 skipped: Iterable[tuple[str, str, str]],
                 ignored: Mapping[str, Sequence[str]],
                 warnings: Sequence[str] = ()) -> dict:
    """Assembles the report.

    Args:
      dataset: ``<builder>/<config>``.
      prep_options: the preparation options (``dataclasses.asdict``).
      samples_found: samples the builder tried to prepare.
      kept: ``{split: [cache file of each kept sample]}``.
      skipped: ``(sample, reason, message)`` per skipped sample.
      ignored: ``{category: [file names]}`` of files not used.
      warnings: builder-specific warnings to record (e.g. a single class).
    """
    report: dict = {"dataset": dataset, "prep_options": prep_options,
                    "samples_found": int(samples_found)}
    per_split = {split: [read_cached_sample(p) for p in paths] for split, paths in kept.items()}
    report["samples_kept"] = {**{s: len(v) for s, v in per_split.items()},
                              "total": sum(len(v) for v in per_split.values())}
    fallbacks, ghosts = {}, collections.Counter()
    for split, samples in per_split.items():
        reasons = collections.Counter(s["crop_source"].split(":", 1)[1] for s in samples
                                      if s["crop_source"].startswith("fallback:"))
        fallbacks[split] = {"total": sum(reasons.values()), **dict(sorted(reasons.items()))}
        for s in samples:
            removed = s["notes"].get("ghost_bodies", {})
            if any(removed.values()):
                ghosts["samples"] += 1
                ghosts.update(removed)
    report["crop_fallbacks"] = fallbacks
    report["ghost_bodies"] = {"samples": 0, "short_lived": 0, "implausible_spread": 0,
                              **dict(ghosts)}
    by_reason: dict = collections.defaultdict(list)
    messages = {}
    for name, reason, message in skipped:
        by_reason[reason].append(name)
        messages[name] = message
    report["skipped"] = {r: sorted(v) for r, v in sorted(by_reason.items())}
    report["skipped_messages"] = dict(sorted(messages.items()))
    report["ignored_files"] = {k: {"count": len(v), "examples": sorted(v)[:MAX_EXAMPLES]}
                               for k, v in sorted(ignored.items()) if v}
    report["clip_duration"] = {s: _duration_stats(v) for s, v in per_split.items()}
    warnings = list(warnings)
    total = report["samples_kept"]["total"]
    n_fallback = sum(f["total"] for f in fallbacks.values())
    if total and n_fallback > FALLBACK_WARN_SHARE * total:
        warnings.append(f"{n_fallback} of {total} samples ({n_fallback / total:.1%}) use the "
                        f"full-frame fallback crop (more than {FALLBACK_WARN_SHARE:.0%}); "
                        "check the skeleton / person box files")
    n_skipped = sum(len(v) for v in by_reason.values())
    if n_skipped:
        warnings.append(f"{n_skipped} sample(s) skipped (unreadable or truncated): "
                        f"{dict((r, len(v)) for r, v in report['skipped'].items())}")
    report["warnings"] = warnings
    return report


def write_report(report: dict, directory: str) -> str:
    """Atomically writes ``REPORT_FILE`` into ``directory``; returns its path.
    Raises :class:`OutputWriteError` naming the path on failure."""
    path = os.path.join(os.fspath(directory), REPORT_FILE)
    try:
        atomic_write_text(path, json.dumps(report, indent=1) + "\n")
    except OSError as e:
        raise OutputWriteError(f"{path}: cannot write the preparation report ({e})") from None
    return path


def summary_lines(report: dict) -> list[str]:
    """Human-readable summary of a report (printed at the end of a build)."""
    lines = [f"samples kept: {report['samples_kept']} of {report['samples_found']} found"]
    for split, fb in report["crop_fallbacks"].items():
        lines.append(f"{split}: full-frame fallback crops: {fb}")
    if report["ghost_bodies"]["samples"]:
        lines.append(f"ghost bodies removed before cropping: {report['ghost_bodies']}")
    if report["skipped"]:
        lines.append("skipped: " + ", ".join(f"{r}: {len(v)}" for r, v in report["skipped"].items()))
    if report["ignored_files"]:
        lines.append("files not used: " + ", ".join(
            f"{k}: {v['count']}" for k, v in report["ignored_files"].items()))
    for split, d in report["clip_duration"].items():
        if "median_seconds" in d:
            lines.append(f"{split}: median source clip {d['median_seconds']:.2f} s "
                         f"({d['median_frames']:.0f} frames at {d['median_fps']:g} fps)")
    lines.extend(f"WARNING: {w}" for w in report["warnings"])
    return lines
