"""Run configuration as code: one ``ml_collections.ConfigDict`` per run.

A run is one Python file under ``experiments/`` whose ``get_config()`` starts
from :func:`default_config` and sets what differs, or one argument of a file
that holds a family of runs (``--config experiments/baselines.py:x3d_s,ntu60_xsub``:
``get_config("x3d_s,ntu60_xsub")``, big_vision's ``config.py:arg``); an ablation
loads its base file with :func:`load_config` and changes one field. On the command
line (``ml_collections`` ``config_flags``) ``--config FILE[:ARG]`` names the run and
``--config.section.field=value`` overrides any field: the value is parsed
by the field's type (``0.1``, ``"(1, 1, 2, 2)"``, ``true``, ``bfloat16``), an
unknown key or a value of the wrong type is an error.

Sections (every field with its default is in :func:`default_config`):

``model``
    ``variant`` (a name from :func:`jaxar.registry.list_variants`) plus one
    entry per field of the variant's config class (``num_classes``,
    ``frames``, ``size``, ``impl``, ``dtype``, ``widths``, ...). ``None``
    keeps the variant's value; anything else replaces it. This is the only
    place a model field is set: the data pipeline reads the clip shape and
    class count from the model config (:func:`model_config`). The entries
    are those of the config class the file started from, so switching
    ``model.variant`` to another model family needs a config file of its own.
``data``, ``optim``, ``loss``, ``checkpoint``
    input pipeline, PyTorch-style SGD + cosine, Poly-1 / CE, Orbax saves.
``init``
    start from another project's pretrained weights (``checkpoint``, ``format``,
    ``freeze_bn``, ``freeze_backbone``, ``backbone_lr_mult``; see
    :mod:`jaxar.train.init_from` and docs/weights.md).
top level
    ``batch_size`` (global), ``epochs`` or ``steps``, ``eval_every``,
    ``log_every``, ``seed``, ``num_devices``, ``progress``.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import sys
import types
import typing
from pathlib import Path
from typing import Callable, Any, Sequence

import ml_collections
from flax import traverse_util
from ml_collections import config_dict


def _field_type(annotation: Any) -> type:
    """The Python type a ConfigDict placeholder gets for a dataclass field type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        origin = typing.get_origin(annotation)
    return origin or annotation


def model_section(variant: str = "x3d_ugt", **fields: Any) -> ml_collections.ConfigDict:
    """``{"variant": variant, <every config field>: None or the value in fields}``.

    The entries are typed placeholders, so ``--config.model.widths=(8,16)``
    parses as a tuple and ``--config.model.frames=8.5`` is rejected.
    """
    from jaxar.registry import create_config
    base = create_config(variant)
    hints = typing.get_type_hints(type(base))
    unknown = sorted(set(fields) - set(hints))
    if unknown:
        raise ValueError(f"model: {type(base).__name__} (variant {variant!r}) has no fields "
                         f"{unknown}")
    section = ml_collections.ConfigDict({"variant": variant})
    for f in dataclasses.fields(base):
        section[f.name] = config_dict.placeholder(_field_type(hints[f.name]))
        if fields.get(f.name) is not None:
            section[f.name] = fields[f.name]
    return section


