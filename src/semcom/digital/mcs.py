"""Modulation and coding schemes (MCS), their measured block error rates, and MCS selection.

An image travels as one transport block: its bytes, a 24-bit CRC and zero padding, split into
codewords of k information bits (``CODEWORD_BITS`` = 1920 code bits each). The CRC is modelled,
not computed: a block counts as failed when any decoded codeword differs from the one sent (a
genie check), so the 2^-24 probability that a real CRC-24 misses an error is neglected; the 24
bits are still paid for in ``capacity_bits``. The receiver is assumed to know the payload length
(signalled out of band, like the transport block size in 5G).

BLER curves come from ``benchmarks/digital_bler_table.py`` (shipped in tables/bler.json). Lookup is
conservative: the larger of (a) the measured curve's non-increasing upper envelope (BLER at a grid
point = the largest BLER measured at that point or any higher SNR) read at the nearest grid point at
or below the requested SNR, and (b) a logistic waterfall, BLER = 1 / (1 + exp((snr - mu) / w)), fitted
to every measured point by maximum likelihood; below the first point BLER = 1. Why (b): a measured 0
only means no failure among that point's ~100 codewords, and an image spans up to ~150 codewords, so
reading 0 there made the chain pick an MCS right at its cliff (seen on Kodak: a third of the images
lost at 13 dB on fast Rayleigh, more than at 10 dB). The fitted tail prices the distance from the
cliff; checked against those Kodak decodes (per-codeword BLER from the share of lost images): 16-QAM
2/3 on AWGN at 10 dB measured 1.2e-3, logistic 1.1e-3 (a probit fit said 9e-5); on Rayleigh at 13 dB
measured 2.9e-3, logistic 4.9e-3. The benchmark mode of DigitalChain (decode=True) measures the real
outcome either way.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path

from semcom.channels.theory import bits_per_symbol
from semcom.digital.capacity import check_channel, check_channel_uses, check_scalar_snr_db
from semcom.digital.link import CODEWORD_BITS, DigitalLink
from semcom.errors import SemcomError

CRC_BITS = 24

SHORT_CODEWORD_BITS = 240
"""Code bits of a short codeword (the ``SHORT_MCS_TABLE`` family, 1/8 of ``CODEWORD_BITS``): for payloads of a few
dozen bits (side information, single words), which a 1,920-bit codeword would mostly fill with padding. Its BLER is
measured separately (``tables/bler-n240.json``): a short LDPC code needs more SNR for the same BLER."""

TARGET_SUCCESS = 0.99
"""The one reliability target of every digital link in semcom (images, split features, SemanticNN's bits,
collaborative-inference requests, side payloads): an MCS is used only when its predicted probability that every
codeword of the transport block decodes is at least this, so at most about 1 % of payloads are lost. (Before
issue 20 the image chain and the feature baseline used 0.9, which lost 4-20 % of the images at some points.)"""


@dataclass(frozen=True)
class MCS:
    """A modulation with an LDPC code rate; codewords of ``n`` code bits."""

    modulation: str
    code_rate: Fraction
    n: int = CODEWORD_BITS

    @property
    def rate_name(self) -> str:
        """Modulation and code rate, e.g. ``qpsk-1/2`` (how a BLER table keys its curves)."""
        return f"{self.modulation}-{self.code_rate.numerator}/{self.code_rate.denominator}"

    @property
    def name(self) -> str:
        """``rate_name``, with ``-n<bits>`` for a codeword length other than ``CODEWORD_BITS`` (``qpsk-1/4-n240``)."""
        return self.rate_name if self.n == CODEWORD_BITS else f"{self.rate_name}-n{self.n}"

    @property
    def bits_per_symbol(self) -> int:
        return bits_per_symbol(self.modulation)

    @property
    def k(self) -> int:
        """Information bits per codeword."""
        return int(self.n * self.code_rate)

    @property
    def symbols_per_codeword(self) -> int:
        return self.n // self.bits_per_symbol

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex channel use: bits_per_symbol * code_rate."""
        return self.k / self.symbols_per_codeword

    def link(self) -> DigitalLink:
        """The (cached) DigitalLink implementing this MCS."""
        return build_link(self)


@cache
def build_link(mcs: MCS) -> DigitalLink:
    return DigitalLink(mcs.modulation, mcs.code_rate, mcs.n)


