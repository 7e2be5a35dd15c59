import pytest
import torch

from semcom.errors import SemcomError
from semcom.schemes.splitnn.codec import SplitCodec, SplitCodecConfig


@pytest.mark.parametrize("bits", [0, 2, 3])
def test_codec_shapes_power_bits_and_gradients(bits):
    torch.manual_seed(0)
    codec = SplitCodec(SplitCodecConfig(feature_channels=16, channels=8, stride=4, bits=bits, width=16))
    f = torch.randn(2, 16, 32, 32)
    z, idx = codec.encode(f)
    assert z.shape == (2, 8, 8, 8)
    if bits:
        assert idx.shape == z.shape and idx.max() < 2**bits
        assert torch.allclose(z, codec.quantizer.centers[idx])
    else:
        assert idx is None and torch.allclose((z**2).mean(dim=(1, 2, 3)), torch.full((2,), 0.5), atol=1e-4)
    f_hat = codec.decoder(z, torch.tensor([0.0, 7.0]))
    assert f_hat.shape == f.shape
    loss = ((f_hat - f) ** 2).mean() + (codec.quantizer.fit_loss(codec.symbols(f)) if bits else 0)
    loss.backward()
    assert codec.encoder.body[0].weight.grad.abs().sum() > 0
    if bits:
        assert codec.quantizer.centers.grad.abs().sum() > 0  # the levels learn (through fit_loss)
    assert codec.bits_per_example((16, 32, 32)) == 8 * 8 * 8 * (bits or 32)


def test_decoder_output_depends_on_snr():
    torch.manual_seed(0)
    codec = SplitCodec(SplitCodecConfig(feature_channels=4, channels=2, stride=2, bits=2, width=8))
    z, _ = codec.encode(torch.randn(1, 4, 8, 8))
    assert not torch.allclose(codec.decoder(z, torch.tensor([-6.0])), codec.decoder(z, torch.tensor([7.0])))


def test_bad_config():
    with pytest.raises(SemcomError):
        SplitCodecConfig(feature_channels=16, bits=9)
    with pytest.raises(SemcomError):
        SplitCodecConfig(feature_channels=0)


def tiny_split():
    from semcom.splitting import SplitModel
    from semcom.splitting.resnet_cifar import CifarResNet

    torch.manual_seed(0)
    return SplitModel(CifarResNet(depth=8), "layer1")


@pytest.mark.parametrize("bits, modulation", [(0, "qpsk"), (2, "qpsk"), (3, "16qam")])
def test_semanticnn_end_to_end_counts_and_gradients(bits, modulation):
    from semcom.schemes.splitnn.model import SemanticNN

    model = SemanticNN(tiny_split(), SplitCodecConfig(feature_channels=16, channels=4, stride=4, bits=bits, width=8),
                       modulation=modulation)
    x = torch.rand(2, 3, 32, 32)
    out = model(x, torch.tensor([3.0, 20.0]), torch.Generator().manual_seed(0))
    assert out["logits"].shape == (2, 10)
    symbols = 4 * 8 * 8
    assert out["bits"] == symbols * (bits or 32)
    per_symbol = {"qpsk": 2, "16qam": 4}[modulation]
    assert out["channel_uses"] == (symbols // 2 if bits == 0 else -(-symbols * bits // per_symbol))
    out["logits"].sum().backward()
    assert model.codec.encoder.body[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.split.parameters())  # classifier stays frozen


def test_bit_errors_grow_as_snr_falls():
    from semcom.schemes.splitnn.model import SemanticNN

    model = SemanticNN(tiny_split(), SplitCodecConfig(feature_channels=16, channels=8, stride=2, bits=3, width=8))
    x = torch.rand(4, 3, 32, 32)
    features = model.split.head(x)
    z, idx = model.codec.encode(features)
    errors = []
    for snr in (-6.0, 0.0, 20.0):
        z_hat, _ = model.transmit(z, idx, torch.full((4,), snr), torch.Generator().manual_seed(1))
        errors.append((z_hat != z).float().mean().item())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3
