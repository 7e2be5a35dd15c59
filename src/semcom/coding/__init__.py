"""Source-coding building blocks shared by schemes: learned scalar quantisation and bit packing."""

from semcom.coding.quantizer import (
    LearnedScalarQuantizer, bits_to_indices, indices_to_bits, pack_indices, unpack_indices,
)

__all__ = ["LearnedScalarQuantizer", "bits_to_indices", "indices_to_bits", "pack_indices", "unpack_indices"]
