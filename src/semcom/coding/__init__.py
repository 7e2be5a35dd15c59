"""Source-coding building blocks shared by schemes: learned scalar quantisation, bit packing, masks as bytes."""

from semcom.coding.masks import decode_mask, encode_mask
from semcom.coding.quantizer import (
    LearnedScalarQuantizer, bits_to_indices, from_gray, indices_to_bits, pack_indices, to_gray, unpack_indices,
)

__all__ = [
    "LearnedScalarQuantizer", "bits_to_indices", "decode_mask", "encode_mask", "from_gray", "indices_to_bits", "pack_indices", "to_gray",
    "unpack_indices",
]
