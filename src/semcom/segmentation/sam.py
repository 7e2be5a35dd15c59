"""Segment Anything (``transformers`` ``SamModel`` + ``SamProcessor``) as a ``Segmenter``: automatic mask generation.

The generator follows the SAM paper's automatic mask generator with the seed's settings
(points_per_side 32, pred_iou_thresh 0.86, stability_score_thresh 0.92, crop_n_layers 1,
crop_n_points_downscale_factor 2, min region 400 px; the seed's SKB.py):

1. Crops: the whole image, plus for each crop layer i = 1..crop_n_layers a (2^i x 2^i) grid of
   overlapping crops (overlap ``crop_overlap_ratio`` of the short side at layer 1).
2. Each crop is resized by the ``SamProcessor`` (longest side = the model's input size, ImageNet
   normalisation, padding) and embedded once by the vision encoder.
3. Prompts: a regular grid of points_per_side^2 single foreground points over the crop (layer i uses
   points_per_side / downscale^i per side), in batches of ``points_per_batch``; the mask decoder returns
   3 masks per point (multimask output) with a predicted IoU each.
4. Filters, in order: predicted IoU >= ``pred_iou_thresh``; logits upsampled to the crop's pixels;
   stability score >= ``stability_score_thresh`` (IoU of the masks thresholded at mask_threshold +/-
   stability_score_offset); masks whose box touches a crop edge that is not an image edge are dropped
   (cut objects); non-maximum suppression on box IoU > ``box_nms_thresh`` within the crop (higher
   predicted IoU wins) and across crops at ``crop_nms_thresh`` (masks from smaller crops win).
5. Small regions, as SAM's min_mask_region_area: in each mask, connected islands and holes below
   ``min_area`` pixels are removed/filled; then NMS again preferring masks that did not change.
6. ``Segments.from_masks``: overlaps resolved in favour of the larger mask (a nested part stays in its
   object), remainders below ``min_area`` dropped, sorted by area.

Unlike SAM the threshold tests are ``>=`` (SAM uses ``>``); box NMS is our own (torchvision, which
SAM's post-processing needs, does not run here). Cost: one vision-encoder pass per crop (5 with one
crop layer) and points/points_per_batch decoder passes per crop; ViT-H on CPU takes minutes per image.
"""

from __future__ import annotations

import math
import re
from itertools import product
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from semcom.data.images import tensor_to_uint8
from semcom.errors import SemcomError
from semcom.segmentation.segmenter import MIN_AREA, Segmenter

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


# ---- pure pieces of the generator (tested directly) -----------------------------------------------
def stability_score(logits: torch.Tensor, mask_threshold: float = 0.0, offset: float = 1.0) -> torch.Tensor:
    """[N, H, W] mask logits -> [N]: |logits > t + offset| / |logits > t - offset| (1 for an empty union)."""
    inner = (logits > mask_threshold + offset).flatten(1).sum(dim=1)
    outer = (logits > mask_threshold - offset).flatten(1).sum(dim=1)
    return torch.where(outer > 0, inner / outer.clamp(min=1), torch.ones_like(inner, dtype=torch.float32))


def quality_keep(iou_pred: torch.Tensor, stability: torch.Tensor, pred_iou_thresh: float,
                 stability_score_thresh: float) -> torch.Tensor:
    """bool [N]: predicted IoU >= pred_iou_thresh and stability >= stability_score_thresh."""
    return (iou_pred >= pred_iou_thresh) & (stability >= stability_score_thresh)


