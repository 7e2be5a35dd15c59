"""LAM-SC on the hybrid JSCC (``asc=BLOCKS``): the block-rule mask, exact channel uses (kept values + the mask and
scale on the side link), the receiver's background at dropped positions, the whole latent without a mask, a lost side
block, and the combinations that do not exist (a learned ASC or receiver on the hybrid, the block rule on the
ADJSCC)."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import AWGN
from semcom.digital.side import IdealSideLink, SideLink
from semcom.digital.transport import Delivery
from semcom.errors import SemcomError
from semcom.jscc import build_jscc
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.schemes.lamsc import ASC, Segmenter
from semcom.schemes.lamsc.scheme import BLOCKS, LamSC, block_mask, coverage
from semcom.schemes.lamsc.side import side_payload

CBR = 48 / 1536


class TwoBoxes(Segmenter):
    name = "boxes"

    def _masks(self, image):
        h, w = image.shape[1:]
        masks = torch.zeros(2, h, w, dtype=torch.bool)
        masks[0, :20, :20] = True  # touches 2 x 2 blocks of 16 x 16
        masks[1, 40:64, 40:64] = True  # touches 2 x 2 blocks
        return masks, {}


def hybrid():
    torch.manual_seed(0)
    model = HybridJSCC(HybridConfig(width=8, latent_channels=96)).eval()
    for p in model.parameters():
        p.data.add_(0.01 * torch.randn_like(p))
    return model


def image():
    low = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    return torch.nn.functional.interpolate(low, size=(64, 64), mode="bilinear")[0].clamp(0, 1)


class LostSide:
    kind = "ldpc"

    def send(self, data, channel, snr_db, generator=None):
        return Delivery(received=None, mcs="qpsk-1/4", codewords=1, codewords_failed=1, channel_uses=960,
                        reason="decode failed")


def test_the_block_rule_sends_the_touched_blocks_and_counts_them_exactly():
    lamsc = LamSC(hybrid(), AWGN(), CBR, TwoBoxes(), asc=BLOCKS, k=2, side_link=IdealSideLink())
    x = image()
    result = lamsc.transmit(x, 10.0, torch.Generator().manual_seed(0))
    positions = coverage(result.region[None], (4, 4)) > 0
    assert int(positions.sum()) == 8  # 2 x 2 blocks per box
    assert result.data_uses == 48 * 8 // 2 and result.data_uses < lamsc.whole_image_uses(64, 64) == 48 * 16 // 2
    bits = 8 * len(side_payload(positions[0, 0], 1.0, 1.0))
    assert result.side_uses == bits and result.channel_uses == result.data_uses + bits
    outside = block_mask(positions.expand(1, 48, 4, 4), (64, 64)) == 0
    assert (result.x_hat[:, outside] == 0).all() and result.x_hat[:, ~outside].abs().sum() > 0
    assert lamsc.describe()["jscc"] == "hybrid" and lamsc.describe()["asc"] == BLOCKS


def test_high_snr_keeps_what_the_hybrid_decodes_without_a_mask_inside_the_kept_blocks():
    """At 40 dB the kept blocks decode close to the hybrid's own decode of the semantic image (the dropped positions
    hold the background latent of a black block, which is what the semantic image has there)."""
    model = hybrid()
    masked = LamSC(model, AWGN(), CBR, TwoBoxes(), asc=BLOCKS, k=2, side_link=IdealSideLink())
    whole = LamSC(model, AWGN(), CBR, TwoBoxes(), asc=None, k=2, side_link=IdealSideLink())
    x = image()
    a = masked.transmit(x, 40.0, torch.Generator().manual_seed(0))
    b = whole.transmit(x, 40.0, torch.Generator().manual_seed(0))
    assert b.data_uses == whole.whole_image_uses(64, 64) and b.side_uses == 16  # the float16 scale alone
    kept = block_mask(coverage(a.region[None], (4, 4)).gt(0).expand(1, 48, 4, 4), (64, 64)).bool()
    assert (a.x_hat - b.x_hat)[:, kept].abs().mean() < 0.05


def test_a_lost_side_block_loses_the_image():
    lamsc = LamSC(hybrid(), AWGN(), CBR, TwoBoxes(), asc=BLOCKS, k=2, side_link=LostSide())
    result = lamsc.transmit(image(), 4.0, torch.Generator().manual_seed(0))
    assert result.side_lost and not result.ok and (result.x_hat == 0).all() and result.side_uses == 960


def test_the_default_side_link_is_the_real_ldpc_one():
    lamsc = LamSC(hybrid(), AWGN(), CBR, TwoBoxes(), asc=BLOCKS, k=2)
    assert isinstance(lamsc.side_link, SideLink)
    result = lamsc.transmit(image(), 10.0, torch.Generator().manual_seed(0))
    assert result.side_uses == SideLink().channel_uses(8 * len(side_payload(torch.ones(4, 4, dtype=torch.bool),
                                                                            1.0, 1.0)), 10.0)


def test_combinations_that_do_not_exist_are_one_line_errors():
    adjscc = build_jscc("adjscc", widths=(8, 12, 16), latent_channels=48).eval()
    with pytest.raises(SemcomError, match="block rule"):
        LamSC(hybrid(), AWGN(), CBR, TwoBoxes(), asc=ASC(48), k=2)
    with pytest.raises(SemcomError, match="block rule"):
        LamSC(hybrid(), AWGN(), CBR, TwoBoxes(), asc=BLOCKS, k=2, receiver=hybrid())
    with pytest.raises(SemcomError, match="mask on the hybrid"):
        LamSC(adjscc, AWGN(), CBR, TwoBoxes(), asc=BLOCKS, k=2)
    assert math.isclose(CBR * 1536, 48)


def test_build_lamsc_on_the_shipped_hybrid():
    from semcom.schemes.lamsc.evaluate import build_lamsc

    lamsc = build_lamsc("awgn", jscc="hybrid", asc="blocks")
    assert lamsc.describe()["jscc"] == "hybrid" and lamsc.cbr == 1 / 32 and lamsc.asc == BLOCKS
    assert build_lamsc("awgn", jscc="hybrid", asc="none").asc is None
    with pytest.raises(SemcomError, match="masks with asc='blocks'"):
        build_lamsc("awgn", jscc="hybrid", asc="shipped")
    with pytest.raises(SemcomError, match="no shipped hybrid JSCC for CBR"):
        build_lamsc("awgn", 3 / 64, jscc="hybrid", asc="blocks")
    with pytest.raises(SemcomError, match="jscc='hybrid'"):
        build_lamsc("awgn", asc="blocks")
