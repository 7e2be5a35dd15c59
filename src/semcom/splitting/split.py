"""Split a classifier into a device part (head) and a server part (tail) with ``tail(head(x)) == model(x)``.

A model is split between two of its *stages*: an ordered list of (name, module) whose composition is the
forward pass. Stages come from, in this order of precedence:

- a list of (name, module) pairs given directly;
- the model's ``stages()`` method (``CifarResNet`` has one; give your own model one to plug it in);
- an ``nn.Sequential`` (its named children);
- a Hugging Face ``ViTForImageClassification`` (stages ``embeddings``, ``layer1`` ... ``layerL``,
  ``layernorm``, ``cls``, ``classifier``) or ``ResNetForImageClassification`` (``embedder``, ``stage1`` ...
  ``stageK``, ``pooler``, ``classifier``), recognised only when ``transformers`` is installed. The head takes
  ``pixel_values`` as the model's image processor prepares them; the tail returns the logits tensor.

Head and tail hold the model's own modules (no copies): changing or freezing one changes the model.
Shapes are fixed at construction: the head accepts exactly [B, *input_shape] and the tail exactly
[B, *feature_shape]; anything else is a SemcomError naming expected against got. This is deliberate: a codec
between head and tail is built for one feature shape, and a model ending in global pooling would otherwise
turn a wrong-size input (e.g. 3x64x64 into a CIFAR ResNet) into plausible-looking logits.
"""

from __future__ import annotations

import inspect
import itertools
import sys
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from semcom.errors import SemcomError

Stages = list[tuple[str, nn.Module]]


class Head(nn.Module):
    """Device part: the stages up to and including the split point. [B, *input_shape] -> [B, *feature_shape]."""

    def __init__(self, stages: Stages, input_shape: tuple[int, ...]):
        super().__init__()
        self.stages = nn.Sequential(OrderedDict(stages))
        self.input_shape = input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_shape(x, self.input_shape, "head expects input")
        return self.stages(x)


class Tail(nn.Module):
    """Server part: the stages after the split point. [B, *feature_shape] -> model output (logits) [B, ...]."""

    def __init__(self, stages: Stages, feature_shape: tuple[int, ...], split_at: str):
        super().__init__()
        self.stages = nn.Sequential(OrderedDict(stages))
        self.feature_shape = feature_shape
        self.split_at = split_at

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _check_shape(z, self.feature_shape, f"tail after '{self.split_at}' expects features")
        return self.stages(z)


class SplitModel(nn.Module):
    """``model`` cut after the stage named ``split_at``: ``.head`` on the device, ``.tail`` on the server.

    ``model``: see the module docstring. ``input_shape``: one example's shape, e.g. (3, 32, 32); needed
    unless the model declares it (``model.input_shape``, or ``config.image_size`` for a Hugging Face ViT).
    ``forward(x)`` = ``tail(head(x))``; ``names`` lists the valid split points in forward order.
    """

    def __init__(self, model: nn.Module | Sequence[tuple[str, nn.Module]], split_at: str,
                 input_shape: Sequence[int] | None = None):
        super().__init__()
        stages, declared = model_stages(model)
        self.names = [name for name, _ in stages]
        if split_at not in self.names:
            raise SemcomError(f"unknown split point {split_at!r}; valid names: {', '.join(self.names)}")
        if input_shape is None:
            input_shape = declared
        if input_shape is None:
            raise SemcomError(f"{type(model).__name__} does not declare its input shape: pass input_shape=(C, H, W)")
        if not all(isinstance(d, int) and d > 0 for d in input_shape):
            raise SemcomError(f"input_shape must be positive integers such as (3, 32, 32), got {input_shape!r}")
        self.split_at = split_at
        self.input_shape = tuple(input_shape)
        cut = self.names.index(split_at) + 1
        self.head = Head(stages[:cut], self.input_shape)
        self.tail = Tail(stages[cut:], self.feature_shape(), split_at)

    def feature_shape(self, input_shape: Sequence[int] | None = None) -> tuple[int, ...]:
        """Shape of the head's output for one example of ``input_shape`` (default: the declared one).

        Found by running the head once on zeros in eval mode (no statistics change; modes are restored).
        """
        shape = tuple(self.input_shape if input_shape is None else input_shape)
        tensors = itertools.chain(self.head.parameters(), self.head.buffers())
        reference = next((t for t in tensors if t.is_floating_point()), None)
        zeros = torch.zeros((1, *shape), dtype=reference.dtype if reference is not None else torch.float32,
                            device=reference.device if reference is not None else None)
        modes = {m: m.training for m in self.head.modules()}
        self.head.eval()
        try:
            with torch.no_grad():
                out = self.head.stages(zeros)
        except (RuntimeError, ValueError) as exc:
            raise SemcomError(f"the head cannot take input {list(shape)}: {str(exc).splitlines()[0]}") from None
        finally:
            for m, training in modes.items():
                m.training = training
        return tuple(out.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.head(x))