def point_grid(n_per_side: int) -> torch.Tensor:
    """[n^2, 2] (x, y) in (0, 1): cell centres of an n x n grid, row by row."""
    centres = (torch.arange(n_per_side, dtype=torch.float64) + 0.5) / n_per_side
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def crop_boxes(height: int, width: int, n_layers: int, overlap_ratio: float) -> list[tuple[tuple[int, int, int, int], int]]:
    """[((x0, y0, x1, y1), layer), ...]: the whole image (layer 0), then 4^i overlapping crops per layer i."""
    boxes = [((0, 0, width, height), 0)]
    short = min(height, width)
    for layer in range(1, n_layers + 1):
        n = 2**layer
        overlap = int(overlap_ratio * short * 2 / n)
        crop_w = math.ceil((overlap * (n - 1) + width) / n)
        crop_h = math.ceil((overlap * (n - 1) + height) / n)
        for top, left in product(range(n), range(n)):
            x0, y0 = (crop_w - overlap) * left, (crop_h - overlap) * top
            boxes.append(((x0, y0, min(x0 + crop_w, width), min(y0 + crop_h, height)), layer))
    return boxes


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """bool [N, H, W] -> float [N, 4] half-open boxes (x0, y0, x1, y1); an empty mask gives (0, 0, 0, 0)."""
    if masks.shape[0] == 0:
        return torch.zeros(0, 4)
    rows, cols = masks.any(dim=2), masks.any(dim=1)
    h, w = masks.shape[1:]
    y0 = torch.where(rows.any(1), rows.float().argmax(1), torch.zeros(()).long())
    y1 = torch.where(rows.any(1), h - rows.flip(1).float().argmax(1), torch.zeros(()).long())
    x0 = torch.where(cols.any(1), cols.float().argmax(1), torch.zeros(()).long())
    x1 = torch.where(cols.any(1), w - cols.flip(1).float().argmax(1), torch.zeros(()).long())
    return torch.stack([x0, y0, x1, y1], dim=1).float()


def box_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thresh: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices (best score first) of boxes [N, 4] kept when every box whose
    IoU with a better-scoring kept box exceeds ``iou_thresh`` is dropped. Ties keep the earlier box."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    iou = inter / (area[:, None] + area[None, :] - inter).clamp(min=1e-9)
    order = torch.argsort(scores, descending=True, stable=True)
    suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_thresh
    return torch.tensor(keep, dtype=torch.long)


def near_crop_edge(boxes: torch.Tensor, crop: tuple[int, int, int, int], width: int, height: int,
                   atol: float = 20.0) -> torch.Tensor:
    """bool [N]: a box (image coordinates) lies within ``atol`` px of a crop edge that is not an image edge."""
    crop_t = torch.tensor(crop, dtype=torch.float32)
    image_t = torch.tensor((0, 0, width, height), dtype=torch.float32)
    at_crop = (boxes - crop_t).abs() <= atol
    at_image = (boxes - image_t).abs() <= atol
    return (at_crop & ~at_image).any(dim=1)


def remove_small_regions(mask: np.ndarray, min_area: int) -> tuple[np.ndarray, bool]:
    """Drop connected islands and fill holes smaller than ``min_area`` px in bool [H, W]; (mask, changed)."""
    from scipy import ndimage

    out = mask.copy()
    for fill_holes in (True, False):
        region = ~out if fill_holes else out
        labels, n = ndimage.label(region)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        small = np.flatnonzero(sizes < min_area) + 1
        if small.size:
            out[np.isin(labels, small)] = fill_holes
    return out, bool((out != mask).any())


