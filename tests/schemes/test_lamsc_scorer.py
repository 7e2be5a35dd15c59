"""ASI: segment images, the CBAM scorer, integration by threshold, and the two training targets."""

import pytest
import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.schemes.lamsc import ASIScorer, Segments, integrate, segment_images
from semcom.segmentation.importance import load_human_scores, occlusion_importance


def stripes(h=32, w=32, n=3):
    """Segments: n vertical stripes, left to right, widths as equal as possible with the wider ones first."""
    masks = torch.zeros(n, h, w, dtype=torch.bool)
    cuts = [-(-i * w // n) for i in range(n + 1)]
    for i in range(n):
        masks[i, :, cuts[i] : cuts[i + 1]] = True
    return Segments(masks)


def test_segment_images_stack_masked_resized_slots_and_zero_padding():
    image = torch.rand(3, 40, 60, generator=torch.Generator().manual_seed(0))
    segs = stripes(40, 60, 3)
    x = segment_images(image, segs, k=5)
    assert x.shape == (15, 64, 64)
    assert x[9:].abs().sum() == 0  # slots 3 and 4: no segment
    first = x[:3]  # stripe 0 = the left third only (columns 0:20 of 60 -> 0:21.3 of 64)
    assert first[:, :, :20].abs().sum() > 0 and first[:, :, 23:].abs().sum() == 0
    assert torch.allclose(segment_images(image, segs, k=2), x[:6])
    with pytest.raises(SemcomError, match="segments are 40x60"):
        segment_images(torch.rand(3, 32, 32), segs)


def test_scorer_shape_range_and_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    scorer = ASIScorer(k=5)
    x = torch.rand(2, 15, 64, 64)
    scores = scorer(x)
    assert scores.shape == (2, 5) and ((scores > 0) & (scores < 1)).all()
    nn.functional.mse_loss(scores, torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 1, 0, 0]])).backward()
    for name, p in scorer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    with pytest.raises(SemcomError, match=r"\[B, 15, 64, 64\]"):
        scorer(torch.rand(2, 12, 64, 64))
    one = scorer.score(torch.rand(3, 32, 32), stripes())
    assert one.shape == (5,)


def test_scorer_learns_which_slot_matters_in_a_few_steps():
    """Target = 1 for the slot holding a bright segment image: a handful of Adam steps must beat chance."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    scorer = ASIScorer(k=3, width=8)
    opt = torch.optim.Adam(scorer.parameters(), lr=1e-2)
    x = torch.rand(12, 9, 64, 64, generator=g) * 0.2
    bright = torch.randint(0, 3, (12,), generator=g)
    for i, b in enumerate(bright.tolist()):
        x[i, 3 * b : 3 * b + 3] += 0.8
    target = nn.functional.one_hot(bright, 3).float()
    first = None
    for _ in range(15):
        loss = nn.functional.mse_loss(scorer(x), target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first


def test_integrate_threshold_is_strict_and_the_union_is_sent():
    image = torch.rand(3, 30, 30, generator=torch.Generator().manual_seed(1)) * 0.5 + 0.25
    segs = stripes(30, 30, 3)
    semantic, selected = integrate(image, segs, torch.tensor([0.9, 0.7, 0.71, 0.99, 0.99]))
    assert selected.tolist() == [True, False, True, False, False]  # 0.7 is not above 0.7; slots 3, 4 are empty
    assert torch.equal(semantic[:, :, :10], image[:, :, :10]) and torch.equal(semantic[:, :, 20:], image[:, :, 20:])
    assert (semantic[:, :, 10:20] == 0).all()
    mean_fill, _ = integrate(image, segs, torch.tensor([0.9, 0.7, 0.71]), fill="mean")
    assert torch.allclose(mean_fill[:, 0, 15], image.mean(dim=(1, 2)))
    _, lowered = integrate(image, segs, torch.tensor([0.9, 0.7, 0.71]), threshold=0.5)
    assert lowered.tolist() == [True, True, True]


def test_integrate_keeps_the_best_segment_when_none_passes():
    image = torch.rand(3, 30, 30, generator=torch.Generator().manual_seed(2))
    semantic, selected = integrate(image, stripes(30, 30, 3), torch.tensor([0.2, 0.6, 0.1, 0.0, 0.0]))
    assert selected.tolist() == [False, True, False, False, False]
    assert (semantic[:, :, 10:20] == image[:, :, 10:20]).all() and semantic[:, :, :10].abs().sum() == 0
    _, tie = integrate(image, stripes(30, 30, 3), torch.tensor([0.5, 0.5, 0.1]))
    assert tie.tolist() == [True, False, False]


def test_integrate_bad_input():
    image = torch.rand(3, 30, 30)
    empty = Segments.empty(30, 30, "single-colour image")
    with pytest.raises(SemcomError, match="send the whole image"):
        integrate(image, empty, torch.ones(5))
    with pytest.raises(SemcomError, match="keep_largest"):
        integrate(image, stripes(30, 30, 3), torch.ones(2))
    with pytest.raises(SemcomError, match="fill"):
        integrate(image, stripes(30, 30, 3), torch.ones(3), fill="blur")
    with pytest.raises(SemcomError, match="NaN"):
        integrate(image, stripes(30, 30, 3), torch.tensor([0.1, float("nan"), 0.2]))


class MiddleStripeClassifier(nn.Module):
    """Two classes; the class-0 logit grows with the brightness of the middle third of a 32x32 input only."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0))

    def forward(self, x):
        middle = x[:, :, :, 11:21].mean(dim=(1, 2, 3))
        return torch.stack([self.scale * (middle - 0.5), torch.zeros_like(middle)], dim=1)


