"""Explicit key maps: one :class:`Entry` per source tensor, applied with full reporting.

An :class:`Entry` says which source tensor (``src``, a PyTorch state-dict
name) fills which jaxar leaf (``dst``, a path ``(collection, module, ...,
leaf)`` into ``{"params", "batch_stats"}``) through which layout conversion
(:data:`LAYOUTS`). :func:`apply_entries` checks every converted tensor's shape
against the model's, and reports by name every source key the map expected
but the file lacks (missing), every file key no entry consumed (unexpected),
every shape mismatch, and every model leaf no entry fills; any of them is an
error. Nothing is skipped silently: the only keys dropped are those of
:data:`IGNORED_SUFFIXES` (BN's ``num_batches_tracked`` counter, which jaxar
does not keep), and the report lists them too. The classifier (``head``
entries) is the one place a difference is allowed: it is kept when its
shape matches and re-initialised (and said so) when the class count differs.

Layouts (PyTorch -> jaxar, see :mod:`jaxar.modules.layers`):

================  ==========================  ==========================
name              PyTorch                     jaxar
================  ==========================  ==========================
``conv2d``        ``(O, I/g, k, k)``          HWIO ``(k, k, I/g, O)``
``conv3d_xy``     ``(O, I/g, 1, k, k)``       HWIO ``(k, k, I/g, O)``
``pointwise2d``   ``(O, I, 1, 1)``            ``(I, O)``
``pointwise3d``   ``(O, I, 1, 1, 1)``         ``(I, O)``
``pointwise2d_5d`` ``(O, I, 1, 1)``           DHWIO ``(1, 1, 1, I, O)`` (EAN's 1x1x1 Conv3D)
``depthwise3d``   ``(C, 1, kt, k, k)``        DHWIO ``(kt, k, k, 1, C)``
``temporal3d``    ``(C, 1, kt, 1, 1)``        ``(kt, C)``
``conv1d_dw``     ``(C, 1, kt)``              ``(kt, C)``
``linear``        ``(O, I)``                  ``(I, O)``
``same``          any                         the same array
================  ==========================  ==========================
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Mapping

import numpy as np

IGNORED_SUFFIXES = (".num_batches_tracked",)

Path = tuple[str, ...]


class WeightImportError(ValueError):
    """A checkpoint does not fit the model; the message lists every offending key."""


def _need(w: np.ndarray, ndim: int, ones: tuple[int, ...], layout: str) -> None:
    if w.ndim != ndim or any(w.shape[a] != 1 for a in ones):
        want = {"conv2d": "(O, I, k, k)", "conv3d_xy": "(O, I, 1, k, k)", "pointwise2d": "(O, I, 1, 1)",
                "pointwise3d": "(O, I, 1, 1, 1)", "pointwise2d_5d": "(O, I, 1, 1)", "depthwise3d": "(C, 1, kt, k, k)",
                "temporal3d": "(C, 1, kt, 1, 1)", "conv1d_dw": "(C, 1, kt)", "linear": "(O, I)"}[layout]
        raise ValueError(f"{layout} expects a PyTorch tensor {want}, got shape {tuple(w.shape)}")


def _fwd(layout: str, w: np.ndarray) -> np.ndarray:
    if layout == "same":
        return w
    if layout == "conv2d":
        _need(w, 4, (), layout)
        return w.transpose(2, 3, 1, 0)
    if layout == "conv3d_xy":
        _need(w, 5, (2,), layout)
        return w[:, :, 0].transpose(2, 3, 1, 0)
    if layout == "pointwise2d":
        _need(w, 4, (2, 3), layout)
        return w[:, :, 0, 0].T
    if layout == "pointwise3d":
        _need(w, 5, (2, 3, 4), layout)
        return w[:, :, 0, 0, 0].T
    if layout == "pointwise2d_5d":
        _need(w, 4, (2, 3), layout)
        return w[:, :, 0, 0].T[None, None, None]
    if layout == "depthwise3d":
        _need(w, 5, (1,), layout)
        return w.transpose(2, 3, 4, 1, 0)
    if layout == "temporal3d":
        _need(w, 5, (1, 3, 4), layout)
        return w[:, 0, :, 0, 0].T
    if layout == "conv1d_dw":
        _need(w, 3, (1,), layout)
        return w[:, 0, :].T
    if layout == "linear":
        _need(w, 2, (), layout)
        return w.T
    raise KeyError(f"unknown layout {layout!r}")


def _inv(layout: str, a: np.ndarray) -> np.ndarray:
    """jaxar -> PyTorch, the inverse of :func:`_fwd`."""
    if layout == "same":
        return a
    if layout == "conv2d":
        return a.transpose(3, 2, 0, 1)
    if layout == "conv3d_xy":
        return a.transpose(3, 2, 0, 1)[:, :, None]
    if layout == "pointwise2d":
        return a.T[:, :, None, None]
    if layout == "pointwise3d":
        return a.T[:, :, None, None, None]
    if layout == "pointwise2d_5d":
        return a[0, 0, 0].T[:, :, None, None]
    if layout == "depthwise3d":
        return a.transpose(4, 3, 0, 1, 2)
    if layout == "temporal3d":
        return a.T[:, None, :, None, None]
    if layout == "conv1d_dw":
        return a.T[:, None, :]
    if layout == "linear":
        return a.T
    raise KeyError(f"unknown layout {layout!r}")


LAYOUTS = ("conv2d", "conv3d_xy", "pointwise2d", "pointwise3d", "pointwise2d_5d", "depthwise3d", "temporal3d",
           "conv1d_dw", "linear", "same")


def to_jaxar(layout: str, w: np.ndarray) -> np.ndarray:
    """A PyTorch tensor in ``layout`` -> jaxar's layout (float32, contiguous)."""
    return np.array(_fwd(layout, np.asarray(w)), dtype=np.float32, order="C")  # keeps 0-d