MCS_TABLE: tuple[MCS, ...] = tuple(
    MCS(modulation, Fraction(rate))
    for modulation, rates in (
        ("qpsk", ("1/4", "1/3", "1/2", "2/3", "3/4", "5/6")),
        ("16qam", ("1/2", "2/3", "3/4", "5/6")),
        ("64qam", ("2/3", "3/4", "5/6")),
        ("256qam", ("3/4", "5/6")),
    )
    for rate in rates
)
"""The MCS ladder, by increasing spectral efficiency (0.5 to 6.67 bit per channel use)."""

SHORT_MCS_TABLE: tuple[MCS, ...] = tuple(MCS(m.modulation, m.code_rate, SHORT_CODEWORD_BITS) for m in MCS_TABLE)
"""The same ladder on ``SHORT_CODEWORD_BITS``-bit codewords (names ``<mcs>-n240``)."""

MCS_BY_LENGTH: dict[int, tuple[MCS, ...]] = {CODEWORD_BITS: MCS_TABLE, SHORT_CODEWORD_BITS: SHORT_MCS_TABLE}


def check_lengths(lengths) -> tuple[int, ...]:
    """Codeword lengths a link may choose from: a non-empty subset of ``MCS_BY_LENGTH``."""
    lengths = tuple(lengths)
    if not lengths or any(n not in MCS_BY_LENGTH for n in lengths):
        raise SemcomError(f"codeword lengths must be some of {', '.join(map(str, MCS_BY_LENGTH))}, got {lengths!r}")
    return lengths


def get_mcs(name: str) -> MCS:
    for mcs in MCS_TABLE + SHORT_MCS_TABLE:
        if mcs.name == name:
            return mcs
    raise SemcomError(f"unknown MCS {name!r}; choose one of {', '.join(m.name for m in MCS_TABLE)} "
                      f"(add -n{SHORT_CODEWORD_BITS} for {SHORT_CODEWORD_BITS}-bit codewords)")


def max_codewords(mcs: MCS, channel_uses: int) -> int:
    """Whole codewords that fit in ``channel_uses`` complex channel uses."""
    return check_channel_uses(channel_uses) // mcs.symbols_per_codeword


def capacity_bits(mcs: MCS, channel_uses: int) -> int:
    """Payload bits of one transport block in ``channel_uses``: whole codewords * k - CRC_BITS (>= 0)."""
    return max(0, max_codewords(mcs, channel_uses) * mcs.k - CRC_BITS)


def codewords_needed(mcs: MCS, payload_bits: int) -> int:
    """Codewords carrying ``payload_bits`` plus the CRC."""
    return math.ceil((payload_bits + CRC_BITS) / mcs.k)


@dataclass(frozen=True)
class BlerCurve:
    """Measured block errors of one MCS on one channel: ``failed[i]`` of ``codewords[i]`` at ``snr_db[i]``."""

    snr_db: tuple[float, ...]
    codewords: tuple[int, ...]
    failed: tuple[int, ...]

    def envelope(self) -> list[float]:
        """Non-increasing upper envelope of the measured BLER on the SNR grid."""
        out, running = [], 0.0
        for failed, total in zip(reversed(self.failed), reversed(self.codewords)):
            running = max(running, failed / total)
            out.append(running)
        return out[::-1]

    def waterfall(self) -> tuple[float, float]:
        """(mu, w) in dB of the logistic model BLER = 1 / (1 + exp((snr - mu) / w)), maximum likelihood over the points."""
        return _fit_waterfall(self.snr_db, self.codewords, self.failed)

    def bler(self, snr_db: float) -> float:
        """Conservative BLER at ``snr_db``: the larger of the envelope at the nearest grid point at or below it
        and the fitted waterfall (see the module docstring); 1 below the first grid point."""
        i = bisect_right(self.snr_db, snr_db + 1e-9) - 1
        if i < 0:
            return 1.0
        mu, width = self.waterfall()
        z = (snr_db - mu) / width
        return max(self.envelope()[i], math.exp(-z) / (1 + math.exp(-z)) if z > 0 else 1 / (1 + math.exp(z)))

    def min_snr_db(self, bler_below: float) -> float | None:
        """Lowest grid SNR whose BLER (``bler``) is below ``bler_below``; None if never reached."""
        return next((s for s in self.snr_db if self.bler(s) < bler_below), None)