def test_occlusion_importance_finds_the_segment_the_classifier_uses():
    image = torch.full((3, 32, 32), 0.2)
    image[:, :, 11:21] = 0.9  # the middle stripe is bright: class 0 is confident
    segs = stripes(32, 32, 3)  # columns 0:11, 11:22, 22:32
    scores = occlusion_importance(image, segs, MiddleStripeClassifier(), size=32)
    assert scores.shape == (3,) and scores[1] == 1.0 and scores[0] == 0 and scores[2] == 0
    assert occlusion_importance(image, Segments.empty(32, 32, "none"), MiddleStripeClassifier(), size=32).numel() == 0


def test_occlusion_importance_is_zero_when_nothing_matters():
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(3))

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.tensor([1.0, 0.0]))

        def forward(self, x):
            return self.bias.expand(x.shape[0], 2)

    assert (occlusion_importance(image, stripes(), Constant(), size=32) == 0).all()


def test_occlusion_importance_with_efficientnet_lite0_smoke():
    pytest.importorskip("efficientnet_lite_pytorch")
    image = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(4))
    scores = occlusion_importance(image, stripes(48, 48, 2))  # default classifier: EfficientNet-Lite0, ImageNet
    assert scores.shape == (2,) and ((scores >= 0) & (scores <= 1)).all()


def write(tmp_path, text, name="scores.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_human_scores(tmp_path):
    path = write(tmp_path, "\ufeffimage,segment,score,annotator\na.png,1,0.25,x\na.png,0,1.0,x\nb.png,0,0,y\n")
    scores = load_human_scores(path, images=[tmp_path / "a.png", "b.png", "c.png"])
    assert set(scores) == {"a.png", "b.png"}
    assert scores["a.png"].tolist() == [1.0, 0.25] and scores["b.png"].tolist() == [0.0]


@pytest.mark.parametrize("text, phrase", [
    ("image,score\na.png,0.5\n", "lacks the column(s) segment"),
    ("image,segment,score\na.png,0,1.5\n", "line 2: score must lie in [0, 1], got 1.5"),
    ("image,segment,score\na.png,0,nan\n", "score must lie in [0, 1]"),
    ("image,segment,score\na.png,x,0.5\n", "segment must be an integer"),
    ("image,segment,score\na.png,0,0.5\na.png,0,0.4\n", "line 3: segment 0 of a.png is scored twice"),
    ("image,segment,score\na.png,0,0.5\na.png,2,0.4\n", "a.png has no score for segment(s) 1"),
    ("image,segment,score\n", "no scores"),
    ("image,segment,score\nzebra.png,0,0.5\n", "unknown image(s) zebra.png"),
])
def test_load_human_scores_rejects_bad_files(tmp_path, text, phrase):
    with pytest.raises(SemcomError, match=phrase.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        load_human_scores(write(tmp_path, text), images=["a.png"])


def test_load_human_scores_missing_file(tmp_path):
    with pytest.raises(SemcomError, match="human score file not found"):
        load_human_scores(tmp_path / "nope.csv")
