"""The CIFAR ResNet of He et al. (2016, section 4.2) in plain torch, matching Idelbayev's pretrained weights.

Not the torchvision ResNet: a 3x3 stem with 16 channels, three stages of n BasicBlocks (16, 32, 64 channels,
stride 2 at the start of stages 2 and 3; depth = 6n + 2), parameter-free "option A" shortcuts, global average
pooling and ``linear`` (64 -> classes). Parameter names follow the checkpoints: ``conv1``, ``bn1``,
``layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2}``, ``linear``.

Callers pass images in [0, 1]: the input normalisation the weights were trained with (ImageNet mean/std, as in
the source ``trainer.py``) is the model's first stage, ``preprocess``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from semcom.data.sources import shared_data_dir
from semcom.errors import SemcomError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS_FOLDER = "cifar10_resnets"
SHIPPED_RESNET20 = Path(__file__).resolve().parents[1] / "checkpoints" / "cifar_resnet20.th"


class Normalize(nn.Module):
    """Per-channel ``(x - mean) / std``: [B, C, H, W] in [0, 1] -> [B, C, H, W] normalised.

    mean and std are non-persistent buffers, so they follow ``.to(device)`` but are not part of the state dict.
    """

    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.mean.shape[1]:  # broadcasting would turn grey into 3 channels
            raise SemcomError(f"normalisation expects [B, {self.mean.shape[1]}, H, W], got {list(x.shape)}")
        return (x - self.mean) / self.std


class ShortcutA(nn.Module):
    """Option-A shortcut without parameters: subsample by 2, then zero-pad ``pad`` channels on each side.

    [B, C, H, W] -> [B, C + 2 * pad, ceil(H / 2), ceil(W / 2)].
    """

    def __init__(self, pad: int):
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); [B, in, H, W] -> [B, planes, H / stride, W / stride]."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(planes // 4) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-``depth`` for 32x32 images: [B, 3, 32, 32] in [0, 1] -> logits [B, num_classes].

    The forward pass runs ``stages()`` in order, so a split between any two stages is exact.
    The convolutional part accepts other sizes too; ``input_shape`` states what the weights were trained for.
    """

    input_shape = (3, 32, 32)

    def __init__(self, depth: int = 20, num_classes: int = 10):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise SemcomError(f"CIFAR ResNet depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth!r}")
        n = (depth - 2) // 6
        self.depth, self.num_classes = depth, num_classes
        self.preprocess = Normalize()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = _stage(16, 16, n, stride=1)
        self.layer2 = _stage(16, 32, n, stride=2)
        self.layer3 = _stage(32, 64, n, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The forward pass as an ordered list of (name, module); shapes for a [B, 3, 32, 32] input:

        preprocess [B,3,32,32], conv1/bn1/relu [B,16,32,32], layer1 [B,16,32,32], layer2 [B,32,16,16],
        layer3 [B,64,8,8], pool [B,64,1,1], flatten [B,64], linear [B,classes].
        """
        names = ("preprocess", "conv1", "bn1", "relu", "layer1", "layer2", "layer3", "pool", "flatten", "linear")
        return [(name, getattr(self, name)) for name in names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages():
            x = stage(x)
        return x


def _stage(in_planes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    return nn.Sequential(*[BasicBlock(in_planes if i == 0 else planes, planes, stride if i == 0 else 1)
                           for i in range(blocks)])


def load_cifar_resnet(depth: int = 20, path: str | Path | None = None) -> CifarResNet:
    """A pretrained CIFAR-10 ResNet in eval mode, loaded with ``strict=True``.

    ``path``: a ``torch.save`` checkpoint (a dict with ``state_dict``, or a bare state dict; a ``module.``
    prefix from DataParallel is removed; read with ``weights_only=True``, so pickled objects are refused); default:
    ResNet-20 ships with the package (``semcom/checkpoints/cifar_resnet20.th``, BSD-2, see its LICENSE file);
    other depths come from ``<shared data>/cifar10_resnets/resnet{depth}.th``.
    SemcomError when the file is missing or unreadable, or holds weights of another architecture.
    """
    model = CifarResNet(depth)
    if path is None and depth == 20:
        path = SHIPPED_RESNET20
    if path is None:
        root = shared_data_dir()
        if root is None:
            raise SemcomError(f"weights for ResNet-{depth} not found: set SEMCOM_DATA to the shared data folder "
                              "or pass path")
        path = root / WEIGHTS_FOLDER / f"resnet{depth}.th"
    path = Path(path)
    if not path.is_file():
        raise SemcomError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError, KeyError,
            AttributeError) as exc:
        raise SemcomError(f"cannot read checkpoint {path}: not a torch.save file of tensors "
                          f"({type(exc).__name__})") from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SemcomError(f"checkpoint {path} holds no state dict of tensors")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    _check_fits(model, state, f"checkpoint {path} does not fit ResNet-{depth}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def _check_fits(model: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """SemcomError naming missing/unexpected keys or the first shape mismatch (BN counters may be absent)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        detail = [f"{len(v)} {kind} keys (e.g. {v[0]})" for kind, v in (("missing", missing),
                                                                        ("unexpected", unexpected)) if v]
        raise SemcomError(f"{what}: {', '.join(detail)}")
    for k, v in state.items():
        if v.shape != expected[k].shape:
            raise SemcomError(f"{what}: {k} has shape {list(v.shape)}, expected {list(expected[k].shape)}")
