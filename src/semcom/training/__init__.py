"""What every training run shares: the ``Run`` (folder, resume, seeds, log, clock, checkpoints, torchrun) with its
``RunConfig``, checkpoint files (atomic writes, safe reads) and the loop pieces (learning-rate schedule, CPU/wall
clock, JSONL log). Base layer: imports nothing above errors/outputs/seeding."""

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
from semcom.training.run import Run, RunConfig, distributed_context

__all__ = [
    "PACKAGE_CHECKPOINTS",
    "JsonlLog",
    "Run",
    "RunClock",
    "RunConfig",
    "atomic_save",
    "cosine_lr",
    "distributed_context",
    "load_file",
    "read_checkpoint",
    "shipped_file",
    "slim_copy",
    "warm_start",
]
