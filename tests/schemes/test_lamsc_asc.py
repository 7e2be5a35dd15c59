"""ASC: the latent mask learns (straight-through gradient, rate weight), and channel uses are counted exactly."""

import pytest
import torch

from semcom.channels import AWGN, normalize_power
from semcom.coding.masks import decode_mask, encode_mask
from semcom.errors import SemcomError
from semcom.jscc import JSCC, JSCCConfig
from semcom.schemes.lamsc import ASC, MaskNet, channel_uses, straight_through


def toy_latent(batch=4, channels=8, side=4):
    """Channels with growing scale, so some elements matter more to the distortion than others."""
    g = torch.Generator().manual_seed(1)
    return torch.randn(batch, channels, side, side, generator=g) * torch.linspace(0.1, 2.0, channels)[None, :, None, None]


def distortion(out, latent):
    return (out["latent"] - latent).pow(2).mean() / latent.pow(2).mean()


def test_straight_through_is_hard_forward_identity_backward():
    p = torch.tensor([0.2, 0.5, 0.51, 0.9], requires_grad=True)
    mask = straight_through(p)
    assert mask.tolist() == [0.0, 0.0, 1.0, 1.0]
    (mask * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert p.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("group", [1, 4, None])
def test_distortion_gradient_reaches_every_masknet_parameter(group):
    torch.manual_seed(0)
    asc = ASC(8, group=group, hidden=16)
    latent = toy_latent()
    out = asc(latent)
    assert out["mask"].shape == latent.shape and out["rate"].shape == (4,)
    assert out["keep_prob"].shape == (4, 8 // (group or 8), 4, 4)
    assert set(out["mask"].unique().tolist()) <= {0.0, 1.0}
    # No rate term, so any gradient comes through the hard mask. (With the latent's own MSE as distortion the
    # gradient would be exactly 0 while every element is kept; a decoder's reconstruction error is not.)
    decoder = torch.nn.Conv2d(8, 3, 1)
    torch.nn.functional.mse_loss(decoder(out["latent"]), torch.rand(4, 3, 4, 4)).backward()
    for name, p in asc.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def kept_after_training(rate_weight, group, steps=30):
    torch.manual_seed(0)
    asc = ASC(8, group=group, hidden=16)
    latent = toy_latent()
    opt = torch.optim.Adam(asc.parameters(), lr=0.05)
    for _ in range(steps):
        out = asc(latent)
        loss = distortion(out, latent) + rate_weight * out["rate"].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, mask, uses = asc.apply(latent)
    return int(mask.sum()), uses


@pytest.mark.parametrize("group", [1, None])
def test_a_larger_rate_weight_keeps_fewer_elements(group):
    kept = [kept_after_training(w, group)[0] for w in (0.0, 0.5, 2.0)]
    assert kept[0] == 4 * 8 * 16  # distortion only: everything is worth sending
    assert kept[0] > kept[1] > kept[2]
    assert kept[2] < 0.25 * kept[0]


def test_channel_uses_on_a_hand_built_mask():
    # 64 decisions: 10 dropped, then 54 kept. Run-length payload: mode bit 1, gamma(11) = 0001011 (7 bits),
    # gamma(55) = 00000110111 (11 bits) -> 19 bits -> 3 bytes = 24 bits; the raw bitmap would take 65 bits.
    decisions = torch.zeros(1, 4, 4, 4, dtype=torch.bool)
    decisions.view(-1)[10:] = True
    assert len(encode_mask(decisions[0])) == 3
    uses = channel_uses(decisions)
    assert uses.data.tolist() == [27] and uses.side_bits.tolist() == [24] and uses.side.tolist() == [24]
    assert uses.total.tolist() == [51]
    assert channel_uses(decisions, side_bits_per_use=2.0).side.tolist() == [12]
    assert channel_uses(decisions, group=4).data.tolist() == [108]  # 216 real values
    odd = decisions.clone()
    odd.view(-1)[10] = False  # 53 kept: ceil(53 / 2) = 27; runs 11, 53 -> same payload length
    assert channel_uses(odd).data.tolist() == [27]
    # Alternating decisions do not compress: mode bit 0 + 16-bit bitmap = 17 bits -> 3 bytes.
    alternating = (torch.arange(16) % 2 == 1).reshape(1, 16)
    assert encode_mask(alternating[0])[0] >> 7 == 0 and channel_uses(alternating).side_bits.tolist() == [24]
    assert channel_uses(alternating).data.tolist() == [4]


def test_mask_payload_round_trips_and_rejects_truncation():
    g = torch.Generator().manual_seed(0)
    cases = [torch.rand(3, 5, 7, generator=g) > 0.5, torch.zeros(2, 3, dtype=torch.bool), torch.ones(40, dtype=torch.bool),
             torch.rand(192, 8, 8, generator=g) > 0.97]
    for mask in cases:
        assert torch.equal(decode_mask(encode_mask(mask), tuple(mask.shape)), mask)
    sparse = encode_mask(cases[3])
    assert len(sparse) < 192 * 8 * 8 / 8 / 2  # a sparse mask costs far less than its bitmap
    with pytest.raises(SemcomError):
        decode_mask(sparse[:2], (192, 8, 8))
    with pytest.raises(SemcomError, match="empty"):
        decode_mask(b"", (2, 2))


def test_apply_masks_the_latent_and_counts_what_it_sends():
    torch.manual_seed(0)
    latent = toy_latent()
    asc = ASC(8, group=2, hidden=16)
    masked, mask, uses = asc.apply(latent)
    assert mask.dtype == torch.bool and mask.shape == latent.shape
    assert torch.equal(mask[:, 0::2], mask[:, 1::2])  # one decision per pair of channels
    assert (masked[~mask] == 0).all() and torch.equal(masked[mask], latent[mask])
    assert uses.data.tolist() == [(int(m.sum()) + 1) // 2 for m in mask]
    assert torch.equal(uses.total, uses.data + uses.side)
    assert uses.side_bits.tolist() == [8 * len(encode_mask(m[0::2])) for m in mask]


def test_composes_with_the_jscc_latent_power_normalisation_and_a_channel():
    torch.manual_seed(0)
    jscc = JSCC(JSCCConfig(widths=(8, 8, 8), latent_channels=8, adaptive=False)).eval()
    x = torch.rand(2, 3, 32, 32)
    side = jscc.side_info(torch.tensor([10.0, 10.0]), torch.tensor([8, 8]))
    with torch.no_grad():
        latent = jscc.encoder(x, side)
    asc = ASC(8, group=1, hidden=8)
    masked, mask, uses = asc.apply(latent)
    z = normalize_power(masked, mask)
    per_symbol = torch.stack([z[i][mask[i]].pow(2).sum() / (mask[i].sum() / 2) for i in range(2)])
    assert torch.allclose(per_symbol, torch.ones(2), atol=1e-4)  # unit power over the sent elements only
    z_hat = AWGN()(z, 10.0, torch.Generator().manual_seed(0)) * mask
    assert (z_hat[~mask] == 0).all() and uses.data.tolist() == [int(m.sum() + 1) // 2 for m in mask]


def test_bad_arguments():
    with pytest.raises(SemcomError, match="must divide"):
        MaskNet(8, group=3)
    with pytest.raises(SemcomError, match=r"latent must be \[B, 8, h, w\]"):
        ASC(8)(torch.rand(1, 4, 2, 2))
    with pytest.raises(SemcomError, match="finite"):
        ASC(8)(torch.full((1, 8, 2, 2), float("nan")))
    with pytest.raises(SemcomError, match="side_bits_per_use"):
        ASC(8, side_bits_per_use=0)
    with pytest.raises(SemcomError, match="bool"):
        channel_uses(torch.ones(1, 4))