@cache
def _fit_waterfall(snr_db: tuple[float, ...], codewords: tuple[int, ...], failed: tuple[int, ...]) -> tuple[float, float]:
    import numpy as np
    from scipy.optimize import minimize

    s, n, f = (np.asarray(v, dtype=np.float64) for v in (snr_db, codewords, failed))

    def nll(params):
        mu, log_width = params
        z = (s - mu) / np.exp(log_width)
        return (f * np.logaddexp(0.0, z) + (n - f) * np.logaddexp(0.0, -z)).sum()  # -log p = log(1 + e^z)

    start = s[np.argmin(np.abs(f / n - 0.5))] if len(s) else 0.0
    best = minimize(nll, x0=[start, math.log(0.2)], method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-8})
    mu, log_width = best.x
    return float(mu), float(np.exp(np.clip(log_width, math.log(0.01), math.log(10.0))))


@dataclass(frozen=True)
class BlerTable:
    """BLER curves per channel and MCS name, plus the configuration that produced them."""

    config: dict
    curves: dict[str, dict[str, BlerCurve]]

    def curve(self, channel: str, mcs: MCS) -> BlerCurve:
        if self.config.get("n", CODEWORD_BITS) != mcs.n:
            raise SemcomError(f"this BLER table was measured on {self.config.get('n')}-bit codewords, {mcs.name} "
                              f"has {mcs.n}: use load_bler_table({mcs.n})")
        try:
            return self.curves[check_channel(channel)][mcs.rate_name]
        except KeyError:
            raise SemcomError(
                f"no measured BLER for {mcs.name} on {channel}; regenerate with benchmarks/digital_bler_table.py"
            ) from None

    def bler(self, channel: str, mcs: MCS, snr_db: float) -> float:
        return self.curve(channel, mcs).bler(snr_db)

    def success_probability(self, channel: str, mcs: MCS, snr_db: float, codewords: int) -> float:
        """Predicted probability that all ``codewords`` decode: (1 - BLER) ** codewords."""
        return (1.0 - self.bler(channel, mcs, snr_db)) ** codewords

    def to_json(self, path: str | Path) -> None:
        curves = {channel: {name: asdict(c) for name, c in by_mcs.items()} for channel, by_mcs in self.curves.items()}
        Path(path).write_text(json.dumps({"config": self.config, "curves": curves}, indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | Path, n: int = CODEWORD_BITS) -> BlerTable:
        raw = json.loads(Path(path).read_text())
        if raw["config"]["n"] != n:
            raise SemcomError(f"BLER table {path} was measured with n={raw['config']['n']}, not {n}")
        curves = {
            channel: {name: BlerCurve(**{key: tuple(values) for key, values in c.items()}) for name, c in by_mcs.items()}
            for channel, by_mcs in raw["curves"].items()
        }
        return cls(raw["config"], curves)


DEFAULT_TABLE = "tables/bler.json"
TABLES = {CODEWORD_BITS: DEFAULT_TABLE, SHORT_CODEWORD_BITS: f"tables/bler-n{SHORT_CODEWORD_BITS}.json"}


@cache
def load_bler_table(n: int = CODEWORD_BITS) -> BlerTable:
    """The BLER table shipped with semcom for ``n``-bit codewords (tables/bler.json; tables/bler-n240.json for the
    short family), loaded once."""
    if n not in TABLES:
        raise SemcomError(f"no BLER table for {n}-bit codewords; semcom ships {', '.join(map(str, TABLES))}")
    with resources.as_file(resources.files("semcom.digital") / TABLES[n]) as path:
        return BlerTable.from_json(path, n)


def check_target_success(target_success: float) -> float:
    if isinstance(target_success, bool) or not isinstance(target_success, (int, float)) or not 0.0 < target_success <= 1.0:
        raise SemcomError(f"target_success must lie in (0, 1], got {target_success!r}")
    return float(target_success)


def select_mcs(
    snr_db: float, channel: str, channel_uses: int, target_success: float = TARGET_SUCCESS,
    table: BlerTable | None = None
) -> MCS | None:
    """The MCS carrying the most payload bits in ``channel_uses`` whose predicted probability that
    every codeword decodes, (1 - BLER) ** max_codewords, is at least ``target_success``.

    ``table`` defaults to the shipped BLER table. Ties go to the lower spectral efficiency.
    Returns None when no MCS fits a codeword into the budget at that reliability.
    """
    snr = check_scalar_snr_db(snr_db)
    check_channel(channel)
    check_channel_uses(channel_uses)
    check_target_success(target_success)
    table = table or load_bler_table()
    fitting = [
        mcs for mcs in MCS_TABLE
        if capacity_bits(mcs, channel_uses) > 0
        and table.success_probability(channel, mcs, snr, max_codewords(mcs, channel_uses)) >= target_success
    ]
    return max(fitting, key=lambda m: (capacity_bits(m, channel_uses), -m.spectral_efficiency), default=None)
