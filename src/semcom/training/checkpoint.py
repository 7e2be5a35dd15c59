"""Checkpoint files: atomic writes, safe reads, slim copies, warm starts.

Every checkpoint is read with ``torch.load(..., weights_only=True)``: only tensors and plain data (dicts,
lists, strings, numbers) unpickle, so a checkpoint given on the command line can never run code.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from torch.torch_version import TorchVersion

from semcom.errors import SemcomError
from semcom.training.files import atomic_file

PACKAGE_CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"

# The one non-plain type the unpickler accepts: the shipped checkpoints store ``torch.__version__`` as it is, a
# TorchVersion (a ``str`` subclass with version comparisons, no code of its own); new checkpoints store
# ``str(torch.__version__)``.
SAFE_GLOBALS = [TorchVersion]


def shipped_file(relative: str, what: str, how: str) -> Path:
    """A checkpoint shipped inside the package (``relative`` to semcom/checkpoints); SemcomError naming
    ``what`` is missing and ``how`` to make one when it is not there."""
    path = PACKAGE_CHECKPOINTS / relative
    if not path.is_file():
        raise SemcomError(f"no shipped {what} at {path}: {how}")
    return path


def atomic_save(obj, path: str | Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves a half-written checkpoint, and an error
    or Ctrl-C while saving leaves no temporary file."""
    with atomic_file(path) as tmp:
        torch.save(obj, tmp)


def load_file(path: str | Path):
    """The contents of a ``torch.save`` file, read safely (tensors and plain data only, see ``SAFE_GLOBALS``);
    a missing, damaged or unsafe file is a one-line SemcomError."""
    path = Path(path)
    if not path.is_file():
        raise SemcomError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        if found:  # the file names a Python callable or class: unpickling it could run code
            raise SemcomError(f"refused to load {path}: it holds {found.group(1)}, not only tensors and plain data, "
                              "and loading it could run code") from None
        raise SemcomError(f"cannot read checkpoint {path}: not a torch.save file of tensors and plain data") from None
    except Exception as exc:  # torch raises many types for a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SemcomError(f"cannot read checkpoint {path}: {exc.__class__.__name__}: {first}") from None


def read_checkpoint(path: str | Path) -> dict:
    """A semcom checkpoint (a dict with ``model_config`` and ``state_dict``), read with ``load_file``."""
    ckpt = load_file(path)
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "state_dict" not in ckpt:
        raise SemcomError(f"{path} is not a semcom checkpoint (no model_config/state_dict)")
    return ckpt


FLOAT16_MAX = float(torch.finfo(torch.float16).max)


def half_state(state: dict[str, torch.Tensor], half: bool = True) -> dict[str, torch.Tensor]:
    """The weights to ship: float tensors in float16 (unless ``half`` is False), except a tensor with a value beyond
    float16's range (e.g. a batch-norm running variance of 1e7), which would become inf and stays float32; integer
    tensors (batch-norm counters) unchanged."""
    def cast(v: torch.Tensor) -> torch.Tensor:
        if not (half and v.is_floating_point()) or (v.numel() and float(v.abs().max()) > FLOAT16_MAX):
            return v
        return v.half()
    return {k: cast(v) for k, v in state.items()}


def slim_copy(src: str | Path, dst: str | Path, half: bool = True) -> None:
    """Write a shippable checkpoint: weights (float16 by default, see ``half_state``) and metadata, no optimizer
    state."""
    ckpt = read_checkpoint(src)
    state = half_state(ckpt["state_dict"], half)
    keep = {k: v for k, v in ckpt.items() if k not in ("optimizer", "rng", "state_dict")}
    atomic_save({**keep, "state_dict": state}, dst)


def warm_start(model: torch.nn.Module, path: str | Path) -> str:
    """Load a checkpoint's weights into ``model``, which may add modules (e.g. the JSCC's linear path) but must
    otherwise have the same architecture; returns which parameters kept their initialisation."""
    ckpt = read_checkpoint(path)
    state = {k: v.float() for k, v in ckpt["state_dict"].items()}
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    unexpected = [k for k in state if k not in shapes]
    if unexpected:
        raise SemcomError(f"{path} has weights this model lacks ({', '.join(unexpected[:3])}): another architecture")
    wrong = [k for k, v in state.items() if shapes[k] != v.shape]
    if wrong:
        raise SemcomError(f"{path} does not fit this model: {wrong[0]} has shape {tuple(state[wrong[0]].shape)}")
    missing, _ = model.load_state_dict(state, strict=False)
    return "new: " + ", ".join(missing) if missing else "every parameter loaded"
