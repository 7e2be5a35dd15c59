"""LAM-SC end to end: segments -> ASI -> semantic image -> JSCC latent -> ASC -> channel -> receiver."""

import math

import pytest
import torch

from semcom.channels import AWGN, build_channel
from semcom.digital.side import IdealSideLink, SideLink
from semcom.errors import SemcomError
from semcom.jscc import build_jscc
from semcom.schemes.lamsc import ASC, ASIScorer, Segmenter, SlicSegmenter
from semcom.schemes.lamsc.scheme import SCALE_BITS, LamSC, block_aligned, block_mask, coverage, region_metrics

CBR = 24 / 1536  # 24 latent maps of the tiny JSCC


def tiny_jscc():
    torch.manual_seed(0)
    return build_jscc("adjscc", widths=(8, 12, 16), latent_channels=24).eval()


class BoxSegmenter(Segmenter):
    """Three fixed rectangles: a deterministic knowledge base for the tests."""

    name = "boxes"

    def _masks(self, image):
        h, w = image.shape[1:]
        masks = torch.zeros(3, h, w, dtype=torch.bool)
        masks[0, :32, :32] = True  # 1024 px
        masks[1, 40:64, :48] = True  # 1152 px
        masks[2, :24, 40:64] = True  # 576 px
        return masks, {}


def image(seed=0):
    low = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=(64, 64), mode="bilinear")[0].clamp(0, 1)


def forced_scorer(logits):
    """An ASIScorer whose scores are sigmoid(logits) whatever the input (head weights zeroed)."""
    scorer = ASIScorer(k=3)
    with torch.no_grad():
        scorer.head.weight.zero_()
        scorer.head.bias.copy_(torch.tensor(logits))
    return scorer


def forced_asc(keep: float):
    asc = ASC(24, init_keep=keep)
    with torch.no_grad():
        asc.masknet.net[2].weight.zero_()
    return asc


def full_uses(h=64, w=64, c=24):
    return c * math.ceil(h / 16) * math.ceil(w / 16) // 2


def test_without_asi_and_asc_it_sends_all_k_segments_at_the_whole_image_cost():
    lamsc = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), k=3)
    x = image()
    result = lamsc.transmit(x, 10.0, torch.Generator().manual_seed(0))
    assert result.fallback is None and result.selected.tolist() == [True, True, True]
    assert result.channel_uses == result.data_uses == full_uses() and result.side_uses == 0
    assert torch.equal(result.region, result.segments.union())
    assert torch.equal(result.semantic, block_aligned(x, result.region))
    exact = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), k=3, block_aligned=False).transmit(x, 10.0)
    assert torch.equal(exact.semantic, x * exact.region[None])  # the seed's pixel-exact semantic image
    assert result.x_hat.shape == x.shape and torch.isfinite(result.x_hat).all()


def test_asi_selects_segments_above_the_threshold():
    x = image()
    lamsc = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), scorer=forced_scorer([3.0, -3.0, 2.0]), k=3)
    result = lamsc.transmit(x, 10.0)
    # area order: segment 0 = the 1152 px bar (scored 0.95), 1 = the 1024 px square (0.05), 2 = 576 px (0.88)
    assert result.selected.tolist() == [True, False, True]
    assert result.scores.shape == (3,)
    assert torch.equal(result.region, result.segments.masks[0] | result.segments.masks[2])
    none = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), scorer=forced_scorer([-3.0, -1.0, -2.0]), k=3)
    assert none.transmit(x, 10.0).selected.tolist() == [False, True, False]  # none passes: the best one alone


def test_asc_counts_kept_values_and_the_mask_payload_exactly():
    x = image()
    keep_all = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), asc=forced_asc(0.9), k=3,
                     side_link=IdealSideLink()).transmit(x, 5.0)
    assert keep_all.data_uses == full_uses()
    # 16 positions all kept: run-length mode "1" + gamma(0 + 1) = "1" + gamma(16 + 1) = "000010001" is 11 bits
    # (the raw bitmap would be 17), padded to 2 bytes = 16 bits at 1 bit per channel use, plus the two
    # float16 scale factors
    assert keep_all.side_uses == 16 + SCALE_BITS and keep_all.channel_uses == keep_all.data_uses + keep_all.side_uses
    drop_all = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), asc=forced_asc(0.1), k=3).transmit(x, 5.0)
    assert drop_all.data_uses == 0 and drop_all.channel_uses == drop_all.side_uses > 0
    assert torch.equal(drop_all.x_hat, torch.zeros_like(x))  # every block dropped: the receiver paints background


