"""SemanticNN end to end on a (randomly initialised) CIFAR ResNet-20: payloads, bad input, checkpoints."""

import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.splitnn.checkpoint import checkpoint_fields, load_semanticnn
from semcom.schemes.splitnn.model import SemanticNN
from semcom.schemes.splitnn.variants import CIFAR_VARIANTS, get_variant
from semcom.splitting import CifarResNet, SplitModel
from semcom.training.checkpoint import atomic_save


@pytest.fixture(scope="module")
def split():
    torch.manual_seed(0)
    return SplitModel(CifarResNet(20).eval(), "layer2")


def build(split, name="semanticnn-c8b3", medium="awgn"):
    torch.manual_seed(1)
    return SemanticNN(split, get_variant(name).codec_config(32), "qpsk", medium).eval()


@pytest.mark.parametrize("name", list(CIFAR_VARIANTS))
def test_every_variant_runs_and_reports_its_cost(split, name):
    model = build(split, name)
    out = model(torch.rand(3, 3, 32, 32), torch.tensor([-6.0, 0.0, 7.0]), classify=True)
    assert out["logits"].shape == (3, 10) and out["features_hat"].shape == (3, 32, 16, 16)
    assert out["channel_uses"] == model.channel_uses
    if model.codec.cfg.bits:
        assert model.bits == model.codec.cfg.channels * 64 * model.codec.cfg.bits
        assert model.channel_uses == model.bits // 2  # QPSK
    else:
        assert model.channel_uses == model.codec.cfg.channels * 64 // 2  # two reals per complex use


def test_baselines_use_the_same_bandwidth_as_semanticnn(split):
    uses = {n: build(split, n).channel_uses for n in ("semanticnn-c8b3", "analog-c24", "adjscc-c24", "deepcod-c8b3")}
    assert set(uses.values()) == {768}


def test_server_decodes_device_payloads_like_the_noiseless_loop(split):
    model = build(split)
    x = torch.rand(4, 3, 32, 32)
    payloads = model.device_payload(x)
    assert [len(p) for p in payloads] == [model.bits // 8] * 4  # bits count matches payload length
    with torch.no_grad():
        looped = model(x, 40.0)["logits"]  # QPSK at 40 dB: no bit errors
    assert torch.allclose(model.server_logits(payloads, 40.0), looped, atol=1e-5)


def test_truncated_corrupted_or_analog_payloads_are_refused(split):
    model = build(split)
    payloads = model.device_payload(torch.rand(2, 3, 32, 32))
    with pytest.raises(SemcomError, match="payload 1: payload has"):
        model.server_logits([payloads[0], payloads[1][:-3]], 0.0)
    with pytest.raises(SemcomError, match="must be bytes"):
        model.server_logits([payloads[0], "text"], 0.0)
    with pytest.raises(SemcomError, match="no payloads"):
        model.server_logits([], 0.0)
    with pytest.raises(SemcomError, match="analog"):
        build(split, "analog-c24").device_payload(torch.rand(1, 3, 32, 32))


def test_bad_inputs_are_clear_errors(split):
    model = build(split)
    with pytest.raises(SemcomError, match="expects input"):
        model(torch.rand(2, 3, 64, 64), 0.0)
    with pytest.raises(SemcomError, match="snr"):
        model(torch.rand(2, 3, 32, 32), 99.0)
    with pytest.raises(SemcomError, match="feature channels"):
        SemanticNN(SplitModel(CifarResNet(20), "layer3"), get_variant("semanticnn-c8b3").codec_config(32))
    with pytest.raises(SemcomError, match="unknown splitnn variant"):
        get_variant("semanticnn-c99")


def test_checkpoint_round_trip_and_refusal_for_another_split(split, tmp_path):
    model = build(split)
    path = tmp_path / "c.pt"
    atomic_save({**checkpoint_fields(model, get_variant("semanticnn-c8b3")), "state_dict": model.codec.state_dict()}, path)
    loaded, meta = load_semanticnn(path, split=split, medium="rayleigh")
    assert meta["variant"]["name"] == "semanticnn-c8b3" and loaded.bit_channel.channel_name == "rayleigh"
    x = torch.rand(2, 3, 32, 32)
    assert loaded.device_payload(x) == model.device_payload(x)
    with pytest.raises(SemcomError, match="split at 'layer2'"):
        load_semanticnn(path, split=SplitModel(CifarResNet(20), "layer3"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SemcomError, match="cannot read checkpoint"):
        load_semanticnn(tmp_path / "bad.pt", split=split)
