"""Losses shared by the split- and collaborative-inference schemes (SemanticNN/DeepCOD, attention-CI)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation(out: dict, teacher_logits: torch.Tensor, temperature: float = 4.0) -> torch.Tensor:
    """Hinton et al. (2015): T^2 * KL(softmax(teacher / T) || softmax(student / T)), batch mean.

    ``out["logits"]``, ``teacher_logits``: [B, classes] float."""
    log_student = F.log_softmax(out["logits"] / temperature, dim=1)
    teacher = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_student, teacher, reduction="batchmean") * temperature**2
