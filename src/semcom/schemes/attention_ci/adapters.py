"""One interface for the client and server ViTs: logits, attention maps, and logits from a subset of patches.

``ViTAdapter`` is what the scheme talks to. Every adapter takes images in [0, 1] at the model's own size
(``image_size``; resizing is the caller's job) and applies the model's input normalisation itself:

- ``OwnViTAdapter`` wraps this package's ``ViT``, whose first stage normalises with ``cfg.mean``/``cfg.std``.
- ``HFViTAdapter`` wraps a ``transformers`` ``ViTForImageClassification``, ``DeiTForImageClassification``
  or ``DeiTForImageClassificationWithTeacher`` and normalises with the ``mean``/``std`` it is given
  (``load_hf_vit`` reads them from the checkpoint's ``preprocessor_config.json``: ``image_mean`` and
  ``image_std``, or 0 and 1 when ``do_normalize`` is false). Pixels are assumed rescaled to [0, 1]
  (the processors' ``rescale_factor`` of 1/255).

Token order: ``num_prefix_tokens`` leading tokens (CLS; DeiT adds a distillation token), then the patches.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.splitting import Normalize
from semcom.vit.grid import check_images, check_keep, gather_tokens, patch_grid
from semcom.vit.model import ViT

HF_CLASSES = ("ViTForImageClassification", "DeiTForImageClassification", "DeiTForImageClassificationWithTeacher")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class ViTAdapter(nn.Module):
    """A ViT classifier behind a narrow interface; subclasses fill in the geometry and the two methods.

    ``grid``: (rows, cols) of patches, numbered row-major; ``patch_size``: patch side in pixels;
    ``channels``: image channels; ``num_prefix_tokens``: tokens before the patches (1, or 2 for DeiT);
    ``classes``: number of logits.
    """

    grid: tuple[int, int]
    patch_size: int
    channels: int
    num_prefix_tokens: int
    classes: int

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) in pixels that the model takes."""
        return self.grid[0] * self.patch_size, self.grid[1] * self.patch_size

    def check_images(self, x: torch.Tensor) -> None:
        """SemcomError unless ``x`` is floating [B, channels, *image_size]."""
        check_images(x, self.channels, *self.image_size)

    def logits_and_attentions(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images [B, C, H, W] in [0, 1] -> (logits [B, classes], per layer [B, heads, T, T] attention
        probabilities, T = num_prefix_tokens + num_patches), from all patches."""
        raise NotImplementedError

    def logits_on_patches(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Logits [B, classes] from only the patches ``keep`` [B, k] (distinct row-major indices) of the
        images x [B, C, H, W] in [0, 1]; the other patches' pixels are never read."""
        raise NotImplementedError


class OwnViTAdapter(ViTAdapter):
    """This package's ``ViT`` (normalisation inside the model)."""

    def __init__(self, vit: ViT):
        super().__init__()
        if not isinstance(vit, ViT):
            raise SemcomError(f"OwnViTAdapter needs a ViT, got {type(vit).__name__}")
        self.vit = vit
        self.grid, self.patch_size = vit.cfg.grid, vit.cfg.patch
        self.channels, self.classes, self.num_prefix_tokens = vit.cfg.channels, vit.cfg.classes, 1

    def logits_and_attentions(self, x):
        return self.vit(x, attentions=True)

    def logits_on_patches(self, x, keep):
        return self.vit(x, keep=keep)


class HFViTAdapter(ViTAdapter):
    """A ``transformers`` ViT or DeiT image classifier (see ``HF_CLASSES``), normalising with ``mean``/``std``.

    The model is switched to eager attention (so attention probabilities are returned) and used as is,
    not copied. ``logits_on_patches`` rebuilds the model's forward pass on a token subset: patch
    embeddings plus their own position embeddings for the kept patches, the CLS (and DeiT distillation)
    token with theirs, the encoder layers, the final LayerNorm and the model's head (DeiT with teacher:
    the mean of the CLS and distillation heads, as its own forward at inference).
    """

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        transformers = sys.modules.get("transformers")
        name = type(model).__name__
        if transformers is None or name not in HF_CLASSES or not isinstance(model, getattr(transformers, name)):
            raise SemcomError(f"HFViTAdapter supports {', '.join(HF_CLASSES)}, got {name}")
        self.model = model
        self.num_prefix_tokens = 2 if name.startswith("DeiT") else 1
        config = model.config
        if config._attn_implementation != "eager":
            model.set_attn_implementation("eager")
        height, width = _pair(config.image_size, "image_size")
        patch_h, patch_w = _pair(config.patch_size, "patch_size")
        if patch_h != patch_w:
            raise SemcomError(f"only square patches are supported, the model has {patch_h}x{patch_w}")
        self.patch_size, self.channels, self.classes = patch_h, config.num_channels, config.num_labels
        self.grid = patch_grid(height, width, patch_h)
        self.normalize = Normalize(_channel_values(mean, "mean", self.channels),
                                   _channel_values(std, "std", self.channels, positive=True))

    @property
    def base(self) -> nn.Module:
        """The model's ViTModel / DeiTModel (embeddings, layers, final LayerNorm)."""
        return self.model.base_model

    def _pixel_values(self, x: torch.Tensor) -> torch.Tensor:
        self.check_images(x)
        return self.normalize(x).to(self.base.embeddings.patch_embeddings.projection.weight.dtype)

    def logits_and_attentions(self, x):
        out = self.model(pixel_values=self._pixel_values(x), output_attentions=True)
        return out.logits, list(out.attentions)

    def logits_on_patches(self, x, keep):
        pixel_values = self._pixel_values(x)
        keep = check_keep(keep, x.shape[0], self.num_patches).to(x.device)
        emb, prefix = self.base.embeddings, self.num_prefix_tokens
        positions = emb.position_embeddings
        patches = emb.patch_embeddings(pixel_values) + positions[:, prefix:]
        tokens = [emb.cls_token] + ([emb.distillation_token] if prefix == 2 else [])
        leading = (torch.cat(tokens, dim=1) + positions[:, :prefix]).expand(x.shape[0], -1, -1)
        h = emb.dropout(torch.cat((leading, gather_tokens(patches, keep)), dim=1))
        layers = self.base.layers if hasattr(self.base, "layers") else self.base.encoder.layer  # transformers 5 / 4
        for layer in layers:
            h = layer(h, None)
            h = h[0] if isinstance(h, tuple) else h
        h = self.base.layernorm(h)
        if type(self.model).__name__ == "DeiTForImageClassificationWithTeacher":
            return (self.model.cls_classifier(h[:, 0]) + self.model.distillation_classifier(h[:, 1])) / 2
        return self.model.classifier(h[:, 0])


def load_hf_vit(path_or_hub_id: str | Path, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                local_files_only: bool = False) -> HFViTAdapter:
    """``from_pretrained`` a ViT/DeiT classifier (eager attention, eval mode) into an ``HFViTAdapter``.

    ``path_or_hub_id``: a local folder saved by ``save_pretrained`` or a Hub id such as
    ``facebook/deit-tiny-distilled-patch16-224`` (downloaded unless ``local_files_only``). The class is the
    one named in the checkpoint's ``config.architectures`` (one of ``HF_CLASSES``). ``mean``/``std``: the
    input normalisation; both None reads the checkpoint's ``preprocessor_config.json``.
    SemcomError for a missing folder, an unsupported architecture or an unreadable checkpoint.
    """
    try:
        import transformers
        from transformers.image_processing_base import ImageProcessingMixin
    except ImportError:
        raise SemcomError("loading Hugging Face ViTs needs transformers: pip install 'semcom[models]'") from None
    source = _hf_source(path_or_hub_id)
    if (mean is None) != (std is None):
        raise SemcomError("give both mean and std, or neither to read them from preprocessor_config.json")
    try:
        config = transformers.AutoConfig.from_pretrained(source, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise SemcomError(f"cannot load a model config from {source}: {_first_line(exc)}") from None
    architectures = getattr(config, "architectures", None) or []
    name = next((a for a in architectures if a in HF_CLASSES), None)
    if name is None:
        raise SemcomError(f"{source} holds {', '.join(architectures) or 'no named architecture'}; "
                          f"supported: {', '.join(HF_CLASSES)}")
    if mean is None:
        try:
            processor, _ = ImageProcessingMixin.get_image_processor_dict(source, local_files_only=local_files_only)
        except (OSError, ValueError) as exc:
            raise SemcomError(f"no image processor config for {source} ({_first_line(exc)}): pass mean and std") from None
        mean, std = _processor_normalisation(processor, config.num_channels, source)
    try:
        model = getattr(transformers, name).from_pretrained(source, attn_implementation="eager",
                                                            local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise SemcomError(f"cannot load {name} from {source}: {_first_line(exc)}") from None
    return HFViTAdapter(model.eval(), mean, std)


def _hf_source(path_or_hub_id: str | Path) -> str:
    """An existing local folder, or a string shaped like a Hub id ("owner/name"); else SemcomError."""
    path = Path(path_or_hub_id).expanduser()
    if path.is_dir():
        return str(path)
    text = str(path_or_hub_id)
    if path.exists():
        raise SemcomError(f"{text} is not a model folder")
    if isinstance(path_or_hub_id, Path) or not _HUB_ID.match(text):
        raise SemcomError(f"model folder not found: {text}")
    return text


def _processor_normalisation(processor: dict, channels: int, source: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if not processor.get("do_normalize", True):
        return (0.0,) * channels, (1.0,) * channels
    if "image_mean" not in processor or "image_std" not in processor:
        raise SemcomError(f"the image processor config of {source} has no image_mean/image_std: pass mean and std")
    return tuple(processor["image_mean"]), tuple(processor["image_std"])


def _channel_values(values: Sequence[float], name: str, channels: int, positive: bool = False) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise SemcomError(f"{name} must be {channels} numbers, got {values!r}") from None
    if len(out) != channels or (positive and min(out) <= 0):
        raise SemcomError(f"{name} must be {channels} {'positive ' if positive else ''}numbers, got {values!r}")
    return out


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise SemcomError(f"config.{name} must be an int or (height, width), got {value!r}")
    return pair


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
