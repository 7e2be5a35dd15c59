"""The plain-torch ViT: config checks, token-subset inference, attention maps, bad input."""

import pytest
import torch

from semcom.errors import SemcomError
from semcom.vit.grid import patch_grid, patchify, unpatchify
from semcom.vit.model import VIT_PRESETS, ViT, ViTConfig

TINY = ViTConfig(dim=16, depth=2, heads=2, image_size=16, patch=4)


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    model = ViT(TINY).eval()
    with torch.no_grad():  # large position embeddings: a token at the wrong position changes the logits
        model.pos_embed.normal_()
    return model


def test_presets_are_cifar_sized():
    for cfg in VIT_PRESETS.values():
        assert (cfg.image_size, cfg.patch, cfg.num_patches, cfg.grid, cfg.classes) == (32, 4, 64, (8, 8), 10)
    assert (VIT_PRESETS["client"].dim, VIT_PRESETS["client"].depth, VIT_PRESETS["client"].heads) == (96, 4, 3)
    assert (VIT_PRESETS["server"].dim, VIT_PRESETS["server"].depth, VIT_PRESETS["server"].heads) == (192, 6, 6)


@pytest.mark.parametrize("bad", [{"image_size": 30}, {"patch": 0}, {"heads": 3}, {"mean": (0.5, 0.5)},
                                 {"std": (1.0, 0.0, 1.0)}, {"depth": True}, {"mlp_ratio": 0}])
def test_bad_config_is_an_error(bad):
    with pytest.raises(SemcomError):
        ViTConfig(**{"dim": 16, "depth": 2, "heads": 2, **bad})


def test_config_turns_json_lists_into_tuples():
    assert ViTConfig(dim=16, depth=1, heads=2, mean=[0.5] * 3, std=[0.25] * 3).mean == (0.5, 0.5, 0.5)


def test_keeping_every_patch_in_any_order_equals_full_inference(vit):
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        full = vit(x)
        in_order = vit(x, keep=torch.arange(16).expand(3, -1))
        shuffled = vit(x, keep=torch.stack([torch.randperm(16) for _ in range(3)]))
    assert torch.allclose(in_order, full, atol=1e-5) and torch.allclose(shuffled, full, atol=1e-5)


def test_a_subset_reads_only_its_patches_at_their_own_positions(vit):
    x = torch.rand(2, 3, 16, 16)
    keep = torch.tensor([[0, 5, 10], [3, 6, 15]])
    changed = x.clone()
    changed[:, :, 4:8, 8:12] = torch.rand(2, 3, 4, 4)  # patch 6: kept in image 1 only
    with torch.no_grad():
        before, after = vit(x, keep=keep), vit(changed, keep=keep)
        moved = vit(x, keep=torch.tensor([[1, 5, 10], [3, 6, 15]]))
    assert torch.allclose(before[0], after[0]) and not torch.allclose(before[1], after[1])
    assert not torch.allclose(before[0], moved[0])


def test_subset_equals_the_image_with_only_those_tokens(vit):
    """keep=[i, j] is the transformer on CLS + tokens i, j: check against an explicit forward pass."""
    x = torch.rand(1, 3, 16, 16)
    keep = torch.tensor([[9, 2]])
    with torch.no_grad():
        cls, patches = vit.embed(x)
        h = torch.cat((cls, patches[:, [9, 2]]), dim=1)
        for block in vit.blocks:
            h, _ = block(h)
        expected = vit.head(vit.norm(h[:, 0]))
        assert torch.allclose(vit(x, keep=keep), expected, atol=1e-6)


def test_attentions_are_probabilities_over_the_kept_tokens(vit):
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        logits, probs = vit(x, attentions=True)
        sub_logits, sub_probs = vit(x, keep=torch.tensor([[1, 2, 3], [4, 5, 6]]), attentions=True)
    assert torch.allclose(logits, vit(x), atol=1e-5)  # explicit softmax path == fused attention path
    assert len(probs) == TINY.depth and probs[0].shape == (2, 2, 17, 17)
    assert sub_logits.shape == (2, 10) and sub_probs[-1].shape == (2, 2, 4, 4)
    for p in probs + sub_probs:
        assert (p >= 0).all() and torch.allclose(p.sum(-1), torch.ones(()), atol=1e-5)


@pytest.mark.parametrize("keep, match", [
    (torch.tensor([[0, 1], [2, 2]]), "repeats"),
    (torch.tensor([[0, 16], [1, 2]]), "out of range"),
    (torch.tensor([[0, -1], [1, 2]]), "out of range"),
    (torch.tensor([[0.0, 1.0], [1.0, 2.0]]), "integer"),
    (torch.tensor([[True, False], [True, False]]), "integer"),
    (torch.tensor([0, 1]), r"\[2, k\]"),
    (torch.tensor([[0, 1]]), r"\[2, k\]"),
    (torch.zeros(2, 0, dtype=torch.long), r"\[2, k\]"),
    ([[0, 1], [1, 2]], "LongTensor"),
])
def test_bad_keep_is_an_error(vit, keep, match):
    with pytest.raises(SemcomError, match=match):
        vit(torch.rand(2, 3, 16, 16), keep=keep)


@pytest.mark.parametrize("x", [torch.rand(1, 3, 16, 15), torch.rand(1, 1, 16, 16), torch.rand(3, 16, 16),
                               torch.randint(0, 255, (1, 3, 16, 16), dtype=torch.uint8)])
def test_bad_images_are_an_error(vit, x):
    with pytest.raises(SemcomError):
        vit(x)


def test_patch_grid_rejects_sizes_that_do_not_tile():
    assert patch_grid(32, 16, 4) == (8, 4)
    with pytest.raises(SemcomError, match="whole number"):
        patch_grid(30, 32, 4)


def test_patchify_is_row_major_and_unpatchify_inverts_it():
    x = torch.arange(2 * 3 * 8 * 12).reshape(2, 3, 8, 12)
    patches = patchify(x, 4)
    assert patches.shape == (2, 6, 3, 4, 4)
    assert torch.equal(patches[1, 4], x[1, :, 4:8, 4:8])  # row 1, col 1 of a 2 x 3 grid
    assert torch.equal(unpatchify(patches, (2, 3)), x)