def to_torch(layout: str, a: np.ndarray) -> np.ndarray:
    """A jaxar array -> the PyTorch tensor layout ``layout`` (float32, contiguous)."""
    return np.array(_inv(layout, np.asarray(a, np.float32)), order="C")


@dataclasses.dataclass(frozen=True)
class Entry:
    src: str                 # PyTorch state-dict name
    dst: Path                # ("params" | "batch_stats", module..., leaf)
    layout: str = "same"
    head: bool = False       # part of the classifier (re-initialised on a class-count change)


def conv(src: str, dst: str, layout: str) -> list[Entry]:
    """A bias-free conv: ``src.weight`` -> ``params/dst/kernel``."""
    return [Entry(f"{src}.weight", ("params", *dst.split("/"), "kernel"), layout)]


def bn(src: str, dst: str) -> list[Entry]:
    """A BatchNorm: weight/bias -> ``params/dst/{scale,bias}``, running_mean/var ->
    ``batch_stats/dst/{mean,var}`` (same eps and momentum convention, see
    :mod:`jaxar.modules.layers`)."""
    d = tuple(dst.split("/"))
    return [Entry(f"{src}.weight", ("params", *d, "scale")), Entry(f"{src}.bias", ("params", *d, "bias")),
            Entry(f"{src}.running_mean", ("batch_stats", *d, "mean")),
            Entry(f"{src}.running_var", ("batch_stats", *d, "var"))]


def dense(src: str, dst: str, layout: str = "linear", bias: bool = True, head: bool = False) -> list[Entry]:
    """A linear layer (or a 1x1 conv used as one): weight -> kernel ``(I, O)``, bias."""
    d = tuple(dst.split("/"))
    out = [Entry(f"{src}.weight", ("params", *d, "kernel"), layout, head)]
    if bias:
        out.append(Entry(f"{src}.bias", ("params", *d, "bias"), "same", head))
    return out


def prefixed(entries: Iterable[Entry], prefix: str) -> list[Entry]:
    return [dataclasses.replace(e, src=prefix + e.src) for e in entries]


def flatten(tree: Mapping, prefix: Path = ()) -> dict[Path, object]:
    out: dict[Path, object] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, prefix + (str(k),)))
        else:
            out[prefix + (str(k),)] = v
    return out


def unflatten(flat: Mapping[Path, object]) -> dict:
    out: dict = {}
    for path, v in flat.items():
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = v
    return out


@dataclasses.dataclass
class ImportReport:
    """What an import did. ``loaded``: ``(src, dst)`` pairs; ``kept_init``: model
    leaves that keep their fresh initialisation by design (re-initialised head,
    ARC's extra parameters); ``ignored``: file keys dropped by rule; ``head``: one
    line on the classifier; ``errors``: missing / unexpected / mismatched / unfilled
    lines (empty after a successful import)."""
    source: str
    format: str
    family: str
    loaded: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    kept_init: list[str] = dataclasses.field(default_factory=list)
    ignored: list[str] = dataclasses.field(default_factory=list)
    head: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.source}: format {self.format} -> {self.family}: {len(self.loaded)} tensors "
                 f"loaded, {len(self.ignored)} ignored by rule ({', '.join(IGNORED_SUFFIXES)})"]
        if self.head:
            lines.append(f"  head: {self.head}")
        if self.kept_init:
            lines.append(f"  kept at initialisation ({len(self.kept_init)}): "
                         + ", ".join(self.kept_init[:8]) + (" ..." if len(self.kept_init) > 8 else ""))
        return "\n".join(lines)


