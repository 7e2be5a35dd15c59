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
    ((f_hat - f) ** 2).mean().backward()
    assert codec.encoder.body[0].weight.grad.abs().sum() > 0
    if bits:
        assert codec.quantizer.centers.grad.abs().sum() > 0
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
