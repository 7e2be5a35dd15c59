import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared" / "data"

torch.set_num_threads(int(os.environ.get("SEMCOM_TEST_THREADS", "1")))


def shared_path(name: str) -> Path:
    """A folder of ../shared/data, or skip the test with the reason stated."""
    path = (SHARED / name).resolve()
    if not path.is_dir():
        pytest.skip(f"needs ../shared/data/{name} (the shared data folder is absent on this machine)")
    return path


def write_smooth_photos(folder: Path, count: int, size: tuple[int, int], low: tuple[int, int], prefix: str) -> Path:
    """``count`` smooth random PNGs ``<prefix><i>.png`` of ``size`` (bilinear upsampling of ``low``-sized noise, seed 0)
    in ``folder`` (created); returns it."""
    from semcom.data import save_image

    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for i in range(count):
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, *low, generator=g), size=size, mode="bilinear")[0]
        save_image(smooth, folder / f"{prefix}{i}.png")
    return folder


@pytest.fixture(scope="session")
def smooth_photos(tmp_path_factory) -> Path:
    """A folder of three smooth random 48x64 PNGs (im0..im2), for end-to-end command tests."""
    return write_smooth_photos(tmp_path_factory.mktemp("imgs"), 3, (48, 64), (4, 6), "im")


@pytest.fixture
def counted(monkeypatch):
    """Complex symbols that really went through an AWGN or Rayleigh channel, all examples and calls together."""
    from semcom.channels import AWGN, Rayleigh

    seen = {"symbols": 0}
    for cls in (AWGN, Rayleigh):
        original = cls.observe

        def observe(self, zc, noise_var, generator=None, _original=original):
            seen["symbols"] += zc.numel()  # zc: [B, n] complex symbols
            return _original(self, zc, noise_var, generator)

        monkeypatch.setattr(cls, "observe", observe)
    return seen