def test_coverage_is_the_covered_fraction_of_each_block_with_padding_outside():
    region = torch.zeros(1, 20, 40, dtype=torch.bool)
    region[0, :16, :8] = True  # half of block (0, 0)
    region[0, 16:, 32:] = True  # 4 x 8 of block (1, 2), the rest of which is padding
    cov = coverage(region, (2, 3))
    assert cov.shape == (1, 1, 2, 3)
    assert cov[0, 0].tolist() == [[0.5, 0.0, 0.0], [0.0, 0.0, 32 / 256]]


def test_asc_with_coverage_side_maps_gets_them_from_the_region():
    asc = ASC(24, init_keep=0.9, side_channels=1)
    with torch.no_grad():  # keep a position exactly when some of its block is selected
        asc.masknet.net[2].weight.zero_()
        asc.masknet.net[0].weight.zero_()
        asc.masknet.net[0].bias.zero_()
        asc.masknet.net[0].weight[0, 24, 1, 1] = 1.0
        asc.masknet.net[2].weight[0, 0, 1, 1] = 100.0
        asc.masknet.net[2].bias.fill_(-1.0)
    result = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), asc=asc, k=3).transmit(image(), 5.0)
    blocks = coverage(result.region[None], (4, 4))[0, 0] > 0
    assert result.data_uses == 24 * int(blocks.sum()) // 2
    with pytest.raises(SemcomError, match="side maps"):
        asc.masknet(torch.zeros(1, 24, 4, 4))


def test_block_aligned_keeps_whole_touched_blocks():
    x = image()
    region = torch.zeros(64, 64, dtype=torch.bool)
    region[3, 20] = True  # one pixel in block (0, 1)
    out = block_aligned(x, region)
    assert torch.equal(out[:, :16, 16:32], x[:, :16, 16:32])
    out[:, :16, 16:32] = 0
    assert torch.equal(out, torch.zeros_like(x))


def test_an_asc_that_keeps_everything_changes_nothing_but_the_side_cost():
    x = image()
    plain = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), k=3).transmit(x, 3.0, torch.Generator().manual_seed(4))
    masked = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), asc=forced_asc(0.9), k=3,
                   side_link=IdealSideLink()).transmit(x, 3.0, torch.Generator().manual_seed(4))
    assert torch.allclose(plain.x_hat, masked.x_hat, atol=1e-6)
    assert masked.data_uses == plain.data_uses and masked.side_uses > 0


def test_dropped_positions_decode_as_the_background_latent():
    # dropping the blocks of an all-black image must reproduce the black image the decoder sees when they are
    # sent noise-free: the receiver fills them with the shared background latent
    jscc = tiny_jscc()
    lamsc = LamSC(jscc, AWGN(), CBR, BoxSegmenter(), asc=forced_asc(0.1), k=3)
    bg = lamsc.background(40.0)
    black = jscc.latent(torch.zeros(1, 3, 128, 128), 40.0, CBR)
    assert bg.shape == (24,) and torch.allclose(bg, black[0, :, 4, 4])


def test_block_mask_marks_the_image_blocks_of_sent_positions():
    keep = torch.zeros(1, 4, 2, 3, dtype=torch.bool)
    keep[0, 1, 0, 2] = True
    keep[0, 3, 1, 0] = True
    m = block_mask(keep, (20, 40))
    assert m.shape == (20, 40)
    assert m[:16, 32:].eq(1).all() and m[16:, :16].eq(1).all()
    assert m.sum() == 16 * 8 + 4 * 16


def test_unsegmentable_image_falls_back_to_whole_image_jscc_and_says_so():
    lamsc = LamSC(tiny_jscc(), AWGN(), CBR, SlicSegmenter(), asc=forced_asc(0.1), k=5)
    flat = torch.full((3, 48, 48), 0.3)
    result = lamsc.transmit(flat, 10.0)
    assert "whole image" in result.fallback and "single-colour" in result.fallback
    assert result.region.all() and result.channel_uses == full_uses(48, 48) and result.side_uses == 0
    assert torch.equal(result.semantic, flat)


def test_same_seed_same_result_and_noise_matters():
    lamsc = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), k=3)
    x = image()
    a = lamsc.transmit(x, 0.0, torch.Generator().manual_seed(1)).x_hat
    b = lamsc.transmit(x, 0.0, torch.Generator().manual_seed(1)).x_hat
    c = lamsc.transmit(x, 0.0, torch.Generator().manual_seed(2)).x_hat
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_region_metrics_only_look_inside_the_region():
    x = image()
    region = torch.zeros(64, 64, dtype=torch.bool)
    region[:20] = True
    y = x.clone()
    y[:, 20:] = 1 - y[:, 20:]
    m = region_metrics(x, y, region)
    assert m["region_psnr_db"] == 100.0 and m["region_ms_ssim"] == pytest.approx(1.0)
    assert m["region_fraction"] == pytest.approx(20 / 64)


