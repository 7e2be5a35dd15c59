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


@pytest.fixture(scope="session")
def smooth_photos(tmp_path_factory) -> Path:
    """A folder of three smooth random 48x64 PNGs (im0..im2), for end-to-end command tests."""
    from semcom.data import save_image

    root = tmp_path_factory.mktemp("imgs")
    g = torch.Generator().manual_seed(0)
    for i in range(3):
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 6, generator=g), size=(48, 64), mode="bilinear")[0]
        save_image(smooth, root / f"im{i}.png")
    return root
