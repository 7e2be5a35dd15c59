"""Named SemanticNN configurations and the baselines, all on the CIFAR-10 ResNet-20 split after ``layer2``.

Features at the split: 32 x 16 x 16 float32 = 262,144 bits per image; the raw image is 24,576 bits.
Every variant downsamples by 2 (8 x 8 symbol maps). The split is after layer2 rather than after the stem
(the seed's choice for 224-pixel ImageNet-style inputs): on native 32x32 CIFAR images the early features
are not redundant enough for a 100x-plus code, and the later ones are cheaper to train through. Digital variants send their bits with QPSK, so
semanticnn-c8b3 uses 1536 bits = 768 complex channel uses; the analog variants use 24 real maps =
768 complex channel uses too, so every 768-use variant is compared at equal bandwidth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from semcom.errors import SemcomError
from semcom.schemes.splitnn.codec import SplitCodecConfig
from semcom.splitting import SplitModel, load_cifar_resnet

SPLIT_MODEL = "cifar-resnet20"
SPLIT_AT = "layer2"
STAGE2_LOSSES = ("ce", "kd", "none")
DECODER_WIDTH = 32
STRIDE = 2


SPLIT_MODELS = ("cifar-resnet20", "efficientnet-lite0")
LINKS = ("uncoded", "adaptive")
"""How a digital variant's bits travel: ``uncoded`` - straight over QPSK (the seed's bit channel);
``adaptive`` - as one 5G LDPC + QAM transport block at the cheapest MCS reliable at the SNR, uncoded
when no MCS is (see ``semcom.schemes.splitnn.link``)."""


@dataclass(frozen=True)
class Variant:
    name: str
    codec: dict = field(default_factory=dict)  # SplitCodecConfig fields except feature_channels
    stage2: str = "ce"  # "ce": cross-entropy on labels | "kd": distillation from the uncompressed model | "none"
    summary: str = ""
    model: str = SPLIT_MODEL  # the classifier it splits: cifar-resnet20 | efficientnet-lite0
    split_at: str = SPLIT_AT
    link: str = "uncoded"  # see LINKS
    clean_snr_db: float = 20.0  # adaptive link: the SNR the codec is told when the coded block arrives intact
    kd_temperature: float = 4.0  # stage2 "kd": distillation temperature
    feature_weight: float = 0.0  # stage 2: weight of the feature-MSE term added to the task loss (a dense target
    # that keeps a codec trained on few images from fitting their labels alone)

    def __post_init__(self):
        if self.link not in LINKS:
            raise SemcomError(f"unknown link {self.link!r}; choose one of {', '.join(LINKS)}")
        if self.stage2 not in STAGE2_LOSSES:
            raise SemcomError(f"unknown stage-2 loss {self.stage2!r}; choose one of {', '.join(STAGE2_LOSSES)}")
        if self.kd_temperature <= 0 or self.feature_weight < 0:
            raise SemcomError("kd_temperature must be > 0 and feature_weight >= 0")
        if self.link == "adaptive" and not self.codec.get("bits"):
            raise SemcomError("the adaptive link carries bits: it needs a digital codec (bits > 0)")

    def codec_config(self, feature_channels: int) -> SplitCodecConfig:
        return SplitCodecConfig(feature_channels=feature_channels, **{"width": DECODER_WIDTH, "stride": STRIDE, **self.codec})

    def to_dict(self) -> dict:
        return asdict(self)


VARIANTS = {v.name: v for v in (
    Variant("semanticnn-c8b3", {"channels": 8, "bits": 3}, "ce",
            "SemanticNN: 8 maps x 3-bit learned levels, 1536 bits/image"),
    Variant("semanticnn-c4b2", {"channels": 4, "bits": 2}, "ce",
            "SemanticNN: 4 maps x 2-bit learned levels, 512 bits/image"),
    Variant("semanticnn-c8b3-snr", {"channels": 8, "bits": 3, "encoder_snr": True}, "kd",
            "SemanticNN with an SNR-adaptive device encoder (the device knows the SNR) trained by distillation: "
            "1536 bits/image"),
    Variant("semanticnn-c8b3-la", {"channels": 8, "bits": 3, "encoder_snr": True}, "kd",
            "SemanticNN with link adaptation: the same 1536 bits/image as one LDPC + QAM transport block at the "
            "cheapest reliable MCS (exact at the server), uncoded QPSK when no MCS is reliable; SNR-adaptive codec "
            "trained from -6 dB up to clean (20 dB)", link="adaptive"),
    Variant("semanticnn-c12b3-la", {"channels": 12, "bits": 3, "encoder_snr": True}, "kd",
            "semanticnn-c8b3-la with 12 maps: 2304 bits/image (114x fewer than the features)", link="adaptive"),
    Variant("analog-c24", {"channels": 24, "bits": 0}, "ce",
            "SemanticNN's analog variant: 24 unquantised maps over the complex channel, 768 uses"),
    Variant("adjscc-c24", {"channels": 24, "bits": 0, "encoder_snr": True}, "none",
            "ADJSCC baseline: SNR-adaptive analog JSCC of the features, trained on feature MSE only"),
    Variant("deepcod-c8b3", {"channels": 8, "bits": 3, "decoder": "attention"}, "kd",
            "DeepCOD baseline: self-attention decoder trained by distillation, 1536 bits/image"),
    Variant("effnet-block2-c8b3-la", {"channels": 8, "bits": 3, "encoder_snr": True}, "kd",
            "SemanticNN on EfficientNet-Lite0 (ImageNet) split after block2 (24x56x56): 8 maps of 28x28 x 3 bits = "
            "18816 bits/image (128x fewer than the features), link-adaptive, trained from -6 dB up to clean (20 dB) "
            "on photo, CamVid and upsampled CIFAR crops by distillation at T=1 from the uncompressed model (no "
            "ImageNet labels here) plus feature MSE",
            model="efficientnet-lite0", split_at="block2", link="adaptive", kd_temperature=1.0, feature_weight=1.0),
    Variant("effnet-block2-c24b3-la", {"channels": 24, "bits": 3, "encoder_snr": True}, "kd",
            "effnet-block2-c8b3-la with 24 maps: 56448 bits/image (43x fewer than the features, 21x fewer than the "
            "raw 224 px image)",
            model="efficientnet-lite0", split_at="block2", link="adaptive", kd_temperature=1.0, feature_weight=1.0),
)}


CIFAR_VARIANTS = tuple(name for name, v in VARIANTS.items() if v.model == SPLIT_MODEL)


def get_variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise SemcomError(f"unknown splitnn variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def default_split(weights: str | None = None) -> SplitModel:
    """The pretrained CIFAR-10 ResNet-20 (shipped, or ``weights``) cut after ``layer2``."""
    return SplitModel(load_cifar_resnet(20, weights), SPLIT_AT)


def split_for(variant: Variant, weights: str | None = None) -> SplitModel:
    """The frozen classifier a variant plugs into, cut at its split point (``weights``: CIFAR ResNet-20 only)."""
    if variant.model == SPLIT_MODEL:
        return SplitModel(load_cifar_resnet(20, weights), variant.split_at)
    if variant.model == "efficientnet-lite0":
        from semcom.splitting import load_efficientnet_lite0

        return SplitModel(load_efficientnet_lite0(), variant.split_at)
    raise SemcomError(f"unknown split model {variant.model!r}; choose one of {', '.join(SPLIT_MODELS)}")
