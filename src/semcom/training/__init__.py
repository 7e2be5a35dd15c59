"""What every training run shares: checkpoint files (atomic writes, safe reads) and the loop pieces
(learning-rate schedule, CPU/wall clock, JSONL log). Base layer: imports nothing above errors/outputs."""

from semcom.training.checkpoint import (
    PACKAGE_CHECKPOINTS,
    atomic_save,
    load_file,
    read_checkpoint,
    shipped_file,
    slim_copy,
    warm_start,
)
from semcom.training.loop import JsonlLog, RunClock, cosine_lr

__all__ = [
    "PACKAGE_CHECKPOINTS",
    "JsonlLog",
    "RunClock",
    "atomic_save",
    "cosine_lr",
    "load_file",
    "read_checkpoint",
    "shipped_file",
    "slim_copy",
    "warm_start",
]
