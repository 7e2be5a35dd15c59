"""FID-EffNet / KID-EffNet: the Fréchet distance against its closed form and torchmetrics' eigenvalue formula, KID
against torchmetrics' polynomial MMD, identical sets near 0, the meter on real photos, bad input."""

import numpy as np
import pytest
import torch
from torchmetrics.image.fid import _compute_fid
from torchmetrics.image.kid import poly_mmd

from semcom.errors import SemcomError
from semcom.metrics.distribution import (
    FEATURE_DIM,
    CachedFeatures,
    DistributionMeter,
    EffNetFeatures,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    kernel_inception_distance,
)


def test_frechet_distance_of_commuting_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    d = 6
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))  # a shared eigenbasis: the covariances commute
    l1, l2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    s1, s2 = q @ np.diag(l1) @ q.T, q @ np.diag(l2) @ q.T
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(l1 + l2 - 2 * np.sqrt(l1 * l2))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    # diagonal covariances, torch inputs: the same formula per coordinate
    v1, v2 = torch.tensor([1.0, 4.0]), torch.tensor([9.0, 1.0])
    got = frechet_distance(torch.zeros(2), torch.diag(v1), torch.tensor([3.0, 0.0]), torch.diag(v2))
    assert got == pytest.approx(9 + (1 + 9 - 2 * 3) + (4 + 1 - 2 * 2))
    # identical Gaussians: 0
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-9


@pytest.mark.parametrize("n", [50, 400])  # fewer and more samples than dimensions (singular / regular covariances)
def test_fid_on_random_features_matches_torchmetrics(n):
    g = torch.Generator().manual_seed(n)
    d = 64
    a = torch.randn(n, d, generator=g, dtype=torch.float64) ** 2
    b = torch.randn(n, d, generator=g, dtype=torch.float64) * 1.5 + 0.3
    mu1, s1 = feature_statistics(a)
    mu2, s2 = feature_statistics(b)
    reference = _compute_fid(torch.from_numpy(mu1), torch.from_numpy(s1), torch.from_numpy(mu2),
                             torch.from_numpy(s2)).item()
    assert fid_from_features(a, b) == pytest.approx(reference, rel=1e-6)
    assert np.allclose(s1, np.cov(a.numpy().T)) and fid_from_features(a, a) == pytest.approx(0, abs=1e-6)


def test_kid_matches_torchmetrics_polynomial_mmd_and_its_subsets():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(30, 16, generator=g, dtype=torch.float64)
    fake = torch.randn(40, 16, generator=g, dtype=torch.float64) + 0.5
    # one subset of every vector: exactly torchmetrics' unbiased polynomial MMD² (whatever the order drawn)
    mean, std = kernel_inception_distance(real, fake[:30], subsets=1, subset_size=30)
    assert mean == pytest.approx(poly_mmd(real, fake[:30]).item(), rel=1e-10) and std == 0
    # several subsets: the mean and population std of poly_mmd on the same draws
    a, b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    mean, std = kernel_inception_distance(real, fake, subsets=7, subset_size=20, generator=a)
    scores = []
    for _ in range(7):
        x = real[torch.randperm(30, generator=b)[:20]]
        y = fake[torch.randperm(40, generator=b)[:20]]
        scores.append(poly_mmd(x, y))
    scores = torch.stack(scores)
    assert mean == pytest.approx(scores.mean().item(), rel=1e-10)
    assert std == pytest.approx(scores.std(unbiased=False).item(), rel=1e-10)
    assert mean > 0.01


def test_identical_sets_score_about_zero_and_shifted_sets_more():
    g = torch.Generator().manual_seed(1)
    f = torch.randn(200, 32, generator=g)
    other = torch.randn(200, 32, generator=g)  # another sample of the same distribution
    near_kid, _ = kernel_inception_distance(f, other, subsets=20, subset_size=100, generator=g)
    far_kid, _ = kernel_inception_distance(f, other + 0.5, subsets=20, subset_size=100, generator=g)
    # a set against itself: the unbiased estimate is slightly negative (shared vectors enter k_xy with k(x, x))
    same_kid, _ = kernel_inception_distance(f, f, subsets=1, subset_size=200)
    assert -0.1 * far_kid < same_kid < 0 and abs(near_kid) < 0.05 * far_kid
    assert fid_from_features(f, f) == pytest.approx(0, abs=1e-6)
    assert fid_from_features(f, other) < 0.5 * fid_from_features(f, other + 0.5)