def _dst(path: Path) -> str:
    return "/".join(path)


def apply_entries(tensors: Mapping[str, np.ndarray], entries: list[Entry],
                  targets: Mapping[Path, tuple[int, ...]], report: ImportReport,
                  extras: Callable[[Path], bool] = lambda p: False) -> dict[Path, np.ndarray]:
    """Converts ``tensors`` with ``entries`` into ``{dst path: array}`` for the model
    whose leaves have the shapes ``targets``.

    ``extras(path)``: model leaves that no source provides by design (they keep
    their initialisation). Raises :class:`WeightImportError` listing every
    missing, unexpected and shape-mismatched key and every unfilled model leaf.
    """
    out: dict[Path, np.ndarray] = {}
    errors = report.errors
    used: set[str] = set()
    head_entries = [e for e in entries if e.head]
    head_state = "absent"
    if head_entries:
        present = [e for e in head_entries if e.src in tensors]
        if len(present) == len(head_entries):
            conv_ok, shapes = True, []
            for e in head_entries:
                try:
                    shapes.append((e, to_jaxar(e.layout, tensors[e.src])))
                except ValueError:
                    conv_ok = False
            if conv_ok and all(a.shape == tuple(targets.get(e.dst, ())) for e, a in shapes):
                head_state = "kept"
            elif conv_ok and all(a.shape[:-1] == tuple(targets.get(e.dst, ()))[:-1]
                                 and e.dst in targets for e, a in shapes):
                head_state = "classes"
                src_k = shapes[0][1].shape[-1]
                dst_k = tuple(targets[shapes[0][0].dst])[-1]
                report.head = (f"classifier re-initialised: the file has {src_k} classes, the model "
                               f"{dst_k} ({', '.join(e.src for e in head_entries)} not used)")
            else:
                head_state = "mismatch"
        elif present:
            head_state = "partial"
        else:
            report.head = (f"classifier initialised fresh: the file has no "
                           f"{', '.join(e.src for e in head_entries)}")
    for e in entries:
        if e.head and head_state in ("absent", "classes"):       # the fresh head stays
            if e.src in tensors:
                used.add(e.src)
            if e.dst in targets:
                report.kept_init.append(_dst(e.dst))
            continue
        if e.dst not in targets:
            errors.append(f"key map names a model leaf {_dst(e.dst)} (for {e.src}) that this "
                          f"model config does not have")
            continue
        if e.src not in tensors:
            errors.append(f"missing in file: {e.src} (for {_dst(e.dst)})")
            continue
        used.add(e.src)
        src = tensors[e.src]
        try:
            value = to_jaxar(e.layout, src)
        except ValueError as err:
            errors.append(f"shape mismatch: {e.src} {tuple(src.shape)} -> {_dst(e.dst)} "
                          f"{tuple(targets[e.dst])}: {err}")
            continue
        if value.shape != tuple(targets[e.dst]):
            errors.append(f"shape mismatch: {e.src} {tuple(src.shape)} -> {_dst(e.dst)} expects "
                          f"{tuple(targets[e.dst])} (converted {e.layout}: {value.shape})")
            continue
        out[e.dst] = value
        report.loaded.append((e.src, _dst(e.dst)))
    if head_state == "kept":
        report.head = f"classifier kept from the file ({tuple(targets[head_entries[0].dst])[-1]} classes)"
    if head_state == "partial":
        errors.append("the file has only part of the classifier: "
                      + ", ".join(f"{e.src} {'present' if e.src in tensors else 'missing'}"
                                  for e in head_entries))
    for k in sorted(tensors):
        if k in used:
            continue
        if k.endswith(IGNORED_SUFFIXES):
            report.ignored.append(k)
        else:
            errors.append(f"unexpected in file: {k} {tuple(np.shape(tensors[k]))}")
    filled = {e.dst for e in entries}
    for path in sorted(targets):
        if path not in filled:
            if extras(path):
                report.kept_init.append(_dst(path))
            else:
                errors.append(f"model leaf {_dst(path)} {tuple(targets[path])} has no source in "
                              f"the {report.format} key map")
    if errors:
        raise WeightImportError(
            f"{report.source} does not fit {report.family} as format {report.format} "
            f"({len(errors)} problems):\n  " + "\n  ".join(errors))
    return out
