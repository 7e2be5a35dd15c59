"""LPIPS (Zhang et al., CVPR 2018), AlexNet variant, in plain torch with weights from local files.

The reference implementations (the ``lpips`` package, torchmetrics) build the backbone with
torchvision and download its weights on first use. Here the backbone is a plain ``nn.Sequential``
with exactly the layer layout of torchvision's ``alexnet().features``, so torchvision's AlexNet
state dict (``features.0.weight``, ... ; ``classifier.*`` is ignored) loads unchanged, and the five
linear heads load from the ``alex.pth`` file that torchmetrics and ``lpips`` ship (keys
``lin0.model.1.weight`` ... ``lin4.model.1.weight``). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.metrics.image import check_images, check_min_side

ALEXNET_WEIGHTS_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
FEATURE_CHANNELS = (64, 192, 384, 256, 256)
TAP_LAYERS = (1, 4, 7, 9, 11)
"""Indices in ``alexnet().features`` whose (ReLU) outputs LPIPS compares: relu1 .. relu5."""
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
"""LPIPS input scaling: (x - SHIFT) / SCALE per RGB channel, on inputs in [-1, 1]."""
MIN_SIDE = 31
"""Smallest image side for which the AlexNet trunk still has a valid relu5 output."""


def alexnet_features() -> nn.Sequential:
    """The layers of torchvision's ``alexnet().features`` with the same indices (so the same state-dict keys)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # 0
        nn.ReLU(),  # 1 -> relu1
        nn.MaxPool2d(kernel_size=3, stride=2),  # 2
        nn.Conv2d(64, 192, kernel_size=5, padding=2),  # 3
        nn.ReLU(),  # 4 -> relu2
        nn.MaxPool2d(kernel_size=3, stride=2),  # 5
        nn.Conv2d(192, 384, kernel_size=3, padding=1),  # 6
        nn.ReLU(),  # 7 -> relu3
        nn.Conv2d(384, 256, kernel_size=3, padding=1),  # 8
        nn.ReLU(),  # 9 -> relu4
        nn.Conv2d(256, 256, kernel_size=3, padding=1),  # 10
        nn.ReLU(),  # 11 -> relu5
        nn.MaxPool2d(kernel_size=3, stride=2),  # 12 (unused by LPIPS, kept for the layout)
    )


def bundled_heads_path() -> Path | None:
    """torchmetrics' bundled ``lpips_models/alex.pth`` if torchmetrics is installed (found without importing it)."""
    spec = importlib.util.find_spec("torchmetrics")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "functional" / "image" / "lpips_models" / "alex.pth"
    return path if path.is_file() else None


def backbone_hint(path: Path) -> str:
    return (
        "save torchvision's AlexNet weights there on a machine with internet, e.g. "
        "python -c \"import torch, torchvision; "
        f"torch.save(torchvision.models.alexnet(weights='IMAGENET1K_V1').state_dict(), '{path}')\" "
        f"(or download {ALEXNET_WEIGHTS_URL})"
    )


HEADS_HINT = (
    "the LPIPS heads ship with torchmetrics as torchmetrics/functional/image/lpips_models/alex.pth "
    "and with the lpips package as lpips/weights/v0.1/alex.pth; pass heads_path= to either file"
)


def load_state_dict_file(path: Path, what: str, hint: str) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise SemcomError(f"{what} not found: {path}; {hint}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unpickling errors come in many types; report them as bad input
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SemcomError(f"cannot read {what} from {path}: {first_line}") from error
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SemcomError(f"{what} file {path} does not hold a state dict of tensors")
    return state


class LPIPS(nn.Module):
    """Learned perceptual image patch similarity (LPIPS v0.1, AlexNet), lower is more similar.

    ``LPIPS(backbone_path, heads_path=None)``: ``backbone_path`` is a torchvision AlexNet state dict
    (full model or ``.features`` only) saved with ``torch.save``; ``heads_path`` the LPIPS ``alex.pth``
    heads, by default the copy bundled with torchmetrics. A missing file raises SemcomError naming it
    and how to get it.

    forward(x, x_hat): [B, 3, H, W] or [3, H, W] float RGB in [0, 1] (mapped to [-1, 1] internally,
    like ``normalize=True`` in torchmetrics), H, W >= 31. Returns [B] float: for each tapped layer the
    channel-unit-normalised features are differenced, squared, weighted by the 1x1 head, averaged over
    space; the five layer values are summed. Weights are frozen; gradients flow to the inputs.
    """

    def __init__(self, backbone_path: str | os.PathLike, heads_path: str | os.PathLike | None = None):
        super().__init__()
        self.features = alexnet_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in FEATURE_CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).reshape(1, 3, 1, 1), persistent=False)
        self.load_backbone(Path(backbone_path))
        if heads_path is None:
            heads_path = bundled_heads_path()
            if heads_path is None:
                raise SemcomError(
                    f"LPIPS heads_path not given and torchmetrics' bundled alex.pth was not found; {HEADS_HINT}"
                )
        self.load_heads(Path(heads_path))
        self.requires_grad_(False)
        self.eval()

    def load_backbone(self, path: Path) -> None:
        state = load_state_dict_file(path, "LPIPS backbone weights (torchvision AlexNet)", backbone_hint(path))
        if any(k.startswith("features.") for k in state):
            state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        else:
            state = dict(state)
        self.load_checked(self.features, state, path, "a torchvision AlexNet state dict")

    def load_heads(self, path: Path) -> None:
        state = load_state_dict_file(path, "LPIPS linear heads", HEADS_HINT)
        heads = {}
        for k in range(len(FEATURE_CHANNELS)):
            keys = [key for key in state if key.split(".")[0] == f"lin{k}" and key.endswith("weight")]
            if len(keys) != 1:
                raise SemcomError(
                    f"{path} is not an LPIPS heads file: expected one 'lin{k}.*weight' tensor, found {len(keys)}"
                )
            heads[f"{k}.weight"] = state[keys[0]]
        self.load_checked(self.lins, heads, path, "an LPIPS AlexNet heads file")

    @staticmethod
    def load_checked(module: nn.Module, state: dict, path: Path, kind: str) -> None:
        expected = module.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise SemcomError(f"{path} is not {kind}: missing keys {missing[:4]}, unexpected keys {unexpected[:4]}")
        for key, value in state.items():
            if value.shape != expected[key].shape:
                raise SemcomError(
                    f"{path} is not {kind}: {key} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}"
                )
        module.load_state_dict(state)

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (2.0 * x - 1.0 - self.shift) / self.scale
        outputs = []
        for index, layer in enumerate(self.features[: TAP_LAYERS[-1] + 1]):
            h = layer(h)
            if index in TAP_LAYERS:
                outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        x, x_hat = check_images(x, x_hat)
        if x.shape[1] != 3:
            raise SemcomError(f"LPIPS needs RGB images [B, 3, H, W], got {x.shape[1]} channels")
        check_min_side(x, MIN_SIDE, "LPIPS")
        dtype = self.shift.dtype
        total = x.new_zeros(x.shape[0], dtype=dtype)
        for lin, a, b in zip(self.lins, self.layer_outputs(x.to(dtype)), self.layer_outputs(x_hat.to(dtype))):
            diff = (unit_normalize(a) - unit_normalize(b)) ** 2
            total = total + lin(diff).mean(dim=(1, 2, 3))
        return total


def unit_normalize(features: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each spatial feature vector (over channels) to unit length; eps as in torchmetrics' LPIPS."""
    return features / torch.sqrt(features.pow(2).sum(dim=1, keepdim=True) + eps)
