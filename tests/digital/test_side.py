"""Side payloads on a real MCS by default (issue 20, item 3), the ideal count as a labelled option, and the one
reliability target every digital link uses (item 5)."""

import inspect

import pytest
import torch

from semcom.channels import AWGN, build_channel
from semcom.digital import TARGET_SUCCESS
from semcom.digital.mcs import get_mcs
from semcom.digital.side import IdealSideLink, SideLink, build_side_link, digital_channel_name
from semcom.errors import SemcomError

torch.set_num_threads(1)


def test_a_64_bit_mask_at_0_db_costs_a_whole_codeword_not_64_channel_uses():
    link = SideLink("awgn")
    assert link.target_success == TARGET_SUCCESS == 0.99
    mcs = link.mcs(64, 0.0)
    assert mcs == get_mcs("qpsk-1/4")  # the cheapest MCS predicted to decode 99 % of the time at 0 dB
    assert link.channel_uses(64, 0.0) == 960 and IdealSideLink().channel_uses(64, 0.0) == 64
    assert link.channel_uses(0, 0.0) == 0


def test_the_side_block_is_really_decoded_and_can_be_lost():
    link, channel, data = SideLink("awgn"), AWGN(), bytes(range(9))
    ok = link.send(data, channel, 10.0, torch.Generator().manual_seed(0))
    assert ok.ok and ok.received == data and ok.codewords == 1 and ok.channel_uses == link.channel_uses(72, 10.0)
    lost = link.send(data, channel, -15.0, torch.Generator().manual_seed(0))  # below every MCS: the most robust one
    assert not lost.ok and lost.received is None and lost.mcs == "qpsk-1/4" and lost.channel_uses == 960
    ideal = IdealSideLink().send(data, channel, -15.0)
    assert ideal.ok and ideal.received == data and ideal.channel_uses == 72 and ideal.mcs is None


def test_side_links_by_name_and_channel():
    assert isinstance(build_side_link(), SideLink) and build_side_link().kind == "ldpc"
    assert isinstance(build_side_link("ideal", "rician"), IdealSideLink)
    assert build_side_link("ldpc", "rayleigh").channel_name == "rayleigh"
    with pytest.raises(SemcomError, match="awgn and rayleigh only"):
        build_side_link("ldpc", "rician")
    with pytest.raises(SemcomError, match="unknown side link"):
        build_side_link("pigeon")
    with pytest.raises(SemcomError, match="bits_per_use"):
        IdealSideLink(0)
    assert digital_channel_name(AWGN()) == "awgn" and digital_channel_name(build_channel("rayleigh")) == "rayleigh"
    for name in ("rayleigh-block", "rician"):
        with pytest.raises(SemcomError, match="no BLER table"):
            digital_channel_name(build_channel(name))


def test_every_digital_link_defaults_to_the_one_reliability_target():
    from semcom.digital.chain import DigitalChain
    from semcom.digital.mcs import select_mcs
    from semcom.digital.transport import mcs_for_payload
    from semcom.schemes.splitnn.digital import DigitalFeatureLink
    from semcom.schemes.splitnn.link import adaptive_accuracy
    from semcom.schemes.splitnn.scheme import SplitInference

    for fn in (select_mcs, mcs_for_payload, DigitalChain, DigitalFeatureLink, SideLink, adaptive_accuracy,
               SplitInference):
        assert inspect.signature(fn).parameters["target_success"].default == TARGET_SUCCESS, fn
    assert DigitalChain("jpeg").target_success == DigitalFeatureLink().target_success == 0.99


def test_chase_combining_of_qpsk_copies_is_the_llr_of_the_averaged_symbol():
    from semcom.digital.mcs import build_link

    link = build_link(get_mcs("qpsk-1/4"))
    g = torch.Generator().manual_seed(0)
    sent = link.modulate(link.scramble(link.encode(torch.randint(0, 2, (2, link.k), generator=g).float())))
    nv = torch.full((2, 1), 0.8)
    copies = [sent + (0.8 / 2) ** 0.5 * torch.complex(torch.randn(sent.shape, generator=g),
                                                       torch.randn(sent.shape, generator=g)) for _ in range(4)]
    summed = sum(link.demodulate(c, nv) for c in copies)
    averaged = link.demodulate(sum(copies) / 4, nv / 4)  # MRC on AWGN: 4 copies = one at 4x the SNR
    torch.testing.assert_close(summed, averaged, rtol=1e-4, atol=1e-3)


def test_below_every_mcs_the_side_codeword_is_repeated_until_it_is_reliable():
    link, channel, data = SideLink("awgn", lengths=(1920, 240)), AWGN(), b"\x12\x34"
    assert link.plan(16, 10.0)[1] == 1  # an MCS is reliable once: no repeats
    mcs, repeats = link.plan(16, -5.0)  # nothing is reliable once; 4 short codewords (+6 dB) cost less than 2 long
    assert (mcs.name, repeats) == ("qpsk-1/4-n240", 4) and link.channel_uses(16, -5.0) == 480
    long_only = SideLink("awgn")
    assert (long_only.mcs(16, -5.0).name, long_only.plan(16, -5.0)[1]) == ("qpsk-1/4", 2)
    assert long_only.plan(16, 0.0)[1] == 1 and long_only.channel_uses(16, 0.0) == 960  # reliable once: as before
    assert link.plan(16, -1.0) == (mcs, 2)  # 2 short codewords (240 uses) beat one long one (960)
    assert link.channel_uses(16, -5.0) == 4 * mcs.symbols_per_codeword
    got = [link.send(data, channel, -5.0, torch.Generator().manual_seed(s)) for s in range(20)]
    assert sum(d.ok for d in got) >= 19 and all(d.received == data for d in got if d.ok)
    assert got[0].repeats == 4 and got[0].channel_uses == link.channel_uses(16, -5.0)
    assert got[0].mcs_label == f"{mcs.name} x4"
    once = [SideLink("awgn", lengths=(1920, 240), max_repeats=1).send(data, channel, -5.0,
                                                                      torch.Generator().manual_seed(s))
            for s in range(20)]
    assert sum(d.ok for d in once) <= 2  # what the side block did before: sent once and lost
    fast = SideLink("awgn", lengths=(1920, 240), decode=False)
    assert sum(fast.send(data, channel, -5.0, torch.Generator().manual_seed(s)).ok for s in range(50)) >= 48
    rayleigh = SideLink("rayleigh", lengths=(1920, 240))
    assert rayleigh.plan(16, -5.0)[1] > repeats  # fading needs more copies (the table ignores the diversity gain)
    with pytest.raises(SemcomError, match="repeats must be a positive integer"):
        SideLink("awgn", max_repeats=0)
