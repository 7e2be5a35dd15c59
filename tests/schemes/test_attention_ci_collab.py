"""Collaborative inference end to end on tiny random ViTs: gate extremes, costs, links, decoded requests."""

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.attention_ci import OwnViTAdapter, ViT, ViTConfig
from semcom.schemes.attention_ci.collab import RequestLink, client_pass, masks_for, run, server_logits


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    client = OwnViTAdapter(ViT(ViTConfig(dim=16, depth=2, heads=2, patch=8)).eval())
    server = OwnViTAdapter(ViT(ViTConfig(dim=24, depth=2, heads=2, patch=8)).eval())
    return client, server


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (12,), generator=g)


def test_gate_extremes_reproduce_client_alone_and_server_alone(models, data):
    client, server = models
    images, labels = data
    never = run(client, server, images, labels, "topk", {"k": 16}, "entropy", float("inf"))
    client_pred = client_pass(client, images).logits.argmax(1)
    assert torch.equal(never["predictions"], client_pred)
    assert never["offload_rate"] == 0 and never["bits_per_image"] == 0 and never["seed_cost"] == 0
    always = run(client, server, images, labels, "topk", {"k": 16}, "entropy", 0.0)
    with torch.no_grad():
        server_pred = server.logits_on_patches(images.float() / 255, torch.arange(16).repeat(12, 1)).argmax(1)
    assert torch.equal(always["predictions"], server_pred)
    assert always["offload_rate"] == 1 and always["seed_cost"] == 1 and abs(always["relative_bits"] - 1) < 1e-9


def test_fewer_patches_cost_fewer_bits_and_the_seed_metric(models, data):
    client, server = models
    images, labels = data
    half = run(client, server, images, labels, "topk", {"k": 8}, "margin", 0.0)
    assert half["patch_fraction"] == 0.5 and half["seed_cost"] == 0.5
    assert 0.3 < half["relative_bits"] < 0.7


def test_server_groups_images_by_patch_count(models, data):
    client, server = models
    images, _ = data
    masks = masks_for(client_pass(client, images).scores["cls"], "mass", delta=0.5)
    logits = server_logits(server, images, masks)
    for i in (0, 5):
        keep = masks[i].nonzero().flatten()[None]
        with torch.no_grad():
            assert torch.allclose(logits[i], server.logits_on_patches(images[i:i + 1].float() / 255, keep)[0], atol=1e-5)


def test_digital_link_decodes_requests_and_loses_them_at_low_snr(models, data):
    client, server = models
    images, labels = data
    good = run(client, server, images[:2], labels[:2], "topk", {"k": 4}, "entropy", 0.0,
               link=RequestLink("digital", "awgn", 20.0, decode=True), generator=torch.Generator().manual_seed(0))
    ideal = run(client, server, images[:2], labels[:2], "topk", {"k": 4}, "entropy", 0.0)
    assert good["delivered_rate"] == 1 and torch.equal(good["predictions"], ideal["predictions"])
    assert good["channel_uses_per_image"] > 0
    bad = run(client, server, images[:2], labels[:2], "topk", {"k": 4}, "entropy", 0.0,
              link=RequestLink("digital", "awgn", -15.0))
    assert bad["delivered_rate"] == 0  # nothing reliable at -15 dB: the client's answers stand
    assert torch.equal(bad["predictions"], client_pass(client, images[:2]).logits.argmax(1))


def test_bad_arguments(models, data):
    client, server = models
    images, labels = data
    with pytest.raises(SemcomError, match="unknown link"):
        RequestLink("carrier-pigeon")
    with pytest.raises(SemcomError, match="needs an SNR"):
        RequestLink("digital")
    with pytest.raises(SemcomError, match="attention score"):
        run(client, server, images, labels, "topk", {"k": 4}, "entropy", 0.5, score="gradcam")
    with pytest.raises(SemcomError, match="delta"):
        run(client, server, images, labels, "mass", {"delta": 1.5}, "entropy", 0.5)
    with pytest.raises(SemcomError, match="eta"):
        run(client, server, images, labels, "topk", {"k": 4}, "entropy", -1.0)


