"""LPIPS adapter: local weight loading, agreement with torchmetrics' LPIPS code, clear errors."""

import math

import pytest
import torch
from torch import nn

import semcom.metrics.lpips as lpips_module
from semcom.errors import SemcomError
from semcom.metrics import LPIPS

CHANNELS = (64, 192, 384, 256, 256)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def torchvision_alexnet_features() -> nn.Sequential:
    """torchvision.models.alexnet().features, restated from torchvision's source for these tests."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=3, stride=2),
    )  # fmt: skip


def random_features(seed: int = 0) -> nn.Sequential:
    features = torchvision_alexnet_features()
    g = gen(seed)
    with torch.no_grad():
        for name, p in features.named_parameters():
            fan_in = p[0].numel() if name.endswith("weight") else 1
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in) + (0.01 if name.endswith("bias") else 0.0))
    return features


@pytest.fixture
def weights(tmp_path):
    """A full torchvision-format AlexNet state dict and an LPIPS heads file, both random, on disk."""
    features = random_features()
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(8, 8)  # ignored by the adapter
    state["classifier.1.bias"] = torch.zeros(8)
    backbone = tmp_path / "alexnet.pth"
    torch.save(state, backbone)
    g = gen(1)
    heads_state = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for k, c in enumerate(CHANNELS)}
    heads = tmp_path / "alex_heads.pth"
    torch.save(heads_state, heads)
    return backbone, heads, features


def images(batch: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=gen(seed))


def torchmetrics_reference(features: nn.Sequential, heads_path, monkeypatch) -> nn.Module:
    """torchmetrics' own LPIPS module, with only torchvision's AlexNet constructor swapped for ``features``."""
    import torchmetrics.functional.image.lpips as tm_lpips

    monkeypatch.setattr(tm_lpips, "_get_tv_model_features", lambda net, pretrained=False: features)
    return tm_lpips._LPIPS(pretrained=True, net="alex", model_path=None if heads_path is None else str(heads_path))


def test_random_weights_load_and_give_zero_for_identical_images(weights):
    backbone, heads, _ = weights
    metric = LPIPS(backbone_path=backbone, heads_path=heads)
    x, y = images(seed=0), images(seed=1)
    assert torch.equal(metric(x, x), torch.zeros(2))
    d = metric(x, y)
    assert d.shape == (2,) and torch.all(d > 0)
    torch.testing.assert_close(metric(y, x), d, rtol=1e-5, atol=0)  # symmetric
    close = (x + 0.02 * torch.randn(x.shape, generator=gen(2))).clamp(0, 1)
    assert torch.all(metric(x, close) < d)


def test_matches_torchmetrics_lpips_with_the_same_weights(weights, monkeypatch):
    backbone, heads, features = weights
    reference = torchmetrics_reference(features, heads, monkeypatch)
    metric = LPIPS(backbone, heads)
    x, y = images(3, 80, seed=3), images(3, 80, seed=4)
    expected = reference(x, y, normalize=True).flatten()
    torch.testing.assert_close(metric(x, y), expected, rtol=1e-5, atol=1e-7)


def test_bundled_torchmetrics_heads_load_by_default(weights, monkeypatch):
    backbone, _, features = weights
    assert lpips_module.bundled_heads_path() is not None, "torchmetrics' lpips_models/alex.pth is expected in the venv"
    metric = LPIPS(backbone)  # heads from torchmetrics' alex.pth
    reference = torchmetrics_reference(features, None, monkeypatch)  # torchmetrics loads the same file itself
    x, y = images(2, 64, seed=5), images(2, 64, seed=6)
    torch.testing.assert_close(metric(x, y), reference(x, y, normalize=True).flatten(), rtol=1e-5, atol=1e-7)
    # the real heads are non-negative, so LPIPS is >= 0
    assert all((lin.weight >= 0).all() for lin in metric.lins)


def test_features_only_state_dict_loads_the_same(weights, tmp_path):
    backbone, heads, features = weights
    features_only = tmp_path / "features.pth"
    torch.save(features.state_dict(), features_only)  # keys "0.weight", ...
    x, y = images(seed=7), images(seed=8)
    assert torch.equal(LPIPS(features_only, heads)(x, y), LPIPS(backbone, heads)(x, y))


def test_single_image_gradients_and_frozen_weights(weights):
    backbone, heads, _ = weights
    metric = LPIPS(backbone, heads)
    x, y = images(1, 48, seed=9), images(1, 48, seed=10)
    assert metric(x[0], y[0]).shape == (1,)
    assert not any(p.requires_grad for p in metric.parameters())
    y.requires_grad_(True)
    metric(x, y).sum().backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_smallest_supported_image_size(weights):
    backbone, heads, _ = weights
    metric = LPIPS(backbone, heads)
    assert metric(images(1, 31), images(1, 31, seed=1)).shape == (1,)
    with pytest.raises(SemcomError, match="at least 31x31 px"):
        metric(images(1, 30), images(1, 30, seed=1))


def test_missing_backbone_file_names_the_path_and_how_to_get_it(weights, tmp_path):
    _, heads, _ = weights
    missing = tmp_path / "nowhere" / "alexnet.pth"
    with pytest.raises(SemcomError) as info:
        LPIPS(backbone_path=missing, heads_path=heads)
    message = str(info.value)
    assert str(missing) in message and "torchvision" in message and "\n" not in message


def test_missing_heads_file_names_the_path_and_how_to_get_it(weights, tmp_path):
    backbone, _, _ = weights
    missing = tmp_path / "alex.pth"
    with pytest.raises(SemcomError) as info:
        LPIPS(backbone_path=backbone, heads_path=missing)
    message = str(info.value)
    assert str(missing) in message and "lpips_models/alex.pth" in message and "\n" not in message


def test_no_bundled_heads_and_no_heads_path(weights, monkeypatch):
    backbone, _, _ = weights
    monkeypatch.setattr(lpips_module, "bundled_heads_path", lambda: None)
    with pytest.raises(SemcomError, match="heads_path"):
        LPIPS(backbone)


def test_wrong_files_raise_semcom_error(weights, tmp_path):
    backbone, heads, _ = weights
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(SemcomError, match="cannot read"):
        LPIPS(garbage, heads)
    with pytest.raises(SemcomError, match="not a torchvision AlexNet state dict"):
        LPIPS(heads, heads)  # heads file given as the backbone
    with pytest.raises(SemcomError, match="not an LPIPS heads file"):
        LPIPS(backbone, backbone)  # backbone given as the heads
    bad_shapes = tmp_path / "bad.pth"
    state = torch.load(backbone, weights_only=True)
    state["features.3.weight"] = torch.zeros(192, 64, 3, 3)
    torch.save(state, bad_shapes)
    with pytest.raises(SemcomError, match=r"features\.3\.weight|3\.weight has shape"):
        LPIPS(bad_shapes, heads)


def test_bad_images_raise(weights):
    backbone, heads, _ = weights
    metric = LPIPS(backbone, heads)
    with pytest.raises(SemcomError, match="RGB"):
        metric(torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64))
    with pytest.raises(SemcomError, match="same shape"):
        metric(images(1, 64), images(1, 48))
    with pytest.raises(SemcomError, match="NaN or inf"):
        metric(images(1, 64), torch.full((1, 3, 64, 64), float("nan")))
