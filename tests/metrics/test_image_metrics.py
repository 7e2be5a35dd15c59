"""PSNR, SSIM, MS-SSIM against hand formulas and independent implementations; MetricMeter."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim as pm_ms_ssim
from skimage.metrics import structural_similarity
from torchmetrics.functional.image import (
    multiscale_structural_similarity_index_measure as tm_ms_ssim,
    peak_signal_noise_ratio as tm_psnr,
    structural_similarity_index_measure as tm_ssim,
)

from semcom.errors import SemcomError
from semcom.metrics import (
    MS_SSIM_WEIGHTS,
    PSNR_CAP_DB,
    MetricMeter,
    ms_ssim,
    ms_ssim_scales,
    ms_ssim_weights,
    psnr_db,
    ssim,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def smooth_images(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    """Image-like test inputs: random colours upsampled 8x (smooth regions and edges), in [0, 1]."""
    low = torch.rand(batch, 3, max(size // 8, 2), max(size // 8, 2), generator=gen(seed))
    return F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0.0, 1.0)


def degrade(x: torch.Tensor, noise_std: float, seed: int = 1) -> torch.Tensor:
    return (x + noise_std * torch.randn(x.shape, generator=gen(seed))).clamp(0.0, 1.0)


# ---------------------------------------------------------------- PSNR


def test_psnr_matches_hand_formula_per_image():
    x = smooth_images(3, 32)
    x_hat = torch.stack([degrade(x[0], 0.01), degrade(x[1], 0.05), degrade(x[2], 0.2)])
    expected = []
    for a, b in zip(x.double().numpy(), x_hat.double().numpy()):
        mse = np.mean((a - b) ** 2)
        expected.append(10.0 * math.log10(1.0 / mse))
    result = psnr_db(x, x_hat)
    assert result.shape == (3,) and result.dtype == torch.float32
    np.testing.assert_allclose(result.numpy(), expected, rtol=0, atol=1e-4)
    assert result[0] > result[1] > result[2]


def test_masked_psnr_equals_psnr_of_the_selected_pixels_only():
    x = smooth_images(2, 32)
    y = degrade(x, 0.05)
    mask = torch.zeros(2, 32, 32, dtype=torch.bool)
    mask[0, :10, :20] = True
    mask[1, 5:, 3:7] = True
    y_outside = torch.where(mask[:, None], y, torch.rand_like(y))  # what lies outside must not matter
    got = psnr_db(x, y_outside, mask=mask)
    for b in range(2):
        sel = mask[b]
        mse = (x[b][:, sel] - y[b][:, sel]).pow(2).mean()
        assert got[b].item() == pytest.approx((-10 * torch.log10(mse)).item(), abs=1e-4)
    full = torch.ones(32, 32, dtype=torch.bool)  # a [H, W] mask applies to every image
    assert torch.allclose(psnr_db(x, y, mask=full), psnr_db(x, y), atol=1e-5)


@pytest.mark.parametrize("mask, message", [
    (torch.ones(32, 32), "bool"),
    (torch.ones(2, 16, 16, dtype=torch.bool), "does not match"),
    (torch.zeros(32, 32, dtype=torch.bool), "no pixel"),
])
def test_masked_psnr_rejects_bad_masks(mask, message):
    x = smooth_images(2, 32)
    with pytest.raises(SemcomError, match=message):
        psnr_db(x, x, mask=mask)


def test_psnr_known_value_and_data_range():
    x = torch.zeros(1, 3, 4, 4)
    assert psnr_db(x, x + 0.1).item() == pytest.approx(20.0, abs=1e-5)  # MSE 0.01
    y = smooth_images(2, 16)
    y_hat = degrade(y, 0.1)
    torch.testing.assert_close(psnr_db(255 * y, 255 * y_hat, data_range=255), psnr_db(y, y_hat), rtol=0, atol=1e-4)


def test_psnr_matches_torchmetrics_per_image():
    x = smooth_images(4, 48)
    x_hat = degrade(x, 0.07)
    reference = tm_psnr(x_hat, x, data_range=1.0, reduction="none", dim=(1, 2, 3))
    torch.testing.assert_close(psnr_db(x, x_hat), reference, rtol=0, atol=1e-4)


def test_psnr_of_identical_images_is_capped_with_finite_gradient():
    x = smooth_images(2, 16)
    x_hat = x.clone().requires_grad_(True)
    value = psnr_db(x, x_hat)
    assert torch.equal(value, torch.full((2,), PSNR_CAP_DB))
    value.sum().backward()
    assert torch.isfinite(x_hat.grad).all()
    # just above the cap the formula applies
    tiny = x + 1e-4  # MSE 1e-8 -> 80 dB
    assert psnr_db(x, tiny).sub(80.0).abs().max() < 0.01


def test_psnr_accepts_a_single_image():
    x = smooth_images(1, 16)
    x_hat = degrade(x, 0.1)
    single = psnr_db(x[0], x_hat[0])
    assert single.shape == (1,)
    torch.testing.assert_close(single, psnr_db(x, x_hat))


# ---------------------------------------------------------------- SSIM


def skimage_ssim(x: torch.Tensor, x_hat: torch.Tensor) -> list:
    return [
        structural_similarity(
            a.double().numpy(), b.double().numpy(), channel_axis=0, data_range=1.0,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )
        for a, b in zip(x, x_hat)
    ]  # fmt: skip


def test_ssim_matches_scikit_image():
    x = smooth_images(3, 40)
    x_hat = torch.stack([degrade(x[0], 0.02), degrade(x[1], 0.1), degrade(x[2], 0.3)])
    result = ssim(x, x_hat)
    assert result.shape == (3,)
    np.testing.assert_allclose(result.numpy(), skimage_ssim(x, x_hat), rtol=0, atol=1e-4)
    assert result[0] > result[1] > result[2]


def test_ssim_matches_torchmetrics_on_the_valid_window_positions():
    # torchmetrics pads by reflection and averages the SSIM map over the whole image; cropping its map to
    # the positions where the 11-px window fits (5 px each side) gives the standard value we return.
    x = smooth_images(2, 64)
    x_hat = degrade(x, 0.08)
    _, full_map = tm_ssim(x_hat, x, data_range=1.0, reduction="none", return_full_image=True)
    reference = full_map[..., 5:-5, 5:-5].mean(dim=(1, 2, 3))
    torch.testing.assert_close(ssim(x, x_hat), reference, rtol=0, atol=1e-4)


def test_ssim_of_identical_images_is_one_and_symmetric():
    x = smooth_images(2, 32)
    torch.testing.assert_close(ssim(x, x), torch.ones(2), rtol=0, atol=1e-6)
    y = degrade(x, 0.1)
    torch.testing.assert_close(ssim(x, y), ssim(y, x), rtol=0, atol=1e-6)
    assert torch.all(ssim(x, y) < 0.99)


def test_ssim_on_a_natural_image():
    from skimage.data import astronaut

    x = torch.from_numpy(astronaut()).permute(2, 0, 1).float().div(255.0)[:, ::4, ::4].contiguous()  # 128 px
    blurred = F.avg_pool2d(x.unsqueeze(0), 3, stride=1, padding=1, count_include_pad=False)[0]
    np.testing.assert_allclose(ssim(x, blurred).numpy(), skimage_ssim(x[None], blurred[None]), rtol=0, atol=1e-4)


# ---------------------------------------------------------------- MS-SSIM


def reference_ms_ssim(x: torch.Tensor, y: torch.Tensor, weights) -> torch.Tensor:
    """Independent float64 MS-SSIM (Wang et al. 2003): per channel, 11-px Gaussian (sigma 1.5) over valid
    positions, 2x2 mean downsampling; prod relu(cs_j)^w_j * relu(ssim_last)^w_last, then channel mean.
    Only for sides divisible by 2^(scales - 1)."""
    x, y = x.double(), y.double()
    channels = x.shape[1]
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    g = g / g.sum()
    window = torch.outer(g, g).expand(channels, 1, 11, 11)
    c1, c2 = 0.01**2, 0.03**2
    result = torch.ones(x.shape[:2], dtype=torch.float64)
    for level, weight in enumerate(weights):
        blur = lambda t: F.conv2d(t, window, groups=channels)  # noqa: E731
        mx, my = blur(x), blur(y)
        vx, vy, cov = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        cs = (2 * cov + c2) / (vx + vy + c2)
        if level < len(weights) - 1:
            result = result * cs.mean(dim=(2, 3)).clamp_min(0) ** weight
            b, c, h, w = x.shape
            x = x.reshape(b, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5))
            y = y.reshape(b, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5))
        else:
            full = (2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs
            result = result * full.mean(dim=(2, 3)).clamp_min(0) ** weight
    return result.mean(dim=1)


def test_ms_ssim_scale_count_and_weights():
    table = {11: 1, 20: 1, 21: 2, 40: 2, 41: 3, 64: 3, 80: 3, 81: 4, 112: 4, 160: 4, 161: 5, 512: 5}
    for side, scales in table.items():
        assert ms_ssim_scales(side, side + 7) == scales
        assert ms_ssim_scales(side + 7, side) == scales
    assert ms_ssim_weights(5) == MS_SSIM_WEIGHTS  # standard weights untouched (they sum to 1.0001)
    for scales in range(1, 6):
        weights = ms_ssim_weights(scales)
        assert len(weights) == scales and sum(weights) == pytest.approx(1.0, abs=2e-4)
        ratios = [w / m for w, m in zip(weights, MS_SSIM_WEIGHTS)]
        assert ratios == pytest.approx([ratios[0]] * scales)  # same relative weights as the standard ones
    assert ms_ssim_weights(3) == pytest.approx((0.0711, 0.4530, 0.4760), abs=1e-4)


def test_ms_ssim_with_five_scales_equals_pytorch_msssim_and_reference():
    x = smooth_images(2, 176)
    x_hat = degrade(x, 0.1)
    result = ms_ssim(x, x_hat)
    assert result.shape == (2,)
    torch.testing.assert_close(result, pm_ms_ssim(x, x_hat, data_range=1.0, size_average=False), rtol=0, atol=1e-6)
    torch.testing.assert_close(result.double(), reference_ms_ssim(x, x_hat, MS_SSIM_WEIGHTS), rtol=0, atol=1e-5)


@pytest.mark.parametrize("size, scales", [(176, 5), (112, 4)])
def test_ms_ssim_agrees_with_torchmetrics_for_large_images(size, scales):
    # torchmetrics averages channels before the product and pads the last scale's SSIM by reflection;
    # both effects stay below 1e-4 once the coarsest scale is >= 14 px.
    x = smooth_images(2, size, seed=3)
    x_hat = degrade(x, 0.1, seed=4)
    reference = tm_ms_ssim(x_hat, x, data_range=1.0, reduction="none", betas=ms_ssim_weights(scales))
    torch.testing.assert_close(ms_ssim(x, x_hat), reference, rtol=0, atol=1e-4)


@pytest.mark.parametrize("size, scales", [(112, 4), (64, 3), (32, 2), (16, 1)])
def test_ms_ssim_adapts_scales_for_small_images(size, scales):
    assert ms_ssim_scales(size, size) == scales
    x = smooth_images(2, size)
    x_hat = degrade(x, 0.05)
    result = ms_ssim(x, x_hat)
    expected = reference_ms_ssim(x, x_hat, ms_ssim_weights(scales))
    torch.testing.assert_close(result.double(), expected, rtol=0, atol=1e-5)
    # the standard 5-scale weights would give a different value: the renormalisation matters
    assert (reference_ms_ssim(x, x_hat, MS_SSIM_WEIGHTS[:scales]) - expected).abs().max() > 1e-3
    if scales == 1:  # one scale is plain SSIM (clipped at 0)
        torch.testing.assert_close(result, ssim(x, x_hat).clamp_min(0), rtol=0, atol=1e-6)


def test_ms_ssim_identical_is_one_and_falls_with_noise():
    x = smooth_images(1, 96)
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(1), rtol=0, atol=1e-6)
    values = [ms_ssim(x, degrade(x, s)).item() for s in (0.01, 0.05, 0.2)]
    assert values[0] > values[1] > values[2] > 0


def test_metrics_are_differentiable():
    x = smooth_images(2, 48)
    x_hat = degrade(x, 0.1).requires_grad_(True)
    for metric in (psnr_db, ssim, ms_ssim):
        x_hat.grad = None
        metric(x, x_hat).sum().backward()
        assert torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "x, x_hat, message",
    [
        (torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 17), "same shape"),
        (torch.zeros(2, 3, 16, 16), torch.zeros(1, 3, 16, 16), "same shape"),
        (torch.zeros(1, 3, 16, 16), torch.full((1, 3, 16, 16), float("nan")), "NaN or inf"),
        (torch.full((1, 3, 16, 16), float("inf")), torch.zeros(1, 3, 16, 16), "NaN or inf"),
        (torch.zeros(0, 3, 16, 16), torch.zeros(0, 3, 16, 16), "empty"),
        (torch.zeros(1, 3, 16, 16, dtype=torch.uint8), torch.zeros(1, 3, 16, 16, dtype=torch.uint8), "float"),
        (torch.zeros(16, 16), torch.zeros(16, 16), r"\[B, C, H, W\]"),
        (torch.zeros(1, 1, 3, 16, 16), torch.zeros(1, 1, 3, 16, 16), r"\[B, C, H, W\]"),
        (np.zeros((1, 3, 16, 16)), torch.zeros(1, 3, 16, 16), "torch.Tensor"),
    ],
    ids=["width", "batch", "nan", "inf", "empty", "uint8", "2-D", "5-D", "numpy"],
)
def test_bad_images_raise_one_line_semcom_error(x, x_hat, message):
    for metric in (psnr_db, ssim, ms_ssim):
        with pytest.raises(SemcomError, match=message) as info:
            metric(x, x_hat)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("data_range", [0.0, -1.0, float("nan"), float("inf"), "1", True])
def test_bad_data_range_raises(data_range):
    x = smooth_images(1, 16)
    for metric in (psnr_db, ssim, ms_ssim):
        with pytest.raises(SemcomError, match="data_range"):
            metric(x, x, data_range=data_range)


def test_images_too_small_for_the_ssim_window_raise():
    x = torch.rand(1, 3, 10, 64, generator=gen())
    with pytest.raises(SemcomError, match="at least 11x11 px, got 10x64"):
        ssim(x, x)
    with pytest.raises(SemcomError, match="at least 11x11 px, got 10x64"):
        ms_ssim(x, x)
    assert psnr_db(x, x).shape == (1,)  # PSNR has no window


# ---------------------------------------------------------------- MetricMeter


def test_metric_meter_is_a_mean_over_examples():
    meter = MetricMeter()
    batches = [torch.tensor([30.0, 32.0, 34.0]), torch.tensor([20.0]), torch.tensor([25.0, 27.0])]
    for values in batches:
        meter.update("psnr_db", values)
    meter.update_all({"ssim": torch.tensor([0.5, 0.7]), "bpp": 0.25})
    assert meter.mean("psnr_db") == pytest.approx(torch.cat(batches).mean().item())
    assert meter.count("psnr_db") == 6 and meter.count("bpp") == 1
    assert meter.means() == pytest.approx({"psnr_db": 28.0, "ssim": 0.6, "bpp": 0.25})
    assert "psnr_db=28" in repr(meter)
    meter.reset()
    assert meter.means() == {} and meter.count("psnr_db") == 0


def test_metric_meter_rejects_non_finite_and_unknown_names():
    meter = MetricMeter()
    with pytest.raises(SemcomError, match="NaN or inf"):
        meter.update("psnr_db", torch.tensor([30.0, float("inf")]))
    with pytest.raises(SemcomError, match="NaN or inf"):
        meter.update("psnr_db", float("nan"))
    with pytest.raises(SemcomError, match="no values recorded for metric 'lpips'"):
        meter.mean("lpips")
    with pytest.raises(SemcomError, match="no values given"):
        meter.update("ssim", torch.tensor([]))
    assert meter.count("psnr_db") == 0  # a rejected update leaves no trace
