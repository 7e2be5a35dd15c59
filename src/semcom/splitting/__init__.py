"""Split inference: classifiers cut into a device head and a server tail, starting with the CIFAR ResNets."""

from semcom.splitting.resnet_cifar import IMAGENET_MEAN, IMAGENET_STD, CifarResNet, Normalize, load_cifar_resnet
from semcom.splitting.split import Head, SplitModel, Tail, model_stages

__all__ = [
    "IMAGENET_MEAN", "IMAGENET_STD", "CifarResNet", "Head", "Normalize", "SplitModel", "Tail", "load_cifar_resnet",
    "model_stages",
]
