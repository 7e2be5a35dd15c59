"""Full-reference image metrics as pure functions: one value per image, no hidden reduction.

Inputs are ``x`` (reference) and ``x_hat`` (reconstruction), float tensors [B, C, H, W] or one image
[C, H, W], values in [0, data_range] (default [0, 1]). Every function returns a float tensor [B]
(a [C, H, W] input counts as B = 1) and keeps autograd, so it can also serve as a loss.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from semcom.errors import SemcomError

PSNR_CAP_DB = 100.0
"""PSNR of identical images is +inf; ``psnr_db`` caps it here so that means over a set stay finite."""

SSIM_WIN_SIZE = 11
SSIM_WIN_SIGMA = 1.5

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Scale weights of Wang, Simoncelli & Bovik (2003), finest scale first."""


def check_images(x: torch.Tensor, x_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a reference/reconstruction pair and return both as [B, C, H, W] of one float dtype."""
    for name, t in (("x", x), ("x_hat", x_hat)):
        if not isinstance(t, torch.Tensor):
            raise SemcomError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise SemcomError(
                f"{name} must be a float tensor with values in [0, data_range], got {t.dtype} (for uint8 use x.float() / 255)"
            )
        if t.dim() not in (3, 4):
            raise SemcomError(f"{name} must have shape [B, C, H, W] or [C, H, W], got {tuple(t.shape)}")
        if t.numel() == 0:
            raise SemcomError(f"{name} is empty (shape {tuple(t.shape)})")
    if x.shape != x_hat.shape:
        raise SemcomError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    for name, t in (("x", x), ("x_hat", x_hat)):
        if not torch.isfinite(t).all():
            raise SemcomError(f"{name} contains NaN or inf")
    dtype = torch.promote_types(torch.promote_types(x.dtype, x_hat.dtype), torch.float32)
    if x.dim() == 3:
        x, x_hat = x.unsqueeze(0), x_hat.unsqueeze(0)
    return x.to(dtype), x_hat.to(dtype)


def check_data_range(data_range: float) -> float:
    number = isinstance(data_range, (int, float)) and not isinstance(data_range, bool)
    if not number or not math.isfinite(data_range) or data_range <= 0:
        raise SemcomError(f"data_range must be a positive finite number, got {data_range!r}")
    return float(data_range)


def check_min_side(x: torch.Tensor, minimum: int, metric: str) -> None:
    height, width = x.shape[-2:]
    if min(height, width) < minimum:
        raise SemcomError(f"{metric} needs images of at least {minimum}x{minimum} px, got {height}x{width}")


def psnr_db(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image: 10 log10(data_range^2 / MSE), MSE over C, H, W.

    ``x``, ``x_hat``: [B, C, H, W] or [C, H, W] float. ``mask`` (optional, bool [B, H, W] or [H, W]):
    the MSE is taken over the pixels inside it only (region-of-interest PSNR; every image needs at
    least one pixel in its mask). Returns [B] float. Capped at ``PSNR_CAP_DB`` (100 dB, i.e. MSE <=
    data_range^2 * 1e-10, which includes identical images); the cap has zero gradient, never NaN.
    """
    data_range = check_data_range(data_range)
    x, x_hat = check_images(x, x_hat)
    if mask is None:
        mse = (x - x_hat).pow(2).flatten(1).mean(dim=1)
    else:
        mask = check_mask(mask, x)
        weight = mask[:, None].to(x.dtype)
        mse = ((x - x_hat).pow(2) * weight).flatten(1).sum(dim=1) / (weight.flatten(1).sum(dim=1) * x.shape[1])
    floor = data_range**2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * math.log10(data_range**2) - 10.0 * torch.log10(mse.clamp_min(floor))


def check_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A region mask for images ``x`` [B, C, H, W]: bool [B, H, W] (a [H, W] mask applies to every image)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.dim() not in (2, 3):
        got = f"{tuple(mask.shape)} {mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise SemcomError(f"mask must be a bool tensor [B, H, W] or [H, W], got {got}")
    mask = mask.expand(x.shape[0], *mask.shape[-2:]) if mask.dim() == 2 else mask
    if tuple(mask.shape) != (x.shape[0], *x.shape[-2:]):
        raise SemcomError(f"mask {tuple(mask.shape)} does not match images {tuple(x.shape)}")
    if not mask.flatten(1).any(dim=1).all():
        raise SemcomError("mask selects no pixel of some image")
    return mask.to(x.device)


CHANNEL_AT_A_TIME_PIXELS = 2**22
"""Images with more pixels (4.2 M) get SSIM and MS-SSIM one channel at a time: both are means over channels of
per-channel values, so the result is the same while the filtered maps take a third of the memory (a 4000x3000 photo
peaked at 4.2 GB computing SSIM at once)."""


def _channel_at_a_time(metric, x: torch.Tensor, x_hat: torch.Tensor, data_range: float) -> torch.Tensor | None:
    """``metric`` over each channel alone, averaged ([B]), for a large multi-channel image; None otherwise."""
    if x.dim() != 4 or x.shape[1] == 1 or x.shape[-2] * x.shape[-1] <= CHANNEL_AT_A_TIME_PIXELS:
        return None
    return torch.stack([metric(x[:, c: c + 1], x_hat[:, c: c + 1], data_range) for c in range(x.shape[1])]).mean(0)


def ssim(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per image (Wang et al. 2004), via ``pytorch_msssim.ssim``.

    Gaussian window 11 px, sigma 1.5, K = (0.01, 0.03), computed on each channel over the valid
    (unpadded) window positions and averaged over channels and positions, as scikit-image's
    ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
    ``x``, ``x_hat``: [B, C, H, W] or [C, H, W] float, H, W >= 11. Returns [B] float in [-1, 1]
    (1 for identical images).
    """
    from pytorch_msssim import ssim as _pm_ssim

    data_range = check_data_range(data_range)
    x, x_hat = check_images(x, x_hat)
    check_min_side(x, SSIM_WIN_SIZE, "SSIM")
    large = _channel_at_a_time(ssim, x, x_hat, data_range)
    if large is not None:
        return large
    return _pm_ssim(
        x, x_hat, data_range=data_range, size_average=False, win_size=SSIM_WIN_SIZE, win_sigma=SSIM_WIN_SIGMA
    )


def ms_ssim_scales(height: int, width: int) -> int:
    """Number of MS-SSIM scales (1..5) an image of this size supports with the 11-px window.

    Scale s (1-based) sees the image downsampled s - 1 times by 2, which must still be >= 11 px:
    min(height, width) > 10 * 2^(s - 1). So 5 scales need > 160 px, 4 > 80, 3 > 40, 2 > 20, 1 > 10.
    """
    side = min(height, width)
    if side < SSIM_WIN_SIZE:
        raise SemcomError(f"MS-SSIM needs images of at least {SSIM_WIN_SIZE}x{SSIM_WIN_SIZE} px, got {height}x{width}")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side > (SSIM_WIN_SIZE - 1) * 2**scales:
        scales += 1
    return scales


def ms_ssim_weights(scales: int) -> tuple[float, ...]:
    """MS-SSIM weights for ``scales`` scales, finest first.

    5 scales: the standard ``MS_SSIM_WEIGHTS`` unchanged (they sum to 1.0001). Fewer scales: the
    first ``scales`` standard weights renormalised to sum to 1, e.g. 3 scales (64 px images) give
    (0.0448, 0.2856, 0.3001) / 0.6305 = (0.0711, 0.4530, 0.4760).
    """
    if scales == len(MS_SSIM_WEIGHTS):
        return MS_SSIM_WEIGHTS
    kept = MS_SSIM_WEIGHTS[:scales]
    total = sum(kept)
    return tuple(w / total for w in kept)


def ms_ssim(x: torch.Tensor, x_hat: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Multi-scale SSIM per image (Wang, Simoncelli & Bovik 2003), following ``pytorch_msssim.ms_ssim``.

    Per channel: prod_s relu(cs_s)^w_s for the coarser-than-last scales times relu(ssim_last)^w_last,
    then the mean over channels. Images with a side > 160 px use the standard 5 scales and weights
    (identical to ``pytorch_msssim.ms_ssim``); smaller images (down to 11 px) use as many scales as fit
    (``ms_ssim_scales``) with the finest weights renormalised to sum to 1 (``ms_ssim_weights``), where
    ``pytorch_msssim`` would refuse. ``x``, ``x_hat``: [B, C, H, W] or [C, H, W] float. Returns [B]
    float in [0, 1] (1 for identical images).
    """
    from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim  # the per-scale step of pytorch_msssim.ms_ssim

    data_range = check_data_range(data_range)
    x, x_hat = check_images(x, x_hat)
    large = _channel_at_a_time(ms_ssim, x, x_hat, data_range)
    if large is not None:
        return large
    scales = ms_ssim_scales(*x.shape[-2:])
    weights = x.new_tensor(ms_ssim_weights(scales)).reshape(-1, 1, 1)
    win = _fspecial_gauss_1d(SSIM_WIN_SIZE, SSIM_WIN_SIGMA).repeat(x.shape[1], 1, 1, 1)
    factors = []
    for scale in range(scales):
        ssim_per_channel, cs = _ssim(x, x_hat, data_range=data_range, win=win, size_average=False)
        if scale < scales - 1:
            factors.append(torch.relu(cs))
            padding = [side % 2 for side in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=padding)
            x_hat = F.avg_pool2d(x_hat, kernel_size=2, padding=padding)
    factors.append(torch.relu(ssim_per_channel))
    per_channel = torch.prod(torch.stack(factors) ** weights, dim=0)  # [B, C]
    return per_channel.mean(dim=1)