def default_config(variant: str = "x3d_ugt", **model_fields: Any) -> ml_collections.ConfigDict:
    """Every run field with its default; ``model_fields`` fill the model section."""
    c = ml_collections.ConfigDict()
    c.model = model_section(variant, **model_fields)

    c.data = ml_collections.ConfigDict()
    c.data.source = "synthetic"             # a name registered in jaxar.train.data
    c.data.tfds_name = ""                   # tfds source: e.g. "ntu_rgbd/ntu60_xsub"
    c.data.data_dir = config_dict.placeholder(str)   # tfds source: TFDS data directory
    c.data.train_split = "train"
    c.data.eval_split = "test"
    c.data.crop_area = (0.4, 1.0)           # random-resized-crop area range (training)
    c.data.flip = False                     # horizontal flip (swaps left/right actions: off)
    c.data.num_eval_clips = 1               # temporal clips averaged at evaluation
    c.data.synthetic_train = 2000           # synthetic source: training clips (seed TRAIN_SEED)
    c.data.synthetic_test = 500             # held-out clips (seed TEST_SEED)
    c.data.synthetic_frames = 16            # rendered frames per synthetic video
    c.data.synthetic_size = 64              # rendered frame size

    c.optim = ml_collections.ConfigDict()   # PyTorch-style SGD + cosine (jaxar.optim)
    c.optim.lr = 0.05
    c.optim.base_batch = config_dict.placeholder(int)  # peak lr = lr * batch_size / base_batch
    c.optim.momentum = 0.9
    c.optim.nesterov = False
    c.optim.weight_decay = 3e-4
    c.optim.decay_all = True                # False: no weight decay on 1-D params (BN, biases)
    c.optim.warmup_epochs = 0.0
    c.optim.end_lr = 0.0
    c.optim.schedule = "cosine"             # "cosine" | "step" (x decay_factor at each of decay_epochs)
    c.optim.decay_epochs = ()               # step schedule: epochs at which the lr is multiplied ...
    c.optim.decay_factor = 0.1              # ... by this factor (EAN: (40, 50, 60), 0.1)

    c.loss = ml_collections.ConfigDict()
    c.loss.name = "poly1"                   # "poly1" | "ce"
    c.loss.epsilon = 1.0                    # Poly-1 epsilon
    c.loss.label_smoothing = 0.0

    c.checkpoint = ml_collections.ConfigDict()
    c.checkpoint.every_steps = 1000         # periodic saves (also at every eval and at the end)
    c.checkpoint.keep = 3                   # latest checkpoints kept (plus the best by eval top-1)
    c.checkpoint.async_save = True

    from jaxar.train.init_from import init_section
    c.init = init_section()                 # pretrained weights (jaxar.train.init_from); off by default

    c.batch_size = 64                       # GLOBAL batch over all devices and hosts
    c.epochs = 200.0                        # run length in epochs of the training split ...
    c.steps = 0                             # ... or in steps (> 0 takes precedence)
    c.eval_every = 1000                     # steps between evaluations (and at the end)
    c.log_every = 50                        # steps between JSONL/TensorBoard train records
    c.seed = 0                              # init, dropout and data order
    c.num_devices = config_dict.placeholder(int)   # None: all devices of all processes
    c.progress = True                       # tqdm bar on process 0 (False: plain log lines)
    return c


def use_synthetic_data(cfg: ml_collections.ConfigDict, train: int, test: int,
                       source: str = "synthetic") -> ml_collections.ConfigDict:
    """Points ``cfg.data`` at the embedded synthetic action set (the CPU demos,
    smoke and test runs): ``train`` / ``test`` clips rendered at the model's
    ``frames`` x ``size`` (so the whole frame is the clip: crop area 1),
    read through ``source`` (``"synthetic"``, or a source built on it such as
    ``"compressed_proxy"``). Returns ``cfg``."""
    cfg.data.source = source
    cfg.data.crop_area = (1.0, 1.0)
    cfg.data.synthetic_train = train
    cfg.data.synthetic_test = test
    cfg.data.synthetic_frames = cfg.model.frames
    cfg.data.synthetic_size = cfg.model.size
    return cfg


