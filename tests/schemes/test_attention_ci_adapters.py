"""ViT adapters: our ViT and tiny random transformers ViT / DeiT checkpoints behind one interface."""

import json

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci.adapters import HFViTAdapter, OwnViTAdapter, load_hf_vit
from semcom.vit.model import ViT, ViTConfig

transformers = pytest.importorskip("transformers")

HF_KINDS = {
    "vit": (transformers.ViTConfig, transformers.ViTForImageClassification),
    "deit": (transformers.DeiTConfig, transformers.DeiTForImageClassification),
    "deit-teacher": (transformers.DeiTConfig, transformers.DeiTForImageClassificationWithTeacher),
}
MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def tiny_hf_model(kind):
    config_class, model_class = HF_KINDS[kind]
    config = config_class(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=64, num_labels=10)
    torch.manual_seed(0)
    model = model_class(config).eval()
    with torch.no_grad():  # DeiT initialises these to zero: make token positions matter
        embeddings = model.base_model.embeddings
        embeddings.position_embeddings.normal_()
        embeddings.cls_token.normal_()
        if hasattr(embeddings, "distillation_token"):
            embeddings.distillation_token.normal_()
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """kind -> (folder saved with save_pretrained plus a preprocessor_config.json, the original model)."""
    out = {}
    for kind in HF_KINDS:
        folder = tmp_path_factory.mktemp(kind)
        model = tiny_hf_model(kind)
        model.save_pretrained(folder)
        (folder / "preprocessor_config.json").write_text(json.dumps(
            {"image_processor_type": "ViTImageProcessor", "do_normalize": True, "image_mean": MEAN, "image_std": STD}))
        out[kind] = folder, model
    return out


@pytest.fixture(scope="module")
def adapters(saved):
    torch.manual_seed(1)
    own = OwnViTAdapter(ViT(ViTConfig(dim=16, depth=2, heads=2, image_size=16, patch=4)).eval())
    with torch.no_grad():
        own.vit.pos_embed.normal_()
    found = {"own": own}
    for kind, (folder, _) in saved.items():
        found[kind] = load_hf_vit(folder, local_files_only=True)
    return found


ALL = ["own", *HF_KINDS]


def images(adapter, batch=2):
    return torch.rand(batch, adapter.channels, *adapter.image_size)


def test_loaded_models_keep_their_weights_class_and_normalisation(saved, adapters):
    for kind, (_, original) in saved.items():
        adapter = adapters[kind]
        assert type(adapter.model) is type(original) and adapter.model.config._attn_implementation == "eager"
        assert torch.allclose(adapter.normalize.mean.flatten(), torch.tensor(MEAN))
        assert torch.allclose(adapter.normalize.std.flatten(), torch.tensor(STD))
        x = images(adapter)
        with torch.no_grad():
            own_forward = original(pixel_values=(x - adapter.normalize.mean) / adapter.normalize.std).logits
            assert torch.allclose(adapter.logits_and_attentions(x)[0], own_forward, atol=1e-5)


@pytest.mark.parametrize("kind", ALL)
def test_geometry(adapters, kind):
    adapter = adapters[kind]
    expected = (1, (4, 4), 4, (16, 16)) if kind == "own" else (1 if kind == "vit" else 2, (4, 4), 8, (32, 32))
    assert (adapter.num_prefix_tokens, adapter.grid, adapter.patch_size, adapter.image_size) == expected
    assert adapter.num_patches == 16 and adapter.classes == 10


@pytest.mark.parametrize("kind", ALL)
def test_attentions_cover_prefix_and_patch_tokens(adapters, kind):
    adapter = adapters[kind]
    with torch.no_grad():
        logits, attentions = adapter.logits_and_attentions(images(adapter))
    tokens = adapter.num_prefix_tokens + adapter.num_patches
    assert logits.shape == (2, 10) and len(attentions) == 2
    for a in attentions:
        assert a.shape == (2, 2, tokens, tokens) and torch.allclose(a.sum(-1), torch.ones(()), atol=1e-5)


@pytest.mark.parametrize("kind", ALL)
def test_all_patches_in_any_order_give_the_full_logits(adapters, kind):
    adapter = adapters[kind]
    x = images(adapter, 3)
    n = adapter.num_patches
    with torch.no_grad():
        full, _ = adapter.logits_and_attentions(x)
        in_order = adapter.logits_on_patches(x, torch.arange(n).expand(3, -1))
        shuffled = adapter.logits_on_patches(x, torch.stack([torch.randperm(n) for _ in range(3)]))
    assert torch.allclose(in_order, full, atol=1e-5) and torch.allclose(shuffled, full, atol=1e-5)


