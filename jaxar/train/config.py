"""Run configuration as code: typed dataclasses, config files, dotted overrides.

A run is one Python file under ``experiments/`` whose ``get_config()``
returns a :class:`TrainConfig`; ablations import a base file and override a
few fields. On the command line ``--set section.field=value`` overrides any
field; the value is parsed as a Python literal (``0.1``, ``(1, 1, 2, 2)``,
``None``, ``True``) or taken as a string, then checked against the field's
type. ``model.<field>`` also accepts any :class:`jaxar.config.ModelConfig`
field (it lands in ``model.overrides``).
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from jaxar.config import ModelConfig

# ModelConfig fields that are data properties: set them under data.*
_DATA_OWNED = ("num_classes", "frames", "size")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Which network to train. ``num_classes``/``frames``/``size`` come from ``data``."""
    variant: str = "x3d_ugt"           # a name from jaxar.registry.list_variants()
    dtype: str = "float32"             # compute dtype, "float32" | "bfloat16" (params stay float32)
    impl: str = "auto"                 # "auto" (per backend) | "lowered" | "conv3d" | "shifted"
    overrides: dict = dataclasses.field(default_factory=dict)   # other ModelConfig fields


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """Dataset and clip sampling (see ``data_pipelines``)."""
    source: str = "synthetic"          # a name registered in jaxar.train.data
    tfds_name: str = ""                # tfds source: e.g. "ntu_rgbd/ntu60_xsub"
    data_dir: str | None = None        # tfds source: TFDS data directory
    train_split: str = "train"
    eval_split: str = "test"
    num_classes: int = 60
    frames: int = 16                   # T
    size: int = 224                    # S (clips are S x S)
    crop_area: tuple = (0.4, 1.0)      # random-resized-crop area range (training)
    flip: bool = False                 # horizontal flip (swaps left/right actions: off)
    num_eval_clips: int = 1            # temporal clips averaged at evaluation
    # synthetic source only
    synthetic_train: int = 2000        # training clips (seed data_pipelines TRAIN_SEED)
    synthetic_test: int = 500          # held-out clips (seed TEST_SEED)
    synthetic_frames: int = 16         # rendered frames per synthetic video
    synthetic_size: int = 64           # rendered frame size


@dataclasses.dataclass(frozen=True)
class OptimSpec:
    """PyTorch-style SGD + cosine (see :mod:`jaxar.optim`)."""
    lr: float = 0.05
    base_batch: int | None = None      # lr scaling: peak lr = lr * batch_size / base_batch
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    decay_all: bool = True             # False: no weight decay on 1-D params (BN, biases)
    warmup_epochs: float = 0.0
    end_lr: float = 0.0


@dataclasses.dataclass(frozen=True)
class LossSpec:
    name: str = "poly1"                # "poly1" | "ce"
    epsilon: float = 1.0               # Poly-1 epsilon
    label_smoothing: float = 0.0


@dataclasses.dataclass(frozen=True)
class CheckpointSpec:
    every_steps: int = 1000            # periodic save interval (also saved at every eval and at the end)
    keep: int = 3                      # latest checkpoints kept (plus the best by eval top-1)
    async_save: bool = True


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    optim: OptimSpec = dataclasses.field(default_factory=OptimSpec)
    loss: LossSpec = dataclasses.field(default_factory=LossSpec)
    checkpoint: CheckpointSpec = dataclasses.field(default_factory=CheckpointSpec)
    batch_size: int = 64               # GLOBAL batch over all devices and hosts
    epochs: float = 200.0              # run length in epochs of the training split ...
    steps: int = 0                     # ... or in steps (> 0 takes precedence)
    eval_every: int = 1000             # steps between evaluations (and at the end)
    log_every: int = 50                # steps between JSONL/TensorBoard train records
    seed: int = 0                      # init, dropout and data order
    num_devices: int | None = None     # None: all devices of all processes
    progress: bool = True              # tqdm bar on process 0 (False: a plain line per log record)

    def replace(self, **kw) -> "TrainConfig":
        return dataclasses.replace(self, **kw)

    def model_config(self) -> ModelConfig:
        """The :class:`ModelConfig` this run trains (variant + overrides + data shape)."""
        from jaxar.registry import create_config
        bad = [k for k in _DATA_OWNED if k in self.model.overrides]
        if bad:
            raise ValueError(f"model.overrides sets {bad}; set data.{bad[0]} instead")
        return create_config(self.model.variant, num_classes=self.data.num_classes,
                             frames=self.data.frames, size=self.data.size,
                             dtype=self.model.dtype, impl=self.model.impl,
                             **self.model.overrides)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# ----------------------------------------------------------------------------
# overrides

def _parse_literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text      # bare strings: bfloat16, ntu_rgbd/ntu60_xsub, ...


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Checks/converts ``value`` to the type ``annotation``; raises naming ``key``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0])
    kind = origin or annotation
    ok = True
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is str:
        ok = isinstance(value, str)
    elif kind is tuple:
        ok = isinstance(value, (tuple, list))
        value = tuple(value) if ok else value
    elif kind is dict:
        ok = isinstance(value, dict)
    if not ok:
        name = getattr(annotation, "__name__", str(annotation))
        raise ValueError(f"{key}: expected {name}, got {value!r} ({type(value).__name__})")
    return value


