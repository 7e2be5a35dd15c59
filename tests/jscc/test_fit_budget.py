"""``fit_budget``: the CBR as a hard budget for the analog symbols *and* the side block that carries the power scale
(SoftCast, the hybrid JSCC). The most maps / components that fit are sent, the count is exact, and an image too
small for even one map beside its side block is a one-line error."""

from __future__ import annotations

import pytest
import torch

from semcom.channels import AWGN
from semcom.digital.side import IdealSideLink, SideLink, fit_to_budget
from semcom.errors import SemcomError
from semcom.experiments.evaluate import SchemeSpec
from semcom.jscc.hybrid import HybridConfig, HybridJSCC
from semcom.jscc.softcast import SIDE_BITS_SCALE, SoftCast, SoftCastTransmitter, dct_basis
from semcom.jscc.transmitter import JSCCTransmitter

SNR = 4.0


def image(h: int, w: int, seed: int = 1) -> torch.Tensor:
    low = torch.rand(1, 3, max(h // 8, 1), max(w // 8, 1), generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)[0].clamp(0, 1)


@pytest.fixture(scope="module")
def hybrid():
    torch.manual_seed(0)
    return HybridJSCC(HybridConfig(width=8, latent_channels=48)).eval()


def test_fit_to_budget_is_the_largest_count_that_fits():
    assert fit_to_budget(100, 10, lambda k: 9 * k + 10, "x") == 10
    assert fit_to_budget(99, 10, lambda k: 9 * k + 10, "x") == 9
    assert fit_to_budget(19, 10, lambda k: 9 * k + 10, "x") == 1
    with pytest.raises(SemcomError, match="side block needs 10 channel uses"):
        fit_to_budget(18, 10, lambda k: 9 * k + 10, "x")


def test_hybrid_fits_symbols_and_side_block_into_the_cbr(hybrid):
    x = image(180, 240)  # a CamVid frame: padded to 192 x 240, 12 x 15 latent positions
    positions, maps = 12 * 15, 48  # CBR 1/32 of 1536 values per 16 x 16 block
    budget = maps * positions // 2  # 4320: what an ADJSCC sends at 1/32
    side = SideLink("awgn").channel_uses(SIDE_BITS_SCALE, SNR)
    assert side > 0
    plain = JSCCTransmitter(hybrid, AWGN(), 1 / 32).transmit(x, SNR, torch.Generator().manual_seed(0))
    assert plain.channel_uses == budget + side  # default: the side block on top of the budget
    fit = JSCCTransmitter(hybrid, AWGN(), 1 / 32, fit_budget=True).transmit(x, SNR, torch.Generator().manual_seed(0))
    k = (budget - side) * 2 // positions
    assert fit.details["maps_sent"] == k < maps and fit.details["channel_use_budget"] == budget
    assert fit.channel_uses == k * positions // 2 + side <= budget < (k + 1) * positions // 2 + side
    assert fit.ok and fit.x_hat.shape == x.shape
    ideal = JSCCTransmitter(hybrid, AWGN(), 1 / 32, side_link="ideal", fit_budget=True).transmit(x, SNR)
    assert ideal.details["maps_sent"] == (budget - SIDE_BITS_SCALE) * 2 // positions  # 16 uses at 1 bit per use
    assert ideal.channel_uses <= budget


def test_hybrid_fit_budget_refuses_an_image_too_small_for_its_side_block(hybrid):
    sender = JSCCTransmitter(hybrid, AWGN(), 1 / 32, fit_budget=True)
    with pytest.raises(SemcomError, match=r"CBR 1/32 on a 64x96 image: its side block needs 960 channel uses"):
        sender.transmit(image(64, 96), SNR)
    assert JSCCTransmitter(hybrid, AWGN(), 1 / 32).transmit(image(64, 96), SNR).channel_uses > 576  # off: counted on top


def test_softcast_fits_components_and_side_block_into_the_cbr():
    softcast = SoftCast(dct_basis())  # DCT: k float16 variances travel too, so the side grows with k
    x = image(180, 240)
    blocks = 12 * 15
    budget = blocks * 96 // 2
    fit = SoftCastTransmitter(softcast, AWGN(), 1 / 16, fit_budget=True).transmit(x, SNR)
    k = fit.details["components"]
    side = SideLink("awgn").channel_uses(softcast.side_bits(k), SNR)
    assert k < 96 and fit.channel_uses == -(-blocks * k // 2) + side <= budget
    assert fit.details["channel_use_budget"] == budget
    more = -(-blocks * (k + 1) // 2) + SideLink("awgn").channel_uses(softcast.side_bits(k + 1), SNR)
    assert more > budget
    assert SoftCastTransmitter(softcast, AWGN(), 1 / 16).transmit(x, SNR).details["components"] == 96


def test_fit_budget_is_a_scheme_option_for_the_analog_schemes_only():
    import semcom

    assert SchemeSpec("jscc", fit_budget=True).label == "jscc-fit"
    assert SchemeSpec("softcast", "dct", fit_budget=True, side_link="ideal").label == "softcast-dct-ideal-side-fit"
    with pytest.raises(SemcomError, match="fit_budget applies to jscc and softcast"):
        SchemeSpec("digital", "jpeg", fit_budget=True)
    scheme = semcom.load_scheme("softcast", cbr=1 / 16, transform="dct", fit_budget=True)
    assert scheme.fit_budget and scheme.describe()["fit_budget"]
    with pytest.raises(SemcomError, match="takes no option fit_budget"):
        semcom.load_scheme("digital", fit_budget=True)
    assert isinstance(IdealSideLink().channel_uses(16), int)
