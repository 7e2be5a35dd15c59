"""SoftCast-style linear analog transmission: transforms, closed-form LMMSE distortion, accounting, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import AWGN, build_channel
from semcom.errors import SemcomError
from semcom.jscc.softcast import (
    BLOCK, SHIPPED_BASIS, LinearBasis, SoftCast, SoftCastTransmitter, blocks_of, dct_basis, dct_matrix, fit_pca,
    image_of, load_basis, load_softcast, save_basis,
)
from semcom.metrics import psnr_db


def test_dct_matrix_is_orthonormal_and_matches_scipy():
    from scipy.fft import dct

    d = dct_matrix(16)
    assert torch.allclose(d @ d.T, torch.eye(16, dtype=d.dtype), atol=1e-12)
    x = torch.randn(16, dtype=torch.float64)
    assert torch.allclose(d @ x, torch.from_numpy(dct(x.numpy(), norm="ortho")), atol=1e-10)


def test_dct_basis_is_an_orthonormal_768_transform_starting_with_luma_dc():
    b = dct_basis()
    assert b.basis.shape == (768, 768)
    assert torch.allclose(b.basis @ b.basis.T, torch.eye(768), atol=1e-5)
    # the first coefficient is the block's luma DC: constant over pixels and colours
    assert torch.allclose(b.basis[0], torch.full((768,), 1 / math.sqrt(768)), atol=1e-6)


def test_blocks_round_trip():
    x = torch.rand(2, 3, 32, 48)
    blocks, grid = blocks_of(x)
    assert blocks.shape == (2, 6, 768) and grid == (2, 3)
    assert torch.equal(image_of(blocks, grid), x)


def test_fit_pca_orthonormal_descending_and_exact_with_every_component():
    gen = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 128, 128, generator=gen) ** 2 for _ in range(4)]
    b = fit_pca(images, components=768, stride=4)
    assert torch.allclose(b.basis @ b.basis.T, torch.eye(768), atol=1e-4)
    assert (b.variances[:-1] >= b.variances[1:] - 1e-6).all()
    blocks, _ = blocks_of(images[0][None])
    coeffs = (blocks - b.mean) @ b.basis.T
    assert torch.allclose(coeffs @ b.basis + b.mean, blocks, atol=1e-4)


def test_save_load_round_trip_and_foreign_files(tmp_path):
    b = fit_pca([torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))] * 3, components=8, stride=4)
    save_basis(b, tmp_path / "b.safetensors")
    back = load_basis(tmp_path / "b.safetensors")
    assert back.kind == "pca" and back.block == BLOCK and back.components == 8
    assert torch.allclose(back.basis, b.basis, atol=1e-3) and torch.equal(back.variances, b.variances)
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(SemcomError, match="cannot read linear basis"):
        load_basis(tmp_path / "junk.safetensors")
    torch.save({"basis": torch.zeros(2)}, tmp_path / "pickle.safetensors")  # a pickle is never unpickled
    with pytest.raises(SemcomError):
        load_basis(tmp_path / "pickle.safetensors")
    with pytest.raises(SemcomError, match="not found"):
        load_basis(tmp_path / "missing.safetensors")


def test_basis_for_another_block_size_is_refused():
    with pytest.raises(SemcomError, match="8x8 RGB block transform needs a basis"):
        LinearBasis("pca", 8, torch.eye(768)[:4], torch.zeros(768), torch.ones(4), {})


def synthetic_basis(k: int) -> LinearBasis:
    """An orthonormal random basis with known variances, for closed-form checks."""
    q, _ = torch.linalg.qr(torch.randn(768, 768, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    lam = torch.logspace(0, -3, k, dtype=torch.float64)
    return LinearBasis("pca", BLOCK, q.T[:k].float().contiguous(), torch.zeros(768), lam.float(), {})


def test_awgn_distortion_matches_the_lmmse_closed_form():
    """Blocks drawn with exactly the basis' variances: measured MSE per pixel = sum_i lambda_i n / (g_i^2 lambda_i + n)
    / 768, with n = a^2 sigma^2 / 2 and a^2 = 2 mean(g^2 lambda) (the power scale of a large image)."""
    k = 96
    basis = synthetic_basis(k)
    gen = torch.Generator().manual_seed(3)
    rows, cols = 32, 32
    coeffs = torch.randn(1, rows * cols, k, generator=gen) * basis.variances.sqrt()
    x = image_of(coeffs @ basis.basis, (rows, cols))  # zero-mean "image" (values outside [0, 1] are fine here)
    sc = SoftCast(basis)
    lam = basis.variances.double()
    gain = lam.pow(-0.25)
    for snr_db in (0.0, 10.0):
        out = sc.transmit_batch(x, snr_db, AWGN(), k / 1536, torch.Generator().manual_seed(4), clamp=False)
        n = 2 * (gain.pow(2) * lam).mean() * 10 ** (-snr_db / 10) / 2
        expected = (lam * n / (gain.pow(2) * lam + n)).sum() / 768
        mse = (out["x_hat"] - x).pow(2).mean().item()
        assert mse == pytest.approx(expected.item(), rel=0.05)


def test_channel_uses_count_symbols_and_side_information():
    x = torch.rand(1, 3, 64, 96)
    pca = SoftCast(synthetic_basis(96))
    out = pca.transmit_batch(x, 10.0, AWGN(), 1 / 16)
    assert int(out["channel_uses"][0]) == 96 * 24 // 2 + 16  # 24 blocks, 48 uses each, 16 side bits
    dct = SoftCast(dct_basis())
    out = dct.transmit_batch(x, 10.0, AWGN(), 1 / 32)
    assert int(out["channel_uses"][0]) == 48 * 24 // 2 + 16 + 16 * 48  # dct also sends its variances


def test_noise_free_equals_projection_and_quality_rises_with_snr():
    low = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(5))
    x = torch.nn.functional.interpolate(low, size=(48, 48), mode="bicubic", align_corners=False).clamp(0, 1)
    sc = SoftCast(dct_basis())
    blocks, grid = blocks_of(x)
    b = sc.basis
    projection = image_of(((blocks - b.mean) @ b.basis[:192].T) @ b.basis[:192] + b.mean, grid)
    clean = sc.transmit_batch(x, 40.0, AWGN(), 1 / 8, torch.Generator().manual_seed(6), clamp=False)["x_hat"]
    assert psnr_db(projection.clamp(0, 1), clean.clamp(0, 1)).item() > 40
    psnrs = [psnr_db(x, sc.transmit_batch(x, s, AWGN(), 1 / 8, torch.Generator().manual_seed(6))["x_hat"]).item()
             for s in (0.0, 10.0, 20.0, 40.0)]
    assert psnrs == sorted(psnrs) and psnrs[-1] - psnrs[0] > 8


def test_rayleigh_uses_per_symbol_noise_and_stays_finite():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    out = SoftCast(dct_basis()).transmit_batch(x, 5.0, build_channel("rayleigh"), 1 / 16, torch.Generator().manual_seed(8))
    assert torch.isfinite(out["x_hat"]).all() and out["x_hat"].min() >= 0 and out["x_hat"].max() <= 1


@pytest.mark.parametrize("cbr", [0, -1, float("nan"), 1 / 1000, 1.0])
def test_unsupported_cbr_is_refused(cbr):
    with pytest.raises(SemcomError, match="CBR"):
        SoftCast(dct_basis()).components_for_cbr(cbr)


@pytest.mark.skipif(not SHIPPED_BASIS.is_file(), reason="the shipped PCA basis is not in this checkout")
def test_shipped_basis_and_transmitter():
    sc = load_softcast("pca")
    assert sc.basis.kind == "pca" and sc.basis.components >= 192
    x = torch.rand(3, 40, 56, generator=torch.Generator().manual_seed(9))
    t = SoftCastTransmitter(sc, AWGN(), 1 / 16).transmit(x, 10.0, torch.Generator().manual_seed(0))
    assert t.x_hat.shape == x.shape and t.channel_uses == 96 * 12 // 2 + 480  # + the scale's 16-QAM 1/2 side block
    assert t.details["model"] == "softcast-pca"
