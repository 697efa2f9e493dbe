"""Reading checkpoint files of other projects into flat ``{name: numpy array}`` dicts.

* ``.safetensors`` (timm, Hugging Face): the ``safetensors`` package's numpy
  API -- no torch needed.
* ``.pth`` / ``.pt`` / ``.pyth`` / ``.pth.tar`` / ``.ckpt`` (torchvision,
  PyTorchVideo, MMAction2, the TSM authors): ``torch.load(weights_only=True)``
  on the CPU, so a file can hold tensors and plain containers only, never
  code. torch is an optional extra (``pip install 'jaxar[torch]'``); without
  it these files raise :class:`TorchMissingError` naming the extra.

Containers are unwrapped: a top-level dict holding ``model_state``
(PyTorchVideo), ``state_dict`` (MMAction2, the TSM authors) or ``model`` is
replaced by that entry, and the key used is reported. bfloat16/float16
tensors become float32; integer buffers keep their dtype.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

TORCH_SUFFIXES = (".pth", ".pt", ".pyth", ".pth.tar", ".ckpt", ".bin")
CONTAINER_KEYS = ("model_state", "state_dict", "model")


class TorchMissingError(ImportError):
    """A PyTorch-format file was given but torch is not installed."""


@dataclasses.dataclass
class StateDict:
    """A checkpoint's tensors: ``tensors`` maps each name to a numpy array;
    ``container`` is the wrapping key that was unwrapped (``None``: none);
    ``path`` the file; ``kind`` ``"safetensors"`` or ``"torch"``."""
    tensors: dict[str, np.ndarray]
    container: str | None
    path: Path
    kind: str


def _suffix_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(TORCH_SUFFIXES):
        return "torch"
    raise ValueError(f"{path}: unknown checkpoint suffix; expected .safetensors or one of "
                     f"{', '.join(TORCH_SUFFIXES)}")


def import_torch(what: str):
    """``torch``, or :class:`TorchMissingError` saying why it is needed and how to get it."""
    try:
        import torch
    except ImportError:
        raise TorchMissingError(
            f"{what} needs PyTorch, an optional extra of jaxar: pip install 'jaxar[torch]' "
            f"(or convert the file to .safetensors, which jaxar reads without torch)") from None
    return torch


def _to_numpy(name: str, value: Any, torch, path: Path) -> np.ndarray:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor")
    t = value.detach().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t.numpy().copy()


def read_state_dict(path: str | Path) -> StateDict:
    """The tensors of the checkpoint ``path`` (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    kind = _suffix_kind(path)
    if kind == "safetensors":
        from safetensors.numpy import load_file
        try:
            tensors = dict(load_file(str(path)))
        except Exception as e:          # safetensors raises its own error types
            raise ValueError(f"{path}: not a readable safetensors file ({e})") from None
        tensors = {k: (v.astype(np.float32) if v.dtype == np.float16 else v) for k, v in tensors.items()}
        return StateDict(tensors, None, path, kind)
    torch = import_torch(f"reading {path}")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: torch.load(weights_only=True) failed: {e}") from None
    container = None
    if isinstance(obj, dict):
        for key in CONTAINER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj, container = obj[key], key
                break
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path}: expected a state dict (name -> tensor) or a dict holding one "
                         f"under {'/'.join(CONTAINER_KEYS)}; got {type(obj).__name__}")
    tensors = {str(k): _to_numpy(str(k), v, torch, path) for k, v in obj.items()}
    return StateDict(tensors, container, path, kind)


def write_state_dict(tensors: dict[str, np.ndarray], path: str | Path) -> Path:
    """Writes ``tensors`` atomically: ``.safetensors`` with the numpy API (no torch),
    a torch suffix with ``torch.save`` of a state dict of CPU tensors."""
    from jaxar.runtime.files import atomic_open, atomic_write_bytes
    path = Path(path)
    kind = _suffix_kind(path)
    arrays = {k: np.array(v, order="C") for k, v in tensors.items()}          # 0-d stays 0-d
    if kind == "safetensors":
        from safetensors.numpy import save
        return atomic_write_bytes(path, save(arrays))
    torch = import_torch(f"writing {path}")
    state = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
    return path