def model_stages(model: nn.Module | Sequence[tuple[str, nn.Module]]) -> tuple[Stages, tuple[int, ...] | None]:
    """(ordered (name, module) stages, declared input shape or None) for any supported model."""
    declared = getattr(model, "input_shape", None)
    if isinstance(model, (list, tuple)):
        stages = list(model)
    elif inspect.ismethod(getattr(model, "stages", None)):
        stages = list(model.stages())
    elif isinstance(model, nn.Sequential):
        stages = list(model.named_children())
    else:
        found = _hugging_face_stages(model)
        if found is None:
            raise SemcomError(
                f"cannot split {type(model).__name__}: give it a stages() method returning [(name, module), ...] "
                "in forward order, or pass an nn.Sequential or such a list"
            )
        stages, declared = found
    _check_stages(stages)
    return stages, (tuple(declared) if declared is not None else None)


def _check_stages(stages: Stages) -> None:
    if not stages:
        raise SemcomError("a model to split needs at least one stage")
    seen = set()
    for item in stages:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], nn.Module)):
            raise SemcomError(f"each stage must be a (name, nn.Module) pair, got {item!r:.80}")
        name = item[0]
        if not isinstance(name, str) or not name or "." in name:
            raise SemcomError(f"stage names must be non-empty strings without '.', got {name!r}")
        if name in seen:
            raise SemcomError(f"stage name {name!r} appears twice")
        seen.add(name)


def _check_shape(x: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise SemcomError(f"{what} as a torch.Tensor, got {type(x).__name__}")
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise SemcomError(f"{what} [B, {', '.join(map(str, shape))}], got {list(x.shape)}")
    if not x.is_floating_point():  # e.g. uint8 pixels: the model wants floats (images in [0, 1])
        raise SemcomError(f"{what} as floating point (images in [0, 1]), got {x.dtype}")
    if not torch.isfinite(x).all():
        raise SemcomError(f"{what} without NaN or inf values")


# Hugging Face image classifiers (only when transformers is already imported: a model instance implies it).

class _PixelEmbeddings(nn.Module):
    """ViT patch + position embeddings with the [CLS] token: [B, C, H, W] -> [B, 1 + patches, hidden]."""

    def __init__(self, embeddings: nn.Module):
        super().__init__()
        self.embeddings = embeddings

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        weight = self.embeddings.patch_embeddings.projection.weight
        return self.embeddings(pixel_values.to(weight.dtype))


class _FirstToken(nn.Module):
    """The [CLS] token: [B, T, hidden] -> [B, hidden]."""

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens[:, 0, :]


def _hugging_face_stages(model: nn.Module) -> tuple[Stages, tuple[int, ...] | None] | None:
    transformers = sys.modules.get("transformers")
    if transformers is None:
        return None
    if isinstance(model, transformers.ViTForImageClassification):
        vit = model.vit
        layers = vit.layers if hasattr(vit, "layers") else vit.encoder.layer  # transformers 5 / 4 layout
        stages = [("embeddings", _PixelEmbeddings(vit.embeddings))]
        stages += [(f"layer{i + 1}", layer) for i, layer in enumerate(layers)]
        stages += [("layernorm", vit.layernorm), ("cls", _FirstToken()), ("classifier", model.classifier)]
        size = model.config.image_size
        height, width = (size, size) if isinstance(size, int) else tuple(size)
        return stages, (model.config.num_channels, height, width)
    if isinstance(model, transformers.ResNetForImageClassification):
        resnet = model.resnet
        stages = [("embedder", resnet.embedder)]
        stages += [(f"stage{i + 1}", stage) for i, stage in enumerate(resnet.encoder.stages)]
        stages += [("pooler", resnet.pooler), ("classifier", model.classifier)]
        return stages, None
    return None