def test_meter_counts_sets_and_clips_the_subset_size():
    def features(images):  # a stand-in extractor: per-channel means and stds
        return torch.cat([images.mean((2, 3)), images.std((2, 3))], 1)

    meter = DistributionMeter(features, subsets=10, subset_size=1000)
    g = torch.Generator().manual_seed(0)
    meter.update(torch.rand(6, 3, 16, 16, generator=g), real=True)
    meter.update(torch.rand(4, 3, 16, 16, generator=g) * 0.5, real=False)
    meter.update(torch.rand(3, 3, 16, 16, generator=g) * 0.5, real=False)
    out = meter.compute()
    assert (out["real"], out["fake"]) == (6, 7) and out["fid_effnet"] > 0 and out["kid_effnet_std"] >= 0
    assert meter.compute() == out  # a fixed seed: the same KID subsets every time
    meter.reset()
    meter.update(torch.rand(1, 3, 16, 16), real=True)
    meter.update(torch.rand(5, 3, 16, 16), real=False)
    with pytest.raises(SemcomError, match="at least 2 real and 2 generated images, got 1 real and 5") as info:
        meter.compute()
    assert "\n" not in str(info.value)


def test_effnet_meter_on_real_photos():
    from semcom.data import demo_images

    photos = torch.stack([x for _, x in demo_images()])  # 4 photos [3, 256, 256]
    extractor = EffNetFeatures()
    small = extractor(photos[:, :, :48, :64])  # any size: resized to 224 x 224
    assert small.shape == (4, FEATURE_DIM) and small.dtype == torch.float64 and (small >= 0).all()  # pooled ReLU6
    meter = DistributionMeter(extractor, subsets=5)
    meter.update(photos, real=True)
    meter.update(photos.flip(-1), real=False)  # mirrored photos
    out = meter.compute()  # one 1280 x 1280 matrix square root: a few seconds
    assert (out["real"], out["fake"]) == (4, 4) and out["fid_effnet"] > 0 and np.isfinite(out["kid_effnet"])
    # features that see content: mirrored photos are closer to the photos than dark, noisy versions of them
    real, mirrored = extractor(photos), extractor(photos.flip(-1))
    noisy = extractor(photos * 0.3 + torch.rand(photos.shape, generator=torch.Generator().manual_seed(0)) * 0.4)
    close, _ = kernel_inception_distance(real, mirrored, subsets=1, subset_size=4)
    far, _ = kernel_inception_distance(real, noisy, subsets=1, subset_size=4)
    assert far > 2 * close and (real - mirrored).norm() < (real - noisy).norm()


def test_bad_input_is_a_one_line_error():
    mu, sigma = np.zeros(3), np.eye(3)
    meter = DistributionMeter(lambda x: x.mean((2, 3)))
    cases = [
        (lambda: frechet_distance(mu, sigma, np.zeros(4), np.eye(4)), "shapes do not match"),
        (lambda: frechet_distance(mu, sigma[0], mu, sigma), "sigma1 must have 2 dimension"),
        (lambda: frechet_distance(mu * np.nan, sigma, mu, sigma), "NaN"),
        (lambda: kernel_inception_distance(torch.randn(5, 3), torch.randn(5, 4)), "feature sizes differ"),
        (lambda: kernel_inception_distance(torch.randn(5, 3), torch.randn(8, 3), subset_size=6), r"2\.\.5"),
        (lambda: kernel_inception_distance(torch.randn(5, 3), torch.randn(8, 3), subsets=0), "subsets"),
        (lambda: feature_statistics(torch.randn(1, 3)), "at least 2 feature vectors"),
        (lambda: meter.update(torch.rand(2, 3, 8, 8) * 2, real=True), r"\[0, 1\]"),
        (lambda: meter.update(torch.rand(2, 1, 8, 8), real=True), r"\[B, 3, H, W\]"),
        (lambda: meter.update(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), real=True), "float"),
        (lambda: EffNetFeatures(batch=0), "batch"),
    ]
    for call, message in cases:
        with pytest.raises(SemcomError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_cached_features_extract_each_distinct_batch_once():
    calls = []

    def features(images):
        calls.append(images.shape[0])
        return images.flatten(1)[:, :4].double() * 2

    cached = CachedFeatures(features, size=2)
    a, b, c = torch.rand(3, 1, 3, 4, 4).unbind(0)
    first = cached(a)
    again = cached(a.clone())  # same content, another tensor
    assert torch.equal(first, again) and calls == [1] and cached.hits == 1
    again.zero_()  # a caller changing its result does not change the cache
    assert torch.equal(cached(a), first)
    cached(b), cached(c)  # a is evicted (size 2)
    cached(a)
    assert calls == [1, 1, 1, 1]
    assert not torch.equal(cached(b), cached(a)) and len(calls) == 5  # b was evicted by a, a is still there
    changed = a.clone()
    changed[0, 0, 0, 0] += 1e-3
    cached(changed)
    assert len(calls) == 6
    with pytest.raises(SemcomError):
        CachedFeatures(features, size=0)
