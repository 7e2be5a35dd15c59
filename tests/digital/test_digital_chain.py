import math

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from semcom.channels.theory import rayleigh_ergodic_capacity_bits
from semcom.digital.chain import FAILURE_FILL, CapacityBound, DigitalChain, from_uint8
from semcom.digital.codecs import get_codec
from semcom.digital.mcs import codewords_needed, get_mcs
from semcom.errors import SemcomError

torch.set_num_threads(1)

PIXELS = np.array(Image.fromarray(skimage.data.astronaut()).resize((64, 64)))
IMAGE = torch.from_numpy(PIXELS).permute(2, 0, 1).float() / 255.0
CBR = 1 / 6  # 2048 channel uses for 3 * 64 * 64 source dimensions


def psnr_db(x_hat: torch.Tensor, x: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((x_hat - x) ** 2).mean()))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("decode", [True, False])
def test_high_snr_delivers_the_codec_image(decode):
    result = DigitalChain("jpeg", "awgn", CBR, decode=decode).transmit(IMAGE, 25.0, gen())
    assert result.ok and result.details["reason"] is None and result.details["codewords_failed"] == 0
    assert result.details["channel_use_budget"] == 2048
    mcs = get_mcs(result.details["mcs"])
    assert result.details["codewords"] * mcs.symbols_per_codeword == result.channel_uses <= result.details["channel_use_budget"]
    assert 8 * result.details["payload_bytes"] <= result.details["info_bits_capacity"]
    codec = get_codec("jpeg")
    alone = from_uint8(codec.decode(codec.encode_to_budget(PIXELS, result.details["info_bits_capacity"] // 8)), IMAGE)
    assert torch.equal(result.x_hat, alone)
    assert psnr_db(result.x_hat, IMAGE) > 25.0


def test_rayleigh_high_snr_with_another_codec():
    result = DigitalChain("webp", "rayleigh", CBR).transmit(IMAGE, 35.0, gen())
    assert result.ok and psnr_db(result.x_hat, IMAGE) > 25.0


def test_very_low_snr_gives_grey_image():
    result = DigitalChain("jpeg", "awgn", CBR).transmit(IMAGE, -5.0, gen())
    assert not result.ok and result.details["reason"] == "no MCS fits" and result.details["mcs"] is None
    assert torch.equal(result.x_hat, torch.full_like(IMAGE, FAILURE_FILL))


@pytest.mark.parametrize("decode", [True, False])
def test_fixed_mcs_below_its_threshold_fails_to_decode(decode):
    result = DigitalChain("jpeg", "awgn", CBR, mcs="64qam-5/6", decode=decode).transmit(IMAGE, 5.0, gen())
    assert not result.ok and result.details["reason"] == "decode failed"
    assert result.details["codewords"] == codewords_needed(get_mcs("64qam-5/6"), 8 * result.details["payload_bytes"]) > 1
    assert result.details["codewords_failed"] >= 1
    assert torch.equal(result.x_hat, torch.full_like(IMAGE, FAILURE_FILL))


def test_tiny_budget_codec_cannot_fit():
    result = DigitalChain("jpeg", "awgn", 960 / IMAGE.numel()).transmit(IMAGE, 0.0, gen())
    assert not result.ok and result.details["reason"] == "codec cannot fit budget"
    assert result.details["mcs"] is not None and 0 < result.details["info_bits_capacity"] < 8 * 423


@pytest.mark.parametrize("decode", [True, False])
def test_same_generator_seed_same_outcome(decode):
    chain = DigitalChain("jpeg", "awgn", CBR, mcs="qpsk-1/2", decode=decode)
    outcomes = {(r.ok, r.details["codewords_failed"]) for r in (chain.transmit(IMAGE, 1.0, gen(7)) for _ in range(2))}
    assert len(outcomes) == 1


def test_capacity_bound_bits_and_advantage():
    n = 2048
    bound = CapacityBound("jpeg", "awgn", CBR).transmit(IMAGE, 10.0, gen())
    assert bound.details["info_bits_capacity"] == math.floor(n * math.log2(1 + 10 ** (10.0 / 10)))
    assert bound.ok and 8 * bound.details["payload_bytes"] <= bound.details["info_bits_capacity"] and bound.channel_uses <= n
    chain = DigitalChain("jpeg", "awgn", CBR).transmit(IMAGE, 10.0, gen())
    assert chain.ok and chain.details["info_bits_capacity"] < bound.details["info_bits_capacity"]
    assert psnr_db(bound.x_hat, IMAGE) > psnr_db(chain.x_hat, IMAGE)
    fading = CapacityBound("jpeg", "rayleigh", CBR).transmit(IMAGE, 10.0)
    assert fading.details["info_bits_capacity"] == math.floor(n * float(rayleigh_ergodic_capacity_bits(10.0)))
    tiny = CapacityBound("jpeg", "awgn", 0.01).transmit(IMAGE, -10.0)
    assert not tiny.ok and tiny.details["reason"] == "codec cannot fit budget"


@pytest.mark.parametrize("scheme", [DigitalChain, CapacityBound])
def test_bad_inputs_raise_semcom_error(scheme):
    chain = scheme("jpeg", "awgn", CBR)
    for image, match in [
        (IMAGE[None], r"\[3, H, W\]"), (IMAGE[:1], r"\[3, H, W\]"), (PIXELS, "torch.Tensor"),
        ((IMAGE * 255).to(torch.uint8), "float"), (IMAGE * 2, r"\[0, 1\]"), (IMAGE.clone().fill_(float("nan")), "NaN"),
    ]:
        with pytest.raises(SemcomError, match=match):
            chain.transmit(image, 10.0)
    for cbr in (0, -0.1, float("inf"), float("nan"), "1/6"):
        with pytest.raises(SemcomError, match="cbr"):
            scheme("jpeg", "awgn", cbr)  # the CBR is fixed when the scheme is built
    for snr in (float("nan"), 100.0, torch.tensor([1.0, 2.0])):
        with pytest.raises(SemcomError, match="snr_db"):
            chain.transmit(IMAGE, snr)
    with pytest.raises(SemcomError, match="choose one of jpeg"):
        scheme("png", "awgn")
    with pytest.raises(SemcomError, match="choose one of awgn, rayleigh"):
        scheme("jpeg", "rician")


def test_bad_chain_settings():
    with pytest.raises(SemcomError, match="choose one of qpsk-1/4"):
        DigitalChain("jpeg", "awgn", mcs="1024qam-1/2")
    with pytest.raises(SemcomError, match="target_success"):
        DigitalChain("jpeg", "awgn", target_success=0.0)
