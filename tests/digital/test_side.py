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