def test_bad_configurations_and_inputs_are_clear_errors():
    jscc = tiny_jscc()
    with pytest.raises(SemcomError, match="k=3"):
        LamSC(jscc, AWGN(), CBR, BoxSegmenter(), scorer=ASIScorer(k=3), k=5)
    with pytest.raises(SemcomError, match="latent maps"):
        LamSC(jscc, AWGN(), 12 / 1536, BoxSegmenter(), asc=ASC(24))
    with pytest.raises(SemcomError, match="threshold"):
        LamSC(jscc, AWGN(), CBR, BoxSegmenter(), threshold=1.5)
    with pytest.raises(SemcomError, match="not supported"):
        LamSC(jscc, AWGN(), 1.0, BoxSegmenter())
    lamsc = LamSC(jscc, AWGN(), CBR, BoxSegmenter(), k=3)
    with pytest.raises(SemcomError, match="at least 16x16"):
        lamsc.transmit(torch.rand(3, 8, 40), 5.0)
    with pytest.raises(SemcomError, match="snr_db"):
        lamsc.transmit(image(), 99.0)
    with pytest.raises(SemcomError, match="NaN"):
        lamsc.transmit(torch.full((3, 64, 64), float("nan")), 5.0)


def test_given_segments_skip_the_segmenter_and_must_fit_the_image():
    lamsc = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), k=3)
    x = image()
    segments = BoxSegmenter().segments(x)
    a = lamsc.transmit(x, 5.0, torch.Generator().manual_seed(0))
    b = lamsc.transmit(x, 5.0, torch.Generator().manual_seed(0), segments=segments)
    assert torch.equal(a.x_hat, b.x_hat) and b.segments.masks.shape == segments.masks.shape
    with pytest.raises(SemcomError, match="do not belong"):
        lamsc.transmit(torch.rand(3, 48, 48), 5.0, segments=segments)


def test_side_payload_round_trips_and_refuses_bad_bytes():
    from semcom.schemes.lamsc.side import parse_side_payload, side_payload

    decisions = torch.rand(1, 4, 6, generator=torch.Generator().manual_seed(0)) > 0.5
    data = side_payload(decisions, 0.75, 1.5)
    back, gain, scale = parse_side_payload(data, (1, 4, 6))
    assert torch.equal(back, decisions) and (gain, scale) == (0.75, 1.5)
    for bad in (data[:3], data[:-4] + b"\x00\x00\x00\x00", b"\xff" + data[1:]):
        with pytest.raises(SemcomError):
            parse_side_payload(bad, (1, 4, 6))


def test_the_side_payload_is_really_sent_on_ldpc_by_default_and_the_ideal_count_is_an_option():
    from semcom.digital.mcs import TARGET_SUCCESS
    from semcom.digital.transport import channel_uses_needed, mcs_for_payload

    x = image()
    ideal = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), asc=forced_asc(0.9), k=3, side_link=IdealSideLink())
    real = LamSC(tiny_jscc(), AWGN(), CBR, BoxSegmenter(), asc=forced_asc(0.9), k=3)  # the default side link
    assert isinstance(real.side_link, SideLink) and real.side_link.target_success == TARGET_SUCCESS == 0.99
    assert real.describe()["side_link"] == "ldpc" and ideal.describe()["side_link"] == "ideal"
    a = ideal.transmit(x, 12.0, torch.Generator().manual_seed(1))
    b = real.transmit(x, 12.0, torch.Generator().manual_seed(1))
    assert not b.side_lost and b.data_uses == a.data_uses and "side" in b.seconds
    bits = a.side_uses  # the ideal count is the payload's bits at 1 bit per channel use
    assert b.side_uses == channel_uses_needed(mcs_for_payload(bits, 12.0, "awgn", 0.99), bits) >= 240 > bits
    # the receiver placed the values with the mask it decoded: the same blocks arrive as with the ideal side channel
    assert torch.equal(a.x_hat.abs().sum(0) > 0, b.x_hat.abs().sum(0) > 0)
    # far below every MCS's waterfall the side block fails: nothing can be placed, and the result says so
    lost = real.transmit(x, -15.0, torch.Generator().manual_seed(1))
    assert lost.side_lost and not lost.ok and lost.x_hat.abs().sum() == 0 and lost.side_uses > 0
    # the ideal count never loses it
    assert not ideal.transmit(x, -15.0, torch.Generator().manual_seed(1)).side_lost
    # fast Rayleigh has a BLER table, a Rician channel has none: the real side link cannot be priced there
    assert LamSC(tiny_jscc(), build_channel("rayleigh"), CBR, BoxSegmenter(), k=3).side_link.channel_name == "rayleigh"
    with pytest.raises(SemcomError, match="IdealSideLink"):
        LamSC(tiny_jscc(), build_channel("rician"), CBR, BoxSegmenter(), k=3)
