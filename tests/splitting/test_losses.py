"""The shared distillation loss."""

import torch

from semcom.splitting.losses import distillation


def test_distillation_vanishes_when_student_matches_teacher():
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    assert distillation({"logits": logits}, logits).abs().item() < 1e-5  # float32 rounding, times T^2 = 16
    assert distillation({"logits": torch.zeros(4, 10)}, logits).item() > 0


def test_distillation_is_scaled_by_the_squared_temperature():
    gen = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(8, 10, generator=gen), torch.randn(8, 10, generator=gen)
    kl = torch.nn.functional.kl_div(torch.log_softmax(student / 2, 1), torch.softmax(teacher / 2, 1), reduction="batchmean")
    assert torch.allclose(distillation({"logits": student}, teacher, 2.0), 4 * kl)
