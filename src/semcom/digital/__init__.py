"""The digital separation baseline: image codec -> bytes -> 5G LDPC + QAM (Sionna) -> channel.

codecs    jpeg / webp / jpeg2000 / avif / jpegxl with rate control to a byte budget
link      DigitalLink: LDPC-coded QAM over a semcom ComplexChannel, real encode/decode
mcs       MCS ladder, measured BLER table (tables/bler.json), select_mcs, capacity_bits
capacity  capacity in bits (AWGN, Rayleigh ergodic) for the codec-at-capacity bound
transport send_bytes: any payload bytes as one transport block over the link (or drawn from the
          BLER table), mcs_for_payload: the cheapest reliable MCS for a payload size
chain     DigitalChain (end to end) and CapacityBound, both returning semcom.types.Transmission

Sionna is imported only when a DigitalLink is built.
"""

from semcom.digital.capacity import DIGITAL_CHANNELS, capacity_bits_per_use, capacity_bound_bits
from semcom.digital.chain import GRID, CapacityBound, DigitalChain, channel_use_budget
from semcom.digital.codecs import CODEC_NAMES, Codec, available_codecs, get_codec
from semcom.digital.link import CODEWORD_BITS, DigitalLink
from semcom.digital.mcs import (
    CRC_BITS, MCS, MCS_TABLE, TARGET_SUCCESS, BlerCurve, BlerTable, capacity_bits, get_mcs, load_bler_table,
    select_mcs,
)
from semcom.digital.transport import Delivery, block_to_bytes, bytes_to_block, mcs_for_payload, send_bytes

__all__ = [
    "CODEC_NAMES", "CODEWORD_BITS", "CRC_BITS", "DIGITAL_CHANNELS", "GRID", "MCS", "MCS_TABLE", "TARGET_SUCCESS",
    "BlerCurve", "BlerTable",
    "CapacityBound", "Codec", "Delivery", "DigitalChain", "DigitalLink", "available_codecs", "block_to_bytes",
    "bytes_to_block", "capacity_bits", "capacity_bits_per_use", "capacity_bound_bits", "channel_use_budget", "get_codec",
    "get_mcs",
    "load_bler_table", "mcs_for_payload", "select_mcs", "send_bytes",
]