def test_sweep_rows_front_and_plot(models, data, tmp_path):
    from semcom.schemes.attention_ci.sweep import pareto_front, plot_pareto, sweep

    client, server = models
    images, labels = data
    rows = sweep(client, server, images, labels, selections=[("topk", {"k": 4}), ("mass", {"delta": 0.8})],
                 gates=("entropy", "margin"), offload_rates=(0.0, 0.5, 1.0))
    assert [r["scheme"] for r in rows[:2]] == ["client alone", "server alone (all patches)"]
    collab = rows[2:]
    assert len(collab) == 2 * 2 * 3
    assert {r["offload_rate"] for r in collab if r["target_offload_rate"] == 0.0} == {0.0}
    assert {r["offload_rate"] for r in collab if r["target_offload_rate"] == 1.0} == {1.0}
    half = [r for r in collab if r["target_offload_rate"] == 0.5]
    assert all(abs(r["offload_rate"] - 0.5) <= 1 / 12 for r in half)
    front = pareto_front(rows)
    assert all(a["relative_bits"] <= b["relative_bits"] and a["accuracy"] < b["accuracy"] for a, b in zip(front, front[1:]))
    plot_pareto(rows, tmp_path / "pareto.png")
    assert (tmp_path / "pareto.png").stat().st_size > 1000


def test_patch_jscc_learns_and_the_analog_link_counts_channel_uses(models, data, tmp_path):
    from semcom.channels import AWGN
    from semcom.vit.grid import patchify
    from semcom.coding.masks import encode_mask
    from semcom.digital.side import SideLink
    from semcom.schemes.attention_ci.patch_jscc import (
        AnalogPatchLink, PatchJSCC, PatchJSCCConfig, load_patch_jscc, train_patch_jscc,
    )

    client, server = models
    _, labels = data
    g = torch.Generator().manual_seed(2)  # smooth images: a patch code can learn them, unlike white noise
    smooth = torch.nn.functional.interpolate(torch.rand(12, 3, 4, 4, generator=g), size=32, mode="bilinear")
    images = (smooth * 255).round().to(torch.uint8)
    cfg = PatchJSCCConfig(patch=8, symbols=24, hidden=32)
    p = patchify(images[:4].float() / 255, 8)
    before = ((PatchJSCC(cfg)(p, torch.full((4,), 10.0), AWGN()) - p) ** 2).mean().item()
    path = train_patch_jscc(images, tmp_path / "pj.pt", steps=150, batch=8, cfg=cfg, log=lambda m: None)
    model = load_patch_jscc(path)
    with torch.no_grad():
        after = ((model(p, torch.full((4,), 10.0), AWGN(), torch.Generator().manual_seed(0)) - p) ** 2).mean().item()
    assert after < 0.5 * before
    # the default: the index mask as one real LDPC + QAM side block (at least a whole codeword), the ideal count an option
    link = AnalogPatchLink(model, "awgn", 10.0)
    ideal = AnalogPatchLink(model, "awgn", 10.0, side_link="ideal")
    assert link.link == "analog" and ideal.link == "analog-ideal-side"
    side = SideLink("awgn").channel_uses(8, 10.0)  # a 16-patch mask is at most 3 bytes; one codeword either way
    assert side == SideLink("awgn").channel_uses(24, 10.0) >= 240
    result = run(client, server, images, labels, "topk", {"k": 8}, "entropy", 0.0, link=link,
                 generator=torch.Generator().manual_seed(0))
    assert result["channel_uses_per_image"] == result["channel_uses_per_offloaded_image"] == 8 * 12 + side
    assert abs(result["relative_channel_uses"] - (8 * 12 + side) / (16 * 12 + side)) < 1e-9
    assert result["delivered_rate"] == 1.0
    mask_bits = 8 * len(encode_mask(torch.arange(16) < 8))  # what the ideal link counts at 1 bit per channel use
    ideal_result = run(client, server, images, labels, "topk", {"k": 8}, "entropy", 0.0, link=ideal,
                       generator=torch.Generator().manual_seed(0))
    assert 8 * 12 < ideal_result["channel_uses_per_image"] <= 8 * 12 + mask_bits + 8
    # far below every MCS the mask's block is lost: the server cannot place the patches, the client's answer stands
    lost = run(client, server, images, labels, "topk", {"k": 8}, "entropy", 0.0,
               link=AnalogPatchLink(model, "awgn", -15.0, side_decode=True), generator=torch.Generator().manual_seed(0))
    assert lost["delivered_rate"] == 0.0 and lost["channel_uses_per_image"] == 8 * 12 + 960
    with pytest.raises(SemcomError, match="8-pixel patches"):
        link.send(images, torch.ones(12, 64, dtype=torch.bool), torch.ones(12, dtype=torch.bool), 4)
