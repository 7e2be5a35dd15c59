"""The demo's collaborative-inference section: images, attention maps, sent patches, decisions."""

import torch

from semcom.schemes.attention_ci import ViT, ViTConfig
from semcom.schemes.attention_ci.demo import attention_ci_section
from semcom.training.checkpoint import atomic_save


def test_section_without_trained_models_says_why(tmp_path, monkeypatch):
    from semcom.training import checkpoint

    monkeypatch.setattr(checkpoint, "PACKAGE_CHECKPOINTS", tmp_path / "none")
    html, rows = attention_ci_section(tmp_path)
    assert "Not shown" in html and "semcom train vit" in html and rows == []


def test_section_with_models_shows_every_bundled_image(tmp_path):
    paths = []
    for dim in (16, 24):
        torch.manual_seed(dim)
        cfg = ViTConfig(dim=dim, depth=2, heads=2)
        path = tmp_path / f"v{dim}.pt"
        config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()}
        atomic_save({"model_config": config, "state_dict": ViT(cfg).state_dict()}, path)
        paths.append(path)
    html, rows = attention_ci_section(tmp_path, *paths)
    assert len(rows) == 20 and html.count("<img") == 60
    for r in rows:
        assert (r["bits_sent"] > 0) == r["offloaded"] and (r["patches_sent"] > 0) == r["offloaded"]
    assert len(list((tmp_path / "images").glob("aci_*.png"))) == 60
