"""SamSegmenter: the automatic mask generator's pieces, and its mechanics on a tiny random SAM saved and reloaded."""

import numpy as np
import pytest
import torch
from torch import nn

from semcom.errors import SemcomError
from semcom.segmentation.sam import (
    SamSegmenter,
    box_nms,
    crop_boxes,
    mask_boxes,
    near_crop_edge,
    point_grid,
    quality_keep,
    remove_small_regions,
    stability_score,
)

transformers = pytest.importorskip("transformers")
INPUT = 64  # the tiny model's input side; low-resolution masks are INPUT / 4


@pytest.fixture(scope="module")
def tiny_sam(tmp_path_factory):
    """Folder with a tiny random SamModel and its SamProcessor (PIL image processor), saved with save_pretrained."""
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    folder = tmp_path_factory.mktemp("tiny-sam")
    vision = transformers.SamVisionConfig(
        hidden_size=16, output_channels=8, num_hidden_layers=1, num_attention_heads=2, image_size=INPUT,
        patch_size=16, window_size=2, global_attn_indexes=[0], num_pos_feats=4, mlp_dim=32)  # num_pos_feats = 8 // 2
    prompt = transformers.SamPromptEncoderConfig(hidden_size=8, image_size=INPUT, patch_size=16, mask_input_channels=4)
    decoder = transformers.SamMaskDecoderConfig(hidden_size=8, mlp_dim=16, num_hidden_layers=1, num_attention_heads=2,
                                                iou_head_hidden_dim=8)
    torch.manual_seed(0)
    transformers.SamModel(transformers.SamConfig(vision_config=vision, prompt_encoder_config=prompt,
                                                 mask_decoder_config=decoder)).save_pretrained(folder)
    processor = SamImageProcessorPil(size={"longest_edge": INPUT}, pad_size={"height": INPUT, "width": INPUT},
                                     mask_size={"longest_edge": INPUT // 4},
                                     mask_pad_size={"height": INPUT // 4, "width": INPUT // 4})
    transformers.SamProcessor(image_processor=processor).save_pretrained(folder)
    return folder


def test_stability_score_is_the_iou_of_the_offset_thresholds():
    logits = torch.zeros(3, 4, 4)
    logits[0] = 5.0                                 # all far above: stable
    logits[1, :2] = 5.0                             # 8 px > +1, 16 px > -1 (the rest is 0)
    logits[1, 2:] = 0.0
    logits[2] = -5.0                                # empty: union 0 -> 1 by convention
    assert torch.allclose(stability_score(logits, 0.0, 1.0), torch.tensor([1.0, 0.5, 1.0]))
    assert torch.allclose(stability_score(logits, 0.0, 6.0), torch.tensor([0.0, 0.0, 0.0]))  # nothing above +6


def test_quality_filter_honours_both_thresholds_inclusively():
    iou = torch.tensor([0.86, 0.859, 0.95, 0.95, 0.90])
    stable = torch.tensor([0.92, 0.99, 0.919, 0.95, 0.92])
    assert quality_keep(iou, stable, 0.86, 0.92).tolist() == [True, False, False, True, True]


def test_point_grid_and_crop_boxes():
    grid = point_grid(4)
    assert grid.shape == (16, 2) and torch.allclose(grid[0], torch.tensor([0.125, 0.125], dtype=torch.float64))
    assert torch.allclose(grid[1], torch.tensor([0.375, 0.125], dtype=torch.float64))  # row by row, x first
    boxes = crop_boxes(100, 150, 1, 512 / 1500)
    assert len(boxes) == 5 and boxes[0] == ((0, 0, 150, 100), 0) and {layer for _, layer in boxes[1:]} == {1}
    covered = torch.zeros(100, 150, dtype=torch.int64)
    for (x0, y0, x1, y1), _ in boxes[1:]:
        assert 0 <= x0 < x1 <= 150 and 0 <= y0 < y1 <= 100
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1 and covered.max() == 4  # the 2x2 crops tile the image and overlap in the middle
    assert len(crop_boxes(100, 150, 2, 0.3)) == 1 + 4 + 16


def test_mask_boxes_nms_and_crop_edge():
    masks = torch.zeros(3, 10, 12, dtype=torch.bool)
    masks[0, 2:5, 3:7] = True
    masks[1, 2:6, 3:7] = True
    boxes = mask_boxes(masks)
    assert boxes.tolist() == [[3, 2, 7, 5], [3, 2, 7, 6], [0, 0, 0, 0]]
    keep = box_nms(boxes[:2], torch.tensor([0.5, 0.9]), 0.7)  # IoU 12/16 = 0.75 > 0.7: the better one survives
    assert keep.tolist() == [1]
    assert box_nms(boxes[:2], torch.tensor([0.5, 0.9]), 0.8).tolist() == [1, 0]
    crop = (0, 0, 60, 60)  # the right and bottom crop edges lie inside a 100x100 image
    near = near_crop_edge(torch.tensor([[0.0, 0, 30, 30], [10, 10, 58, 30], [70, 70, 100, 100]]), crop, 100, 100)
    assert near.tolist() == [False, True, False]


def test_remove_small_regions_drops_islands_and_fills_holes():
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:12, 2:12] = True
    mask[5:7, 5:7] = False      # 4 px hole
    mask[16:18, 16:18] = True   # 4 px island
    out, changed = remove_small_regions(mask, 10)
    assert changed and out[5:7, 5:7].all() and not out[16:18, 16:18].any() and out.sum() == 100
    same, changed = remove_small_regions(out, 10)
    assert not changed and (same == out).all()


def test_missing_or_wrong_weights_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-sam"
    with pytest.raises(SemcomError, match=f"SAM weights folder not found: {missing}"):
        SamSegmenter.from_pretrained(missing)
    with pytest.raises(SemcomError, match="SAM weights folder not found"):
        SamSegmenter.from_pretrained(str(missing))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(SemcomError, match="is a file, not a model folder"):
        SamSegmenter.from_pretrained(tmp_path / "weights.bin")
    with pytest.raises(SemcomError, match="cannot load SAM"):
        SamSegmenter.from_pretrained(tmp_path, local_files_only=True)  # a folder without a checkpoint


def test_tiny_sam_reloads_and_runs_the_whole_generator(tiny_sam):
    seg = SamSegmenter.from_pretrained(tiny_sam, local_files_only=True, points_per_side=4, pred_iou_thresh=0.0,
                                       stability_score_thresh=0.0, min_area=4)
    assert isinstance(seg.model, transformers.SamModel) and seg.input_size == INPUT
    x = torch.rand(3, 48, 40, generator=torch.Generator().manual_seed(0))
    s = seg.segments(x)
    assert s.masks.shape[1:] == (48, 40) and s.masks.dtype == torch.bool
    assert (s.masks.sum(dim=0) <= 1).all() and (s.areas >= 4).all() and (s.areas[:-1] >= s.areas[1:]).all()
    info = s.info
    assert info["segmenter"] == "sam" and info["crops"] == 5
    assert info["prompts"] == 4**2 + 4 * 2**2  # layer 1 uses points_per_side / 2 per side
    assert info["predicted"] == 3 * info["prompts"]  # three masks per point
    assert info["after_quality"] >= info["after_crop_nms"] >= info["after_image_nms"] >= info["after_small_regions"]
    denser = SamSegmenter.from_pretrained(tiny_sam, local_files_only=True, points_per_side=6, crop_n_layers=0,
                                         points_per_batch=5, min_area=4)
    assert denser.segments(x).info["prompts"] == 36


def test_default_settings_are_the_seeds_and_junk_masks_give_an_empty_result(tiny_sam):
    seg = SamSegmenter.from_pretrained(tiny_sam, local_files_only=True)
    assert (seg.points_per_side, seg.pred_iou_thresh, seg.stability_score_thresh, seg.crop_n_layers, seg.min_area,
            seg.downscale) == (32, 0.86, 0.92, 1, 400, 2)
    s = seg.segments(torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(1)))
    assert s.info["prompts"] == 32**2 + 4 * 16**2
    assert len(s) == 0 and s.reason  # a random model's masks pass no quality filter: empty, with a reason
    assert len(seg.segments(torch.rand(3, 10, 10))) == 0  # smaller than min_area


class ScriptedSam(nn.Module):
    """Stands in for SamModel: for every point prompt, three low-resolution masks with set quality.

    Mask 0: a sharp square (logits +-10, stability 1), predicted IoU 0.90 -> passes.
    Mask 1: the same square, predicted IoU 0.80 -> fails pred_iou_thresh.
    Mask 2: a blurry square (logits +-0.5, stability 0), predicted IoU 0.95 -> fails the stability test.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.anchor = nn.Parameter(torch.zeros(()))
        low = INPUT // 4
        square = torch.full((low, low), -1.0)
        square[2:8, 2:8] = 1.0
        self.register_buffer("low_res", torch.stack([10 * square, 10 * square, 0.5 * square]))
        self.calls = 0

    def get_image_embeddings(self, pixel_values):
        return torch.zeros(pixel_values.shape[0], 8, 4, 4)

    def forward(self, image_embeddings, input_points, input_labels, multimask_output):
        self.calls += 1
        n = input_points.shape[1]
        iou = torch.tensor([0.90, 0.80, 0.95]).expand(1, n, 3)
        return transformers.models.sam.modeling_sam.SamImageSegmentationOutput(
            iou_scores=iou, pred_masks=self.low_res.expand(1, n, 3, *self.low_res.shape[1:]))


def test_thresholds_nms_and_min_area_in_the_pipeline(tiny_sam):
    config = transformers.SamConfig.from_pretrained(tiny_sam)
    processor = transformers.SamProcessor.from_pretrained(tiny_sam, backend="pil")
    model = ScriptedSam(config)
    seg = SamSegmenter(model, processor, points_per_side=3, points_per_batch=4, crop_n_layers=0, min_area=50)
    x = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(2))
    s = seg.segments(x)
    assert model.calls == 3  # 9 prompts in batches of 4
    assert s.info["predicted"] == 27 and s.info["after_quality"] == 9  # only mask 0 of each point passes
    assert s.info["after_crop_nms"] == 1  # nine identical masks: NMS keeps one
    square = torch.zeros(64, 64, dtype=torch.bool)
    square[8:32, 8:32] = True  # low-resolution rows/columns 2:8 at 4x
    assert len(s) == 1 and (s.masks[0] & square).sum() / (s.masks[0] | square).sum() > 0.95
    assert len(SamSegmenter(model, processor, points_per_side=3, crop_n_layers=0, min_area=600).segments(x)) == 0
    strict = SamSegmenter(model, processor, points_per_side=3, crop_n_layers=0, pred_iou_thresh=0.91, min_area=50)
    assert strict.segments(x).info["after_quality"] == 0
    loose = SamSegmenter(model, processor, points_per_side=3, crop_n_layers=0, stability_score_thresh=0.0, min_area=50)
    assert loose.segments(x).info["after_quality"] == 18  # the blurry mask passes once stability is not required


def test_processor_and_model_sizes_must_agree(tiny_sam):
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    model = transformers.SamModel.from_pretrained(tiny_sam)
    wrong = transformers.SamProcessor(image_processor=SamImageProcessorPil(size={"longest_edge": 1024}))
    with pytest.raises(SemcomError, match="longest_edge=1024"):
        SamSegmenter(model, wrong)
    with pytest.raises(SemcomError, match="pred_iou_thresh"):
        SamSegmenter.from_pretrained(tiny_sam, local_files_only=True, pred_iou_thresh=1.5)
