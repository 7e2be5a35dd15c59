"""The receiver's image per round: generated from each round's prompt with a fixed seed, scored by LPIPS against the
original and by CLIP against the caption (tiny random LPIPS and a stand-in generator and scorer)."""

import pytest
import torch

from semcom.adapters.vision_language import TextToImage
from semcom.metrics import LPIPS
from semcom.metrics.lpips import FEATURE_CHANNELS, alexnet_features
from semcom.schemes.language import LanguageScheme
from semcom.schemes.language.images import image_rounds


class PromptImage:
    """A deterministic stand-in generator: the image depends on the prompt and the seed only."""

    def __init__(self):
        self.calls = []

    def generate(self, prompt: str, seed: int) -> torch.Tensor:
        self.calls.append((prompt, seed))
        g = torch.Generator().manual_seed(seed * 1000 + sum(map(ord, prompt)))
        return torch.rand(3, 40, 40, generator=g)


class LengthScore:
    def score(self, x, text):
        return float(len(text))


def random_lpips(tmp_path):
    torch.manual_seed(0)
    torch.save(alexnet_features().state_dict(), tmp_path / "alex_features.pth")
    heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(FEATURE_CHANNELS)}
    torch.save(heads, tmp_path / "heads.pth")
    return LPIPS(tmp_path / "alex_features.pth", tmp_path / "heads.pth")


def test_image_rounds_generates_per_prompt_and_scores(tmp_path):
    scheme = LanguageScheme("nouns", link="ideal")
    tx = scheme.transmit("A dog runs on grass", 0.0)
    t2i = PromptImage()
    assert isinstance(t2i, TextToImage)
    x = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(1))
    rows = image_rounds(tx, t2i, x, seed=100, lpips=random_lpips(tmp_path), clip=LengthScore())
    assert [r["prompt"] for r in rows] == [r["prompt"] for r in tx.details["rounds"]]
    assert all(seed == 100 for _, seed in t2i.calls) and len(t2i.calls) == len(rows)
    assert all(r["lpips"] >= 0 and r["clip_score"] == len("A dog runs on grass") for r in rows)
    same = image_rounds(tx, t2i, x, seed=100, lpips=random_lpips(tmp_path))
    assert [r["lpips"] for r in same] == [r["lpips"] for r in rows]


def test_nothing_received_generates_nothing():
    tx = LanguageScheme("random", link="ldpc").transmit("A dog runs", -10.0, torch.Generator().manual_seed(0))
    rows = image_rounds(tx, PromptImage())
    assert all((r["image"] is None) == (not r["prompt"]) for r in rows)
    assert rows[0]["lpips"] is None and rows[0]["clip_score"] is None


def test_round_means_carry_a_finished_caption_and_skip_missing_values():
    from semcom.schemes.language.images import round_means

    short = [{"lpips": 0.5, "clip_score": None}]
    long = [{"lpips": None, "clip_score": 20.0}, {"lpips": 0.3, "clip_score": 30.0}, {"lpips": 0.1, "clip_score": 40.0}]
    rows = round_means([short, long])
    assert [r["round"] for r in rows] == [1, 2, 3]
    assert rows[0]["lpips"] == 0.5 and rows[0]["lpips_images"] == 1 and rows[0]["clip_score"] == 20.0
    assert rows[2]["lpips"] == pytest.approx(0.3) and rows[2]["lpips_images"] == 2  # (0.5 kept + 0.1) / 2
    assert round_means([short], rounds=2)[1]["lpips"] == 0.5


def test_model_dir_names_every_missing_folder(tmp_path):
    from semcom.errors import SemcomError
    from semcom.schemes.language.images import load_model_dir

    (tmp_path / "clip").mkdir()
    with pytest.raises(SemcomError, match=r"lacks stable-diffusion/, lpips/ \(stable-diffusion/: a diffusers"):
        load_model_dir(tmp_path)
    with pytest.raises(SemcomError, match="is not a folder"):
        load_model_dir(tmp_path / "nowhere")
