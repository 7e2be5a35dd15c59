import pytest
import torch

from semcom.channels import AWGN
from semcom.errors import SemcomError
from semcom.jscc import FACTOR, GDN, JSCCConfig, build_jscc

SMALL = dict(widths=(8, 12, 16), latent_channels=24)


def small(name="adjscc"):
    torch.manual_seed(0)
    return build_jscc(name, **SMALL)


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_matches_formula(inverse):
    torch.manual_seed(0)
    gdn = GDN(4, inverse=inverse)
    with torch.no_grad():
        gdn.gamma_sqrt.add_(0.2 * torch.rand(4, 4))  # off-diagonal coupling
        gdn.beta_sqrt.mul_(1.5)
    x = torch.randn(2, 4, 5, 5)
    beta = gdn.beta_sqrt**2 + gdn.beta_min
    gamma = gdn.gamma_sqrt**2
    norm = torch.sqrt(beta[None, :, None, None] + torch.einsum("ij,bjhw->bihw", gamma, x * x))
    assert torch.allclose(gdn(x), x * norm if inverse else x / norm, atol=1e-5)


@pytest.mark.parametrize("name", ["deepjscc", "adjscc"])
@pytest.mark.parametrize("size", [(32, 48), (37, 50)])
def test_forward_shapes_power_and_channel_uses(name, size):
    model = small(name)
    x = torch.rand(2, 3, *size)
    cbr = 16 / (6 * FACTOR * FACTOR)  # 16 of 24 latent maps
    out = model(x, torch.tensor([3.0, 10.0]), AWGN(), cbr, torch.Generator().manual_seed(0))
    assert out["x_hat"].shape == x.shape
    assert 0 <= out["x_hat"].min() and out["x_hat"].max() <= 1
    hp, wp = -(-size[0] // FACTOR), -(-size[1] // FACTOR)
    assert out["channel_uses"].tolist() == [16 * hp * wp // 2] * 2
    # unused latent maps are zero, used ones have unit power per complex symbol
    z = out["z"]
    assert torch.all(z[:, 16:] == 0)
    power = (z[:, :16] ** 2).sum(dim=(1, 2, 3)) / (16 * hp * wp / 2)
    assert torch.allclose(power, torch.ones(2), atol=1e-4)


def test_per_example_cbr_sends_different_numbers_of_symbols():
    model = small()
    x = torch.rand(2, 3, 32, 32)
    out = model(x, 5.0, AWGN(), [8 / 1536, 24 / 1536])
    assert out["channel_uses"].tolist() == [8 * 4 // 2, 24 * 4 // 2]
    assert torch.all(out["z"][0, 8:] == 0) and torch.any(out["z"][1, 8:] != 0)


def test_encode_decode_path_equals_forward_without_noise():
    model = small().eval()
    x = torch.rand(1, 3, 40, 40)
    cbr = 12 / 1536

    class Identity(AWGN):
        def observe(self, zc, noise_var, generator=None):
            return zc, noise_var

    with torch.no_grad():
        ref = model(x, 7.0, Identity(), cbr)["x_hat"]
    z = model.encode(x, 7.0, cbr)
    assert z.is_complex() and z.shape == (1, 12 * 9 // 2)
    assert torch.allclose((z.abs() ** 2).mean(), torch.tensor(1.0), atol=1e-5)
    assert torch.allclose(model.decode(z, 7.0, cbr, (40, 40)), ref, atol=1e-5)


def test_adaptive_model_output_depends_on_snr_input():
    model = small("adjscc").eval()
    x = torch.rand(1, 3, 32, 32)
    z = model.encode(x, 0.0, 24 / 1536)
    a = model.decode(z, 0.0, 24 / 1536, (32, 32))
    b = model.decode(z, 15.0, 24 / 1536, (32, 32))
    assert not torch.allclose(a, b)


def test_gradients_reach_every_parameter():
    model = small()
    x = torch.rand(2, 3, 32, 32)
    out = model(x, torch.tensor([0.0, 12.0]), AWGN(), 24 / 1536)
    ((out["x_hat"] - x) ** 2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


@pytest.mark.parametrize("cbr", [0.0, -0.1, float("nan"), 1.0, 25 / 1536, 0.5 / 1536])
def test_unsupported_cbr_is_a_clear_error(cbr):
    with pytest.raises(SemcomError, match="CBR"):
        small().channels_for_cbr(cbr)


def test_bad_inputs():
    model = small()
    with pytest.raises(SemcomError, match="shape"):
        model(torch.rand(3, 32, 32), 5.0, AWGN(), 24 / 1536)
    with pytest.raises(SemcomError, match="NaN"):
        model(torch.full((1, 3, 32, 32), float("nan")), 5.0, AWGN(), 24 / 1536)
    with pytest.raises(SemcomError, match="snr"):
        model(torch.rand(1, 3, 32, 32), 55.0, AWGN(), 24 / 1536)
    with pytest.raises(SemcomError, match="received symbols"):
        model.decode(torch.zeros(1, 10, dtype=torch.complex64), 5.0, 24 / 1536, (32, 32))
    with pytest.raises(SemcomError):
        build_jscc("swinjscc")
    with pytest.raises(SemcomError):
        JSCCConfig(widths=(8, 8), latent_channels=4)


def test_decoder_survives_a_zero_forced_deep_fade():
    # A fast-Rayleigh ZF receiver returns symbols of amplitude ~1e3 in deep fades; the stacked inverse
    # GDNs are cubic and once returned NaN for such an input (seen on Kodak at 1 dB).
    model = small().eval()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    z = model.encode(x, 1.0, 24 / 1536)
    z[0, 0] = 3000 - 2500j
    x_hat = model.decode(z, 1.0, 24 / 1536, (32, 32))
    assert torch.isfinite(x_hat).all()


def test_linear_path_starts_at_zero_and_learns():
    plain = small()
    torch.manual_seed(0)
    linear = build_jscc("adjscc", linear_path=True, **SMALL)
    missing, unexpected = linear.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["decoder.linear.weight", "encoder.linear.weight"] and not unexpected
    x = torch.rand(2, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    a = plain(x, 5.0, AWGN(), 24 / 1536, torch.Generator().manual_seed(2))["x_hat"]
    b = linear(x, 5.0, AWGN(), 24 / 1536, torch.Generator().manual_seed(2))["x_hat"]
    assert torch.allclose(a, b, atol=1e-6)  # zero-initialised: the same function as the plain model
    (b - x).pow(2).mean().backward()
    assert linear.decoder.linear.weight.grad.abs().sum() > 0
