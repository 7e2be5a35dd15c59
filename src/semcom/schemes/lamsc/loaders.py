"""LAM-SC's trained parts from their checkpoints: the ASI scorer, the ASC mask and the receiver (a JSCC copy).

Used by evaluation, the demo and training (the receiver is trained against a loaded ASC)."""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from semcom.errors import SemcomError
from semcom.schemes.lamsc.asc import ASC
from semcom.schemes.lamsc.scorer import ASIScorer
from semcom.training.checkpoint import read_checkpoint, shipped_file


def shipped_part(part: str) -> Path:
    """Path of the shipped ``scorer``, ``asc`` or ``receiver`` checkpoint; SemcomError when it is not there."""
    return shipped_file(f"lamsc/{part}.pt", f"LAM-SC {part}",
                        f"train one with 'semcom train lamsc --part {part}' and pass --{part} PATH, or --{part} none")


def resolve(choice: str | Path | None, part: str) -> Path | None:
    """A part's checkpoint path from a CLI choice: a path, 'shipped' (or None) or 'none'."""
    if choice is None or str(choice) == "shipped":
        return shipped_part(part)
    if str(choice) == "none":
        return None
    return Path(choice)


def load_part(path: str | Path, part: str):
    """Rebuild a trained ``scorer`` (``ASIScorer``) or ``asc`` (``ASC``) in eval mode; returns (model, metadata).
    An ASC's metadata holds the ``cbr`` and the name of the JSCC checkpoint it was trained on."""
    ckpt = read_checkpoint(path)
    if ckpt.get("part") != part:
        raise SemcomError(f"{path} is not an {'ASI scorer' if part == 'scorer' else 'ASC'} checkpoint")
    try:
        model = (ASIScorer if part == "scorer" else ASC)(**ckpt["model_config"])
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (TypeError, RuntimeError, KeyError) as exc:
        raise SemcomError(f"checkpoint {path} does not match the {part}: {str(exc).splitlines()[0]}") from None
    return model.eval(), {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}


def asc_cbr(meta: dict, path: str | Path, cbr: float | None = None) -> float | None:
    """The CBR an ASC checkpoint (``load_asc`` metadata) was trained for; SemcomError when ``cbr`` is given and differs."""
    trained = meta.get("cbr")
    if cbr is not None and trained is not None and abs(cbr - trained) > 1e-12:
        raise SemcomError(f"the ASC at {path} was trained for CBR {trained:g}, not {cbr:g}; "
                          "pass --asc none or its CBR")
    return trained


def load_scorer(path: str | Path) -> tuple[ASIScorer, dict]:
    return load_part(path, "scorer")


def load_asc(path: str | Path) -> tuple[ASC, dict]:
    return load_part(path, "asc")


def load_receiver(path: str | Path, jscc) -> tuple[torch.nn.Module, dict]:
    """A copy of ``jscc`` with the receiver of checkpoint ``path`` (its decoder, or the whole fine-tuned JSCC when it
    was trained with ``train_encoder``), in eval mode; returns (model, metadata)."""
    ckpt = read_checkpoint(path)
    if ckpt.get("part") != "receiver":
        raise SemcomError(f"{path} is not a LAM-SC receiver checkpoint")
    if ckpt["model_config"].get("jscc") != jscc.cfg.to_dict():
        raise SemcomError(f"the receiver at {path} belongs to another JSCC architecture: pass --receiver none "
                          "(plain JSCC decoder) or a receiver trained for this JSCC")
    model = copy.deepcopy(jscc)
    target = model if ckpt["model_config"].get("encoder") else model.decoder
    try:
        target.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except RuntimeError as exc:
        raise SemcomError(f"checkpoint {path} does not match the JSCC: {str(exc).splitlines()[0]}") from None
    return model.eval(), {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