@pytest.mark.parametrize("kind", ALL)
def test_a_subset_sees_only_its_patches_at_their_positions(adapters, kind):
    adapter = adapters[kind]
    x = images(adapter, 1)
    p, cols = adapter.patch_size, adapter.grid[1]
    changed = x.clone()
    changed[..., p:2 * p, p:2 * p] = torch.rand(1, 3, p, p)  # patch cols + 1
    with torch.no_grad():
        full, _ = adapter.logits_and_attentions(x)
        sub = adapter.logits_on_patches(x, torch.tensor([[0, 2, 7]]))
        unread = adapter.logits_on_patches(changed, torch.tensor([[0, 2, 7]]))
        read = adapter.logits_on_patches(changed, torch.tensor([[0, cols + 1, 7]]))
        moved = adapter.logits_on_patches(x, torch.tensor([[1, 2, 7]]))
    assert torch.allclose(sub, unread) and not torch.allclose(sub, full, atol=1e-4)
    assert not torch.allclose(sub, moved, atol=1e-4) and not torch.allclose(read, sub, atol=1e-4)


def test_adapter_switches_a_given_model_to_eager_attention():
    model = tiny_hf_model("vit")
    model.set_attn_implementation("sdpa")
    adapter = HFViTAdapter(model, MEAN, STD)
    assert model.config._attn_implementation == "eager"
    assert adapter.logits_and_attentions(torch.rand(1, 3, 32, 32))[1][0].shape == (1, 2, 17, 17)


@pytest.mark.parametrize("kind", ALL)
@pytest.mark.parametrize("shape", [(1, 3, 30, 32), (1, 1, 32, 32), (3, 32, 32)])
def test_bad_images_are_an_error(adapters, kind, shape):
    adapter = adapters[kind]
    with pytest.raises(SemcomError):
        adapter.logits_and_attentions(torch.rand(shape))
    with pytest.raises(SemcomError):
        adapter.logits_on_patches(torch.rand(shape), torch.tensor([[0]]))


@pytest.mark.parametrize("kind", ALL)
def test_bad_keep_is_an_error(adapters, kind):
    adapter = adapters[kind]
    for keep in (torch.tensor([[0, 0]]), torch.tensor([[16]]), torch.tensor([[0.5]]), torch.tensor([[0], [1]])):
        with pytest.raises(SemcomError):
            adapter.logits_on_patches(images(adapter, 1), keep)


def test_missing_or_unusable_checkpoints_are_errors(tmp_path, saved):
    with pytest.raises(SemcomError, match="not found"):
        load_hf_vit(tmp_path / "missing")
    with pytest.raises(SemcomError, match="not found"):
        load_hf_vit(str(tmp_path / "missing"))
    (tmp_path / "file.bin").write_bytes(b"")
    with pytest.raises(SemcomError, match="not a model folder"):
        load_hf_vit(tmp_path / "file.bin")
    with pytest.raises(SemcomError, match="config"):
        load_hf_vit(tmp_path, local_files_only=True)  # an empty folder
    other = tmp_path / "mim"
    transformers.ViTConfig(architectures=["ViTForMaskedImageModeling"]).save_pretrained(other)
    with pytest.raises(SemcomError, match="supported"):
        load_hf_vit(other, local_files_only=True)


def test_normalisation_must_be_known(tmp_path, saved):
    folder = tmp_path / "bare"
    saved["vit"][1].save_pretrained(folder)  # no preprocessor_config.json
    with pytest.raises(SemcomError, match="pass mean and std"):
        load_hf_vit(folder, local_files_only=True)
    with pytest.raises(SemcomError, match="both"):
        load_hf_vit(folder, mean=MEAN, local_files_only=True)
    with pytest.raises(SemcomError, match="std"):
        load_hf_vit(folder, mean=MEAN, std=(0.1, 0.0, 0.1), local_files_only=True)
    adapter = load_hf_vit(folder, mean=(0.5,) * 3, std=(0.5,) * 3, local_files_only=True)
    assert torch.allclose(adapter.normalize.std, torch.tensor(0.5))


def test_only_supported_models_are_adapted():
    with pytest.raises(SemcomError, match="supports"):
        HFViTAdapter(torch.nn.Linear(2, 2), MEAN, STD)
    with pytest.raises(SemcomError, match="needs a ViT"):
        OwnViTAdapter(torch.nn.Linear(2, 2))


def test_adapter_state_is_the_models_state(adapters):
    adapter = adapters["deit-teacher"]
    assert set(adapter.state_dict()) == {f"model.{k}" for k in adapter.model.state_dict()}
