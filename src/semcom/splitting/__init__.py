"""Split inference: classifiers cut into a device head and a server tail (CIFAR ResNets, EfficientNet-Lite0, HF)."""

from semcom.splitting.efficientnet import EfficientNetLite, load_efficientnet_lite0
from semcom.splitting.resnet_cifar import IMAGENET_MEAN, IMAGENET_STD, CifarResNet, Normalize, load_cifar_resnet
from semcom.splitting.split import Head, SplitModel, Tail, model_stages

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "CifarResNet", "EfficientNetLite", "Head", "Normalize", "SplitModel", "Tail",
    "load_cifar_resnet", "load_efficientnet_lite0", "model_stages",
]
