import pytest
import torch
from conftest import shared_path

from semcom.data import cifar10_test
from semcom.errors import SemcomError
from semcom.splitting import IMAGENET_MEAN, IMAGENET_STD, CifarResNet, load_cifar_resnet, resnet_cifar
from semcom.splitting.resnet_cifar import BasicBlock, ShortcutA


def test_parameter_counts_and_names_match_the_paper_models():
    for depth, count in ((20, 269_722), (56, 853_018)):
        model = CifarResNet(depth)
        assert sum(p.numel() for p in model.parameters()) == count
    names = set(CifarResNet(20).state_dict())
    assert {"conv1.weight", "bn1.running_var", "layer3.2.bn2.bias", "linear.weight"} <= names
    assert not any("preprocess" in n or "shortcut" in n for n in names)  # both are parameter-free
    with pytest.raises(SemcomError, match="6n \\+ 2"):
        CifarResNet(21)


def test_preprocessing_is_imagenet_normalisation_inside_the_model():
    model = CifarResNet(20)
    x = torch.rand(2, 3, 32, 32)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(model.preprocess(x), (x - mean) / std)
    assert model(x).shape == (2, 10)
    with pytest.raises(SemcomError, match="expects \\[B, 3, H, W\\], got \\[2, 1, 32, 32\\]"):
        model(torch.rand(2, 1, 32, 32))  # no silent broadcast of grey images to 3 channels


def test_option_a_shortcut_subsamples_and_zero_pads_channels():
    x = torch.randn(2, 16, 32, 32)
    out = ShortcutA(8)(x)
    assert out.shape == (2, 32, 16, 16)
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()
    assert BasicBlock(16, 32, stride=2)(x).shape == (2, 32, 16, 16)


def test_checkpoint_round_trip_with_dataparallel_prefix(tmp_path):
    source = CifarResNet(20).eval()
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "r.th")
    model = load_cifar_resnet(20, tmp_path / "r.th")
    assert not model.training
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model(x), source(x))


def test_bad_checkpoints_are_semcom_errors(tmp_path, monkeypatch):
    with pytest.raises(SemcomError, match="checkpoint not found"):
        load_cifar_resnet(20, tmp_path / "missing.th")
    torch.save(CifarResNet(20, num_classes=100).state_dict(), tmp_path / "c100.th")
    with pytest.raises(SemcomError, match="linear.weight has shape \\[100, 64\\], expected \\[10, 64\\]"):
        load_cifar_resnet(20, tmp_path / "c100.th")
    torch.save(CifarResNet(32).state_dict(), tmp_path / "r32.th")
    with pytest.raises(SemcomError, match="does not fit ResNet-20: .* unexpected keys"):
        load_cifar_resnet(20, tmp_path / "r32.th")
    with pytest.raises(SemcomError, match="does not fit ResNet-56: .* missing keys"):
        load_cifar_resnet(56, tmp_path / "r32.th")
    (tmp_path / "junk.th").write_bytes(b"\x00junk" * 50)
    with pytest.raises(SemcomError, match="cannot read checkpoint"):
        load_cifar_resnet(20, tmp_path / "junk.th")
    torch.save({"best_prec1": 91.0}, tmp_path / "nodict.th")
    with pytest.raises(SemcomError, match="no state dict"):
        load_cifar_resnet(20, tmp_path / "nodict.th")
    monkeypatch.setattr(resnet_cifar, "shared_data_dir", lambda: None)
    with pytest.raises(SemcomError, match="SEMCOM_DATA"):
        load_cifar_resnet(56)


def test_shipped_resnet20_is_the_published_file():
    import hashlib

    digest = hashlib.sha256(resnet_cifar.SHIPPED_RESNET20.read_bytes()).hexdigest()
    assert digest == "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"
    assert isinstance(load_cifar_resnet(20), CifarResNet)  # offline, no shared data needed


def test_shared_resnet56_does_not_load_as_resnet20():
    folder = shared_path("cifar10_resnets")
    assert isinstance(load_cifar_resnet(56, folder / "resnet56.th"), CifarResNet)
    with pytest.raises(SemcomError, match="does not fit ResNet-20"):
        load_cifar_resnet(20, folder / "resnet56.th")


def test_shared_resnet20_accuracy_on_500_test_jpegs():
    """README: 81.03 % on all 10,000 JPEGs; 500 balanced images have a standard error of about 1.8 points."""
    shared_path("cifar10_resnets")
    root = shared_path("cifar10_test_jpg").parent
    model = load_cifar_resnet(20)
    images, labels = cifar10_test(root, limit=500)
    with torch.no_grad():
        predicted = torch.cat([model(x.float() / 255).argmax(1) for x in images.split(100)])
    accuracy = (predicted == labels).float().mean().item()
    assert 0.75 < accuracy < 0.87, accuracy
