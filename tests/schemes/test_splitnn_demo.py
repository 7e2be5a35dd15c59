"""The demo's split-inference section runs offline on the bundled images and weights."""

import torch

from semcom.data import cifar_demo_images
from semcom.schemes.splitnn import demo
from semcom.schemes.splitnn.checkpoint import checkpoint_fields
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import default_split, get_variant
from semcom.training.checkpoint import atomic_save


def test_bundled_cifar_images_and_weights_classify_offline():
    names, images, labels = cifar_demo_images()
    assert images.shape == (20, 3, 32, 32) and labels.bincount().tolist() == [2] * 10
    with torch.no_grad():
        accuracy = (default_split()(images.float() / 255).argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.6  # ResNet-20 is ~81 % on these JPEGs; 20 images


def test_section_lists_every_shipped_codec_and_shows_predictions(tmp_path, monkeypatch):
    split = default_split()
    model = SemanticNN(split, get_variant("semanticnn-c8b3").codec_config(32))
    path = tmp_path / "semanticnn-c8b3.pt"
    atomic_save({**checkpoint_fields(model, get_variant("semanticnn-c8b3")), "state_dict": model.codec.state_dict()}, path)
    monkeypatch.setattr(demo, "shipped_checkpoint", lambda name: tmp_path / f"{name}.pt")
    html, rows = demo.splitnn_section(tmp_path, snrs=(0.0, 7.0))
    assert [r["scheme"] for r in rows] == ["uncompressed", "semanticnn-c8b3", "semanticnn-c8b3"]
    assert "192-byte payload" in html and html.count("<img") == 20
    assert len(list((tmp_path / "images").glob("cifar_*.png"))) == 20
