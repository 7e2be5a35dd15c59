"""JSCC checkpoints: rebuild a model (ADJSCC family or hybrid) from the config stored beside its weights."""

from __future__ import annotations

from pathlib import Path

from semcom.errors import SemcomError
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.models import JSCC, JSCCConfig
from semcom.training.checkpoint import read_checkpoint


def jscc_from_config(config: dict) -> JSCC | HybridJSCC:
    """An untrained model of the architecture a checkpoint's ``model_config`` describes."""
    if config.get("name") == "hybrid":
        return HybridJSCC(HybridConfig.from_dict(config))
    return JSCC(JSCCConfig.from_dict(config))


def load_jscc(path: str | Path) -> tuple[JSCC | HybridJSCC, dict]:
    """Rebuild a JSCC model (ADJSCC family or hybrid) from a checkpoint; returns (model in eval mode, metadata)."""
    ckpt = read_checkpoint(path)
    try:
        model = jscc_from_config(ckpt["model_config"])
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (TypeError, RuntimeError, KeyError) as exc:
        raise SemcomError(f"checkpoint {path} does not match the JSCC architecture: {str(exc).splitlines()[0]}") from None
    model.eval()
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
    return model, meta