# ---- the segmenter ---------------------------------------------------------------------------------
class SamSegmenter(Segmenter):
    """Segment Anything automatic mask generation (see the module docstring for every step).

    ``model``: a ``transformers.SamModel`` (eval mode); ``processor``: its ``SamProcessor`` (PIL image
    processor). ``info`` of the result records the number of crops, prompts and masks after each filter.
    """

    name = "sam"

    def __init__(self, model, processor, points_per_side: int = 32, points_per_batch: int = 64,
                 pred_iou_thresh: float = 0.86, stability_score_thresh: float = 0.92,
                 stability_score_offset: float = 1.0, mask_threshold: float = 0.0, crop_n_layers: int = 1,
                 crop_overlap_ratio: float = 512 / 1500, crop_n_points_downscale_factor: int = 2,
                 box_nms_thresh: float = 0.7, crop_nms_thresh: float = 0.7, min_area: int = MIN_AREA):
        super().__init__(min_area)
        for name, value in (("points_per_side", points_per_side), ("points_per_batch", points_per_batch),
                            ("crop_n_points_downscale_factor", crop_n_points_downscale_factor)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SemcomError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(crop_n_layers, bool) or not isinstance(crop_n_layers, int) or crop_n_layers < 0:
            raise SemcomError(f"crop_n_layers must be a non-negative integer, got {crop_n_layers!r}")
        for name, value in (("pred_iou_thresh", pred_iou_thresh), ("stability_score_thresh", stability_score_thresh),
                            ("box_nms_thresh", box_nms_thresh), ("crop_nms_thresh", crop_nms_thresh)):
            if not 0 <= value <= 1:
                raise SemcomError(f"{name} must lie in [0, 1], got {value!r}")
        self.model, self.processor = model.eval(), processor
        self.input_size = _square_size(model.config.vision_config.image_size)
        longest = processor.image_processor.size.get("longest_edge") if hasattr(processor, "image_processor") else None
        if longest != self.input_size:
            raise SemcomError(f"the SamProcessor resizes to longest_edge={longest} but the model takes "
                              f"{self.input_size}x{self.input_size} images")
        self.points_per_side, self.points_per_batch = points_per_side, points_per_batch
        self.pred_iou_thresh, self.stability_score_thresh = pred_iou_thresh, stability_score_thresh
        self.stability_score_offset, self.mask_threshold = stability_score_offset, mask_threshold
        self.crop_n_layers, self.crop_overlap_ratio = crop_n_layers, crop_overlap_ratio
        self.downscale = crop_n_points_downscale_factor
        self.box_nms_thresh, self.crop_nms_thresh = box_nms_thresh, crop_nms_thresh

    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | Path, local_files_only: bool = False, **settings) -> SamSegmenter:
        """Load ``SamModel`` and ``SamProcessor`` (PIL backend) from a local folder or a Hub id
        (e.g. ``facebook/sam-vit-huge``; downloaded unless ``local_files_only``). SemcomError for a missing
        folder or an unreadable checkpoint. ``settings``: the generator's keyword arguments."""
        try:
            import transformers
        except ImportError:
            raise SemcomError("SamSegmenter needs transformers: pip install 'semcom[models]'") from None
        source = _source(path_or_hub_id)
        try:
            model = transformers.SamModel.from_pretrained(source, local_files_only=local_files_only)
            processor = transformers.SamProcessor.from_pretrained(source, backend="pil", local_files_only=local_files_only)
        except (OSError, ValueError) as exc:
            raise SemcomError(f"cannot load SAM from {source}: {(str(exc).strip().splitlines() or [''])[0]}") from None
        return cls(model, processor, **settings)

    @torch.no_grad()
    def _masks(self, image):
        h, w = image.shape[1:]
        pixels = tensor_to_uint8(image)
        boxes = crop_boxes(h, w, self.crop_n_layers, self.crop_overlap_ratio)
        stats = {"crops": len(boxes), "prompts": 0, "predicted": 0, "after_quality": 0, "after_crop_nms": 0}
        masks, crop_scores = [], []
        for crop, layer in boxes:
            found, prompts, predicted, passed = self._crop_masks(pixels, crop, layer)
            stats["prompts"] += prompts
            stats["predicted"] += predicted
            stats["after_quality"] += passed
            stats["after_crop_nms"] += len(found)
            area = (crop[2] - crop[0]) * (crop[3] - crop[1])
            masks += found
            crop_scores += [1.0 / area] * len(found)  # across crops, masks from smaller crops win (as SAM)
        if len(boxes) > 1 and masks:
            full = torch.stack(masks)
            keep = box_nms(mask_boxes(full), torch.tensor(crop_scores), self.crop_nms_thresh)
            masks = [masks[i] for i in keep.tolist()]
        stats["after_image_nms"] = len(masks)
        masks = self._clean_small_regions(masks)
        stats["after_small_regions"] = len(masks)
        out = torch.stack(masks) if masks else torch.zeros(0, h, w, dtype=torch.bool)
        return out, stats

    def _crop_masks(self, pixels: np.ndarray, crop, layer: int) -> tuple[list[torch.Tensor], int, int, int]:
        """Masks (bool [H, W], image frame) found in one crop after the quality filters, edge test and NMS;
        also the number of prompts, of predicted masks, and of masks passing the quality filters."""
        x0, y0, x1, y1 = crop
        height, width = pixels.shape[:2]
        crop_h, crop_w = y1 - y0, x1 - x0
        inputs = self.processor(images=pixels[y0:y1, x0:x1], return_tensors="pt")
        embeddings = self.model.get_image_embeddings(inputs["pixel_values"].to(next(self.model.parameters()).dtype))
        new_h, new_w = (int(v) for v in inputs["reshaped_input_sizes"][0])
        points = point_grid(max(1, self.points_per_side // self.downscale**layer))
        points = (points * torch.tensor([new_w, new_h], dtype=torch.float64)).float()  # model input frame
        logits_kept, iou_kept, predicted = [], [], 0
        for start in range(0, points.shape[0], self.points_per_batch):
            batch = points[start : start + self.points_per_batch]
            out = self.model(image_embeddings=embeddings, input_points=batch[None, :, None, :],
                             input_labels=torch.ones(1, batch.shape[0], 1, dtype=torch.long), multimask_output=True)
            iou = out.iou_scores[0].flatten().float()
            low_res = out.pred_masks[0].flatten(0, 1).float()  # [points * 3, h_low, w_low]
            predicted += iou.numel()
            good = iou >= self.pred_iou_thresh  # cheap test first: upsample only the survivors
            if not good.any():
                continue
            logits = self._upsample(low_res[good], (new_h, new_w), (crop_h, crop_w))
            stable = stability_score(logits, self.mask_threshold, self.stability_score_offset)
            keep = quality_keep(iou[good], stable, self.pred_iou_thresh, self.stability_score_thresh)
            logits_kept.append(logits[keep] > self.mask_threshold)
            iou_kept.append(iou[good][keep])
        if not logits_kept:
            return [], points.shape[0], predicted, 0
        masks, scores = torch.cat(logits_kept), torch.cat(iou_kept)
        passed = masks.shape[0]
        boxes = mask_boxes(masks) + torch.tensor([x0, y0, x0, y0], dtype=torch.float32)
        inside = ~near_crop_edge(boxes, crop, width, height) & masks.flatten(1).any(dim=1)
        masks, scores, boxes = masks[inside], scores[inside], boxes[inside]
        keep = box_nms(boxes, scores, self.box_nms_thresh)
        found = [F.pad(masks[i], (x0, width - x1, y0, height - y1)) for i in keep.tolist()]
        return found, points.shape[0], predicted, passed

    def _upsample(self, low_res: torch.Tensor, resized: tuple[int, int], crop: tuple[int, int]) -> torch.Tensor:
        """Low-resolution logits [N, h, w] -> logits at the crop's pixels [N, crop_h, crop_w] (as SAM's
        post-processing: to the padded input size, remove the padding, to the crop size)."""
        s = self.input_size
        x = F.interpolate(low_res[:, None], (s, s), mode="bilinear", align_corners=False)
        x = x[..., : resized[0], : resized[1]]
        return F.interpolate(x, crop, mode="bilinear", align_corners=False)[:, 0]

    def _clean_small_regions(self, masks: list[torch.Tensor]) -> list[torch.Tensor]:
        if not masks:
            return masks
        cleaned, unchanged = [], []
        for m in masks:
            out, changed = remove_small_regions(m.numpy(), self.min_area)
            cleaned.append(torch.from_numpy(out))
            unchanged.append(0.0 if changed else 1.0)
        keep = box_nms(mask_boxes(torch.stack(cleaned)), torch.tensor(unchanged), self.box_nms_thresh)
        return [cleaned[i] for i in keep.tolist() if cleaned[i].any()]


def _square_size(size) -> int:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or pair[0] != pair[1]:
        raise SemcomError(f"SAM models take square inputs; the config says image_size={size!r}")
    return int(pair[0])


def _source(path_or_hub_id: str | Path) -> str:
    """An existing local folder, or a string shaped like a Hub id ("owner/name"); else SemcomError naming the path."""
    path = Path(path_or_hub_id).expanduser()
    if path.is_dir():
        return str(path)
    text = str(path_or_hub_id)
    if path.exists():
        raise SemcomError(f"SAM weights path {text} is a file, not a model folder")
    if isinstance(path_or_hub_id, Path) or not _HUB_ID.match(text) or text.startswith((".", "/", "~")):
        raise SemcomError(f"SAM weights folder not found: {text}")
    return text
