"""SemanticNN with link adaptation: coded blocks are exact at the server, uncoded fallback below every MCS."""

import pytest
import torch

from semcom.digital.mcs import TARGET_SUCCESS, get_mcs
from semcom.digital.transport import channel_uses_needed, mcs_for_payload
from semcom.errors import SemcomError
from semcom.schemes.splitnn.link import adaptive_accuracy
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import Variant, get_variant
from semcom.splitting import CifarResNet, SplitModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    split = SplitModel(CifarResNet(20).eval(), "layer2")
    return SemanticNN(split, get_variant("semanticnn-c8b3-la").codec_config(32), "qpsk", "awgn").eval()


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=gen), torch.randint(0, 10, (12,), generator=gen)


def test_coded_blocks_arrive_exact_and_cost_the_mcs_channel_uses(model, data):
    images, labels = data
    r = adaptive_accuracy(model, images, labels, 10.0, "awgn", 20.0, decode=True)
    mcs = mcs_for_payload(model.bits, 10.0, "awgn", TARGET_SUCCESS)
    assert r.mcs == mcs.name and r.delivered == 1.0
    assert r.channel_uses == channel_uses_needed(mcs, model.bits)
    x, clean = images.float() / 255, torch.full((12,), 20.0)
    exact = model.server_logits(model.device_payload(x, clean), clean).argmax(1)
    assert r.accuracy == pytest.approx(100 * (exact == labels).float().mean().item())


def test_below_every_mcs_the_bits_go_uncoded(model, data):
    images, labels = data
    assert mcs_for_payload(model.bits, -12.0, "awgn") is None
    r = adaptive_accuracy(model, images, labels, -12.0, "awgn", 20.0, seed=3)
    gen = torch.Generator().manual_seed(3)
    noisy = model(images.float() / 255, -12.0, gen)["logits"].argmax(1)
    assert r.mcs is None and r.channel_uses == model.channel_uses == 768
    assert r.accuracy == pytest.approx(100 * (noisy == labels).float().mean().item())


def test_lost_blocks_count_as_wrong(model, data, monkeypatch):
    import semcom.schemes.splitnn.link as link
    from semcom.digital.transport import Delivery

    monkeypatch.setattr(link, "send_bytes", lambda data, mcs, *a: Delivery(None, mcs.name, 1, 1, 960, "decode failed"))
    r = adaptive_accuracy(model, *data, 10.0, "awgn", 20.0)
    assert r.accuracy == 0.0 and r.delivered == 0.0 and r.channel_uses == 960
    assert get_mcs(r.mcs)


def test_adaptive_link_bad_input(model, data):
    with pytest.raises(SemcomError, match="bit channel is 'awgn'"):
        adaptive_accuracy(model, *data, 10.0, "rayleigh", 20.0)
    with pytest.raises(SemcomError, match="unknown link"):
        Variant("x", {"bits": 3}, link="carrier pigeon")
    with pytest.raises(SemcomError, match="digital codec"):
        Variant("x", {"bits": 0}, link="adaptive")


def test_adaptive_variant_must_be_trained_up_to_its_clean_snr():
    from semcom.schemes.splitnn.train import SplitTrainConfig

    with pytest.raises(SemcomError, match="train it up to there"):
        SplitTrainConfig(out="x", variant="semanticnn-c8b3-la", snr_range=(-6.0, 7.0))
    SplitTrainConfig(out="x", variant="semanticnn-c8b3-la", snr_range=(-6.0, 20.0))