def _hints(obj) -> dict:
    return typing.get_type_hints(type(obj))


def apply_override(cfg: TrainConfig, key: str, value: Any) -> TrainConfig:
    """Returns ``cfg`` with the dotted ``key`` set to ``value`` (a parsed literal)."""
    parts = key.split(".")
    return _set(cfg, parts, value, key)


def _set(node, parts: list[str], value: Any, full: str):
    name, rest = parts[0], parts[1:]
    if isinstance(node, ModelSpec) and name not in _hints(node):
        return _set_model_field(node, name, rest, value, full)
    hints = _hints(node)
    if name not in hints:
        raise ValueError(f"unknown config key {full!r}: {type(node).__name__} has no field "
                         f"{name!r}; fields: {', '.join(hints)}")
    current = getattr(node, name)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"unknown config key {full!r}: {name!r} is not a section")
        return dataclasses.replace(node, **{name: _set(current, rest, value, full)})
    if dataclasses.is_dataclass(current):
        raise ValueError(f"config key {full!r} is a section; set one of its fields, e.g. "
                         f"{full}.{next(iter(_hints(current)))}=...")
    return dataclasses.replace(node, **{name: _coerce(value, hints[name], full)})


def _set_model_field(spec: ModelSpec, name: str, rest: list[str], value: Any, full: str):
    fields = typing.get_type_hints(ModelConfig)
    if rest or name not in fields:
        raise ValueError(f"unknown config key {full!r}: neither a model section field "
                         f"({', '.join(_hints(spec))}) nor a ModelConfig field "
                         f"({', '.join(f for f in fields if f not in _DATA_OWNED)})")
    if name in _DATA_OWNED:
        raise ValueError(f"{full}: {name} is set by the data section; use data.{name}=...")
    return dataclasses.replace(spec, overrides={**spec.overrides,
                                                name: _coerce(value, fields[name], full)})


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """``["a.b=1", ...]`` -> ``[("a.b", 1), ...]``; raises on a missing ``=``."""
    out = []
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value, e.g. optim.lr=0.1")
        key, text = item.split("=", 1)
        out.append((key.strip(), _parse_literal(text.strip())))
    return out


def with_overrides(cfg: TrainConfig, items: list[str]) -> TrainConfig:
    for key, value in parse_overrides(items):
        cfg = apply_override(cfg, key, value)
    validate(cfg)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Cross-field checks that do not need devices or data."""
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.steps < 0 or (cfg.steps == 0 and cfg.epochs <= 0):
        raise ValueError(f"set steps > 0 or epochs > 0 (got steps={cfg.steps}, epochs={cfg.epochs})")
    for name in ("eval_every", "log_every"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.checkpoint.every_steps < 1 or cfg.checkpoint.keep < 1:
        raise ValueError("checkpoint.every_steps and checkpoint.keep must be >= 1")
    from jaxar.losses import make_loss_fn
    make_loss_fn(cfg.loss.name, cfg.loss.epsilon, cfg.loss.label_smoothing)
    cfg.model_config()   # unknown variant / bad ModelConfig fields fail here


# ----------------------------------------------------------------------------
# config files

def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """Runs ``get_config()`` of the Python file ``path`` and applies ``--set`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    module = _import_file(path.absolute())
    if not hasattr(module, "get_config"):
        raise ValueError(f"config file {path} defines no get_config()")
    cfg = module.get_config()
    if not isinstance(cfg, TrainConfig):
        raise ValueError(f"{path}: get_config() returned {type(cfg).__name__}, not TrainConfig")
    return with_overrides(cfg, list(overrides))


def _import_file(path: Path) -> types.ModuleType:
    """Imports ``path`` as part of its package (so ``from experiments.base import``
    works) when it lives in a package, else as a standalone module."""
    pkg_parts, d = [], path.parent
    while (d / "__init__.py").is_file():
        pkg_parts.insert(0, d.name)
        d = d.parent
    if pkg_parts:
        if str(d) not in sys.path:
            sys.path.append(str(d))
        return importlib.import_module(".".join(pkg_parts + [path.stem]))
    spec = importlib.util.spec_from_file_location(f"_jaxar_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def from_dict(d: dict) -> TrainConfig:
    """Inverse of :meth:`TrainConfig.to_dict` (lists become tuples where typed so)."""
    def build(cls, values):
        hints = typing.get_type_hints(cls)
        kw = {}
        for k, v in values.items():
            if k not in hints:
                raise ValueError(f"stored config has unknown field {cls.__name__}.{k}")
            sub = hints[k]
            if dataclasses.is_dataclass(sub):
                kw[k] = build(sub, v)
            elif k == "overrides":
                mc = typing.get_type_hints(ModelConfig)
                kw[k] = {n: _coerce(x, mc[n], f"model.{n}") for n, x in v.items()}
            else:
                kw[k] = _coerce(v, sub, f"{cls.__name__}.{k}")
        return cls(**kw)
    return build(TrainConfig, d)