def use_demo_schedule(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The CPU demo's run length and optimizer scale (``experiments/synthetic_demo.py``
    and the CD-KD student it teaches, ``experiments/cdkd_proxy.py``): 15 epochs
    of 32 clips, SGD peak lr 0.1 after one warmup epoch, a checkpoint every
    100 steps (2 kept), a train record every 10 steps. Returns ``cfg``."""
    cfg.optim.lr = 0.1
    cfg.optim.warmup_epochs = 1.0
    cfg.checkpoint.every_steps = 100
    cfg.checkpoint.keep = 2
    cfg.batch_size = 32
    cfg.epochs = 15.0
    cfg.log_every = 10
    return cfg


def model_config(cfg: ml_collections.ConfigDict) -> Any:
    """The frozen model config of a run: the variant with the model section's
    non-``None`` fields replaced."""
    from jaxar.registry import create_config
    fields = {k: v for k, v in cfg.model.items() if k != "variant" and v is not None}
    return create_config(cfg.model.variant, **fields)


def validate(cfg: ml_collections.ConfigDict) -> None:
    """Cross-field checks that need no devices or data; raises ``ValueError``."""
    if cfg.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.steps < 0 or (cfg.steps == 0 and cfg.epochs <= 0):
        raise ValueError(f"set steps > 0 or epochs > 0 (got steps={cfg.steps}, epochs={cfg.epochs})")
    for name in ("eval_every", "log_every"):
        if cfg[name] < 1:
            raise ValueError(f"{name} must be >= 1, got {cfg[name]}")
    if cfg.checkpoint.every_steps < 1 or cfg.checkpoint.keep < 1:
        raise ValueError("checkpoint.every_steps and checkpoint.keep must be >= 1")
    if len(cfg.data.crop_area) != 2:
        raise ValueError(f"data.crop_area must be (min, max), got {cfg.data.crop_area}")
    from jaxar.losses import make_loss_fn
    make_loss_fn(cfg.loss.name, cfg.loss.epsilon, cfg.loss.label_smoothing)
    model_config(cfg)   # unknown variant / bad model fields fail here
    if "init" in cfg:
        from jaxar.train.init_from import validate as validate_init
        validate_init(cfg.init)


def to_json(cfg: ml_collections.ConfigDict) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True)


# Base configs of run kinds that add sections to the default run config, by the
# section that marks them (CD-KD: "kd", registered by jaxar.distill.config).
RUN_KINDS: dict[str, Callable[[str], ml_collections.ConfigDict]] = {}


def from_dict(d: dict) -> ml_collections.ConfigDict:
    """Inverse of ``cfg.to_dict()`` (e.g. a stored ``config.json``): the
    defaults of ``d["model"]["variant"]`` (of its run kind, :data:`RUN_KINDS`,
    when ``d`` has that kind's section) updated with ``d``; unknown keys and
    wrong types raise ``ValueError``."""
    try:
        model = dict(d["model"])
        variant = model.pop("variant")
        kinds = [base for section, base in RUN_KINDS.items() if section in d]
        cfg = kinds[0](variant) if kinds else default_config(variant)
        for key, value in traverse_util.flatten_dict(d, sep=".").items():
            if key == "model.variant":
                continue
            parent, _, leaf = key.rpartition(".")
            node = _node(cfg, parent)
            if leaf not in node:
                raise ValueError(f"stored config has unknown field {key!r}")
            node[leaf] = value
    except (KeyError, TypeError) as e:
        raise ValueError(f"stored config does not match this jaxar: {e}") from None
    return cfg


def _node(cfg, dotted: str):
    node = cfg
    for part in filter(None, dotted.split(".")):
        if part not in node:
            raise ValueError(f"stored config has unknown section {dotted!r}")
        node = node[part]
    return node


# ----------------------------------------------------------------------------
# command-line overrides and config files

def with_overrides(cfg: ml_collections.ConfigDict, args: Sequence[str]) -> ml_collections.ConfigDict:
    """A validated copy of ``cfg`` with command-line overrides applied.

    ``args`` are ``--config.KEY=VALUE`` (or ``--config.KEY VALUE``) tokens,
    parsed by ``ml_collections.config_flags`` with the type of each field.
    Raises ``ValueError`` naming the bad override.
    """
    from absl import flags
    argv = ["jaxar", *args]
    fv = flags.FlagValues()
    new, rest = parse_config_flags(fv, argv, lambda fv: define_config_dict(fv, cfg, argv), lambda: cfg)
    if rest:
        raise ValueError(f"unexpected argument {rest[0]!r}: overrides are --config.KEY=VALUE")
    return new


def define_config_dict(fv, cfg: ml_collections.ConfigDict, argv: Sequence[str]) -> None:
    """Defines ``--config`` on ``fv`` as a copy of ``cfg`` whose fields ``argv``'s
    ``--config.KEY=VALUE`` flags override (``ml_collections.config_flags``)."""
    from ml_collections import config_flags
    config_flags.DEFINE_config_dict("config", copy.deepcopy(cfg), flag_values=fv, lock_config=True,
                                    sys_argv=list(argv))


def define_config_file(fv, spec: str, argv: Sequence[str]) -> None:
    """Defines ``--config FILE[:ARG]`` on ``fv`` with ``argv``'s ``--config.KEY=VALUE``
    overrides (``ml_collections.config_flags``)."""
    from ml_collections import config_flags
    path = Path(str(spec).split(":", 1)[0])
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    config_flags.DEFINE_config_file("config", str(spec), flag_values=fv, lock_config=True,
                                    sys_argv=list(argv))


def parse_config_flags(fv, argv: Sequence[str], define, base) -> tuple[ml_collections.ConfigDict, list[str]]:
    """Parses ``argv`` (program name first) with ``fv`` after ``define(fv)`` adds its
    ``--config`` flag (:func:`define_config_dict` / :func:`define_config_file`);
    returns ``(validated config, positional arguments left)``.

    Errors are ``ValueError`` s: an unknown key or a section given a value is
    explained against ``base()`` (the config before overrides); a value of the
    wrong type quotes ``config_flags``' message.
    """
    from absl import flags
    try:
        define(fv)
        rest = fv(list(argv))
    except flags.UnrecognizedFlagError as e:
        raise ValueError(f"unknown flag --{e.flagname}") from None
    except (flags.Error, AttributeError, KeyError, TypeError) as e:
        cfg = base()                          # a broken config file raises its own error here
        for a in argv[1:]:
            if a.startswith("--config."):
                _check_key(cfg, a[len("--config."):].split("=", 1)[0])
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise ValueError(str(message).splitlines()[0]) from None
    finally:
        sys.modules.pop("config_config", None)    # a config file's module (see load_config)
    cfg = fv["config"].value
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise ValueError(f"--config: get_config() returned {type(cfg).__name__}, not a ConfigDict "
                         f"(start from jaxar.train.config.default_config())")
    validate(cfg)
    return cfg, rest[1:]


def _check_key(cfg: ml_collections.ConfigDict, key: str) -> None:
    node, done = cfg, []
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict):
            raise ValueError(f"unknown config key {key!r}: {'.'.join(done)} is a value, not a section")
        if part not in node:
            where = ".".join(done) or "the top level"
            raise ValueError(f"unknown config key {key!r}: {where} has no field {part!r}; "
                             f"fields: {', '.join(node.keys())}")
        node, done = node[part], done + [part]
    if isinstance(node, ml_collections.ConfigDict):
        raise ValueError(f"config key {key!r} is a section; set one of its fields, e.g. "
                         f"--config.{key}.{next(iter(node.keys()))}=...")


_LOADS = itertools.count()


def load_config(spec: str | Path, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
    """The run config of ``spec`` with ``overrides`` applied and validated.

    ``spec`` is ``FILE`` or ``FILE:ARG`` (big_vision's convention): the Python
    file's ``get_config()`` or ``get_config("ARG")``, loaded by
    ``ml_collections.config_flags`` exactly as ``--config FILE:ARG`` is on the
    command line (e.g. ``experiments/baselines.py:x3d_s,ntu60_xsub``).
    ``overrides``: ``"KEY=VALUE"`` strings, with or without the command line's
    ``--config.`` prefix (``"optim.lr=0.1"``).
    """
    from absl import flags
    from ml_collections import config_flags
    spec = str(spec)
    path = Path(spec.split(":", 1)[0])
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    # config_flags executes the file as module "<flag name>_config" and reuses a module
    # of that name left in sys.modules; a name per load keeps a run file that loads
    # another one (experiments/ntu120_xset.py loads ntu60_xsub.py) from sharing its globals
    name = f"run{next(_LOADS)}"
    fv = flags.FlagValues()
    try:
        config_flags.DEFINE_config_file(name, spec, flag_values=fv, lock_config=False, sys_argv=["jaxar"])
        fv(["jaxar"])
        cfg = fv[name].value
    except (flags.Error, AttributeError, SyntaxError) as e:
        while e.__cause__ is not None or e.__context__ is not None:   # the file's own error
            e = e.__cause__ or e.__context__
        raise ValueError(f"config file {spec}: {type(e).__name__}: {e}") from None
    finally:
        sys.modules.pop(f"{name}_config", None)
    if not isinstance(cfg, ml_collections.ConfigDict):
        raise ValueError(f"{spec}: get_config() returned {type(cfg).__name__}, not a ConfigDict "
                         f"(start from jaxar.train.config.default_config())")
    args = []
    for o in overrides:
        key = o[len("--config."):] if o.startswith("--config.") else o
        if "=" not in key:
            raise ValueError(f"config override {o!r}: expected key=value, e.g. optim.lr=0.1")
        args.append(f"--config.{key}")
    return with_overrides(cfg, args)
