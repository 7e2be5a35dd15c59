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
