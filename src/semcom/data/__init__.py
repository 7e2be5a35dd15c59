"""Images: loading with clear errors, training crops, the bundled demo set and shared data folders; CamVid label maps."""

from semcom.data.camvid import (
    CAMVID, LabelCrops, LabeledImages, LabelSet, camvid_pairs, check_labels, colorize, load_camvid, load_label_map,
)
from semcom.data.cifar import (
    CIFAR10_CLASSES, CifarBatches, cifar10_test, cifar10_train, cifar_demo_images, random_crop_flip,
)
from semcom.data.crops import RandomCrops, center_crops, split_train_val
from semcom.data.images import (
    check_batch, check_image, list_images, load_folder, load_image, save_image, tensor_to_uint8, uint8_to_tensor,
)
from semcom.data.sources import DEMO_IMAGES, demo_images, shared_data_dir, shared_subdir

__all__ = [
    "cifar_demo_images",
    "DEMO_IMAGES", "RandomCrops", "center_crops", "check_batch", "check_image", "demo_images", "list_images",
    "load_folder", "load_image", "save_image", "shared_data_dir", "shared_subdir", "split_train_val",
    "tensor_to_uint8", "uint8_to_tensor",
    "CIFAR10_CLASSES", "CifarBatches", "cifar10_test", "cifar10_train", "random_crop_flip",
    "CAMVID", "LabelCrops", "LabelSet", "LabeledImages", "camvid_pairs", "check_labels", "colorize", "load_camvid",
    "load_label_map",
]
