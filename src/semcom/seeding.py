"""One seeding helper: every stochastic module takes an optional torch.Generator made here; the per-transmission
noise seed; process-wide CPU math settings for reproducible, fast runs of trained models."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch global RNGs; return a fresh CPU generator seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return make_generator(seed)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def noise_seed(seed: int, image_index: int, snr_db: float, cbr: float) -> int:
    """Stable seed for one transmission."""
    return (seed * 1_000_003 + image_index * 10_007 + round(snr_db * 100) * 101 + round(cbr * 1e6)) % (2**62)


def fast_cpu_math(threads: int | None = None) -> None:
    """Process-wide CPU settings for running trained models: flush subnormal floats (trained GDN
    layers produce them and they are very slow on x86), optionally fix the thread count."""
    torch.set_flush_denormal(True)
    if threads:
        torch.set_num_threads(threads)
