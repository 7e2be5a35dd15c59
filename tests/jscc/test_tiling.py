"""Tiled JSCC coding (large images): exactly the channel uses and symbols of the whole image, the same picture."""

from __future__ import annotations

import pytest
import torch

from semcom.channels import AWGN, build_channel
from semcom.jscc import build_jscc
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.tiling import spans, tile_grid
from semcom.jscc.transmitter import DEFAULT_CHECKPOINT, JSCCTransmitter, shared_jscc
from semcom.metrics import psnr_db


def photo_like(seed: int, h: int, w: int) -> torch.Tensor:
    low = torch.rand(1, 3, h // 8, w // 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0].clamp(0, 1)


def send(model, x, tile, margin, channel="awgn", snr_db=7.0, cbr=1 / 16):
    scheme = JSCCTransmitter(model, build_channel(channel), cbr, tile=tile, margin=margin)
    return scheme, scheme.transmit(x, snr_db, torch.Generator().manual_seed(3))


def test_spans_cover_the_axis_once_with_context():
    assert spans(5, 2, 1) == [(0, 2, 0, 3), (2, 4, 1, 5), (4, 5, 3, 5)]
    assert len(tile_grid((20, 9), 256, 64)) == 2  # 16 x 1 latent positions per tile
    with pytest.raises(ValueError, match="multiples of 16"):
        tile_grid((4, 4), 100, 64)


def test_with_a_margin_over_the_receptive_field_tiles_are_the_whole_image_exactly():
    torch.manual_seed(0)
    model = build_jscc("deepjscc", widths=(16, 16, 16), latent_channels=32).eval()  # no pooled gates: purely local
    x = photo_like(1, 200, 176)  # not a multiple of 16: padded like the whole image
    _, whole = send(model, x, None, 0, cbr=1 / 48)
    scheme, tiled = send(model, x, 64, 128, cbr=1 / 48)
    assert scheme.tiles((200, 176)) == 4 * 3
    assert tiled.channel_uses == whole.channel_uses
    assert torch.allclose(tiled.x_hat, whole.x_hat, atol=1e-5)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh"])
def test_shipped_adjscc_tiled_keeps_channel_uses_and_psnr(channel):
    """ADJSCC's attention gates pool over a tile instead of the whole image: the picture differs a little, the
    channel uses do not."""
    model, _ = shared_jscc(DEFAULT_CHECKPOINT)
    x = photo_like(2, 320, 288)
    whole_scheme, whole = send(model, x, None, 0, channel)
    scheme, tiled = send(model, x, 128, 64, channel)
    assert scheme.tiles((320, 288)) == 3 * 3 and whole_scheme.tiles((320, 288)) == 1
    assert tiled.channel_uses == whole.channel_uses == 96 * 20 * 18 // 2
    assert abs(psnr_db(x, tiled.x_hat).item() - psnr_db(x, whole.x_hat).item()) < 0.5
    assert psnr_db(whole.x_hat, tiled.x_hat).item() > 30


def test_small_images_are_not_tiled_and_progress_counts_every_tile():
    model, _ = shared_jscc(DEFAULT_CHECKPOINT)
    scheme = JSCCTransmitter(model, AWGN(), 1 / 16, tile=64, margin=16)
    calls = []
    scheme.progress = lambda done, total: calls.append((done, total))
    scheme.transmit(photo_like(3, 64, 64), 7.0)
    assert calls == []
    scheme.transmit(photo_like(3, 80, 144), 7.0)  # 2 x 3 tiles, encoder then decoder
    assert calls == [(i, 12) for i in range(1, 13)]


@pytest.mark.parametrize("conv", [False, True])
def test_hybrid_tiled_matches_its_transmit_batch(conv):
    """The tiled path re-implements the hybrid's forward around its two halves: it must agree with it."""
    torch.manual_seed(0)
    model = HybridJSCC(HybridConfig(width=16, latent_channels=96, conv=conv)).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    x = photo_like(4, 176, 160)
    for channel in ("awgn", "rayleigh"):
        ref = model.transmit_batch(x[None], 5.0, build_channel(channel), 1 / 16, torch.Generator().manual_seed(3))
        _, tiled = send(model, x, 64, 128 if conv else 0, channel, snr_db=5.0)
        # the model counts its scale at 16 ideal uses, the transmitter sends it on the side link
        assert tiled.ok and tiled.channel_uses == int(ref["channel_uses"][0]) - 16 + tiled.details["side_uses"]
        assert torch.allclose(tiled.x_hat, ref["x_hat"][0], atol=1e-5)
