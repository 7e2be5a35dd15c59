"""SemanticNN checkpoints: the codec's weights plus what they were trained on (variant, split, classifier)."""

from __future__ import annotations

from pathlib import Path

from semcom.errors import SemcomError
from semcom.schemes.splitnn.codec import SplitCodecConfig
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import Variant, split_for
from semcom.training.checkpoint import read_checkpoint

CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "splitnn"


def checkpoint_fields(model: SemanticNN, variant: Variant) -> dict:
    """Metadata that identifies a codec: its config, the variant, and the split it plugs into."""
    return {"model_config": model.codec.cfg.to_dict(), "variant": variant.to_dict(),
            "split": {"model": variant.model, "split_at": variant.split_at, "feature_shape": list(model.feature_shape)},
            "modulation": model.modulation}


def shipped_checkpoint(variant: str) -> Path:
    return CHECKPOINT_DIR / f"{variant}.pt"


def load_semanticnn(path: str | Path, split=None, medium: str = "awgn", modulation: str | None = None,
                    weights: str | None = None) -> tuple[SemanticNN, dict]:
    """Rebuild a trained SemanticNN (eval mode) on ``split`` (default: the classifier and split point it was trained on).

    ``medium``: the channel to evaluate on (awgn | rayleigh); ``modulation`` defaults to the trained one.
    SemcomError when the checkpoint was made for another split model or feature shape.
    """
    ckpt = read_checkpoint(path)
    if "split" not in ckpt or "variant" not in ckpt:
        raise SemcomError(f"{path} is not a splitnn checkpoint (no split/variant metadata)")
    split = split or split_for(Variant(**ckpt["variant"]), weights)
    info = ckpt["split"]
    if info["split_at"] != split.split_at or list(split.feature_shape()) != list(info["feature_shape"]):
        raise SemcomError(f"{path} was trained for {info['model']} split at '{info['split_at']}' with features "
                          f"{info['feature_shape']}; this model splits at '{split.split_at}' with features "
                          f"{list(split.feature_shape())}")
    try:
        model = SemanticNN(split, SplitCodecConfig(**ckpt["model_config"]), modulation or ckpt["modulation"], medium)
        model.codec.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (TypeError, RuntimeError, KeyError) as exc:
        raise SemcomError(f"checkpoint {path} does not match the codec architecture: {str(exc).splitlines()[0]}") from None
    meta = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
    return model.eval(), meta
