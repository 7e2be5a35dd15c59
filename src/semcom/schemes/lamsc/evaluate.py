"""Building LAM-SC from checkpoints and evaluating it on an image folder over an SNR grid.

Shipped checkpoints live in ``semcom/checkpoints/lamsc/``: ``scorer.pt`` (ASI), ``asc.pt`` (ASC for the
shipped JSCC at the CBR stored inside it) and ``receiver.pt`` (a copy of the JSCC fine-tuned end to end through
that ASC; it codes masked transmissions at both ends); ``control.pt`` is the benchmark's control for the receiver (a
JSCC copy fine-tuned the same way on whole crops), not part of LAM-SC. ``build_lamsc`` takes a path, ``"shipped"`` (the default; an
error naming the training command when the file is missing) or ``"none"`` (the ablation without that part).
"""

from __future__ import annotations

from pathlib import Path

import torch

from semcom.channels import build_channel
from semcom.digital.side import build_side_link
from semcom.jscc.checkpoint import load_jscc
from semcom.jscc.transmitter import DEFAULT_CHECKPOINT
from semcom.schemes.lamsc.loaders import asc_cbr, load_asc, load_receiver, load_scorer, resolve
from semcom.errors import SemcomError
from semcom.schemes.lamsc.scheme import BLOCKS, LamSC
from semcom.schemes.lamsc.scorer import DEFAULT_K, THRESHOLD
from semcom.seeding import make_generator, noise_seed
from semcom.segmentation import build_segmenter


def build_lamsc(channel: str = "awgn", cbr: float | None = None, scorer: str | Path | None = "shipped",
                asc: str | Path | None = "shipped", jscc: str | Path | None = None, segmenter: str = "slic",
                sam_model: str | None = None, k: int = DEFAULT_K, threshold: float = THRESHOLD,
                receiver: str | Path | None = "shipped", side_link: str = "ldpc") -> LamSC:
    """LAM-SC from checkpoints. ``cbr`` defaults to the ASC's training CBR (1/16 without ASC). ``receiver`` is
    ignored without ASC (the plain JSCC decoder then decodes the whole latent). ``side_link``: "ldpc" (the default: the
    ASC side payload really sent on 5G LDPC + QAM, ``semcom.digital.side.SideLink``) or "ideal" (counted at 1 bit per
    channel use, assumed to arrive). ``jscc``: a JSCC checkpoint, None (the ADJSCC the shipped ASC and receiver were
    trained on) or "hybrid" (the shipped hybrid JSCC for ``cbr``, default 1/32, with ``asc="blocks"``, the rule-based
    mask, or "none"; no receiver: ``semcom.schemes.lamsc.scheme.BLOCKS``)."""
    if jscc == "hybrid":
        from semcom.jscc.transmitter import SHIPPED_BY_CBR, default_checkpoint

        cbr = 1 / 32 if cbr is None else cbr
        if not any(abs(c - cbr) < 1e-12 for c in SHIPPED_BY_CBR):
            raise SemcomError(f"no shipped hybrid JSCC for CBR {cbr:g}")
        if asc not in (BLOCKS, "none", None):
            raise SemcomError(f"LAM-SC on the hybrid JSCC masks with asc='{BLOCKS}' (or 'none'), not {asc!r}")
        model = load_jscc(default_checkpoint(cbr))[0]
        scorer_path = resolve(scorer, "scorer")
        return LamSC(model, build_channel(channel), cbr, build_segmenter(segmenter, sam_model),
                     load_scorer(scorer_path)[0] if scorer_path else None, BLOCKS if asc == BLOCKS else None, k,
                     threshold, side_link=build_side_link(side_link, channel))
    if asc == BLOCKS:
        raise SemcomError(f"asc='{BLOCKS}' is LAM-SC's mask on the hybrid JSCC (jscc='hybrid')")
    model, _ = load_jscc(jscc or DEFAULT_CHECKPOINT)
    scorer_path, asc_path = resolve(scorer, "scorer"), resolve(asc, "asc")
    scorer_model = load_scorer(scorer_path)[0] if scorer_path else None
    asc_model, asc_meta = load_asc(asc_path) if asc_path else (None, {})
    if asc_model is not None:
        trained = asc_cbr(asc_meta, asc_path, cbr)
        cbr = trained if cbr is None else cbr
    receiver_path = resolve(receiver, "receiver") if asc_model is not None else None
    receiver_model = load_receiver(receiver_path, model)[0] if receiver_path else None
    link = build_side_link(side_link, channel)
    return LamSC(model, build_channel(channel), cbr if cbr is not None else 1 / 16,
                 build_segmenter(segmenter, sam_model), scorer_model, asc_model, k, threshold, receiver=receiver_model,
                 side_link=link)


def evaluate_lamsc(lamsc: LamSC, images: list[tuple[str, torch.Tensor]], snrs: list[float], seed: int = 0,
                   label: str = "lamsc", on_image=None) -> list[dict]:
    """One row per (image, SNR): channel uses (data, side, total, vs whole-image JSCC at the same CBR), region and
    whole-image quality, segments found and sent, fallback reason, seconds per stage."""
    rows = []
    for index, (name, x) in enumerate(images):
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        full_uses = lamsc.whole_image_uses(*x.shape[1:])
        for snr in snrs:
            gen = make_generator(noise_seed(seed, index, snr, lamsc.cbr))
            result = lamsc.transmit(x, snr, gen)
            rows.append({"scheme": label, "image": name, "snr_db": snr, "cbr": lamsc.cbr, **result.row(x),
                         "uses_vs_full_jscc": result.channel_uses / full_uses,
                         **{f"seconds_{k}": v for k, v in result.seconds.items()}})
            if on_image:
                on_image(rows[-1])
    return rows


def summarize_lamsc(rows: list[dict]) -> list[dict]:
    """Means per (scheme, SNR) of every numeric column; counts of fallbacks and of lost side payloads."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["scheme"], r["snr_db"]), []).append(r)
    out = []
    for (scheme, snr), rs in groups.items():
        numeric = [k for k, v in rs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and k not in ("snr_db", "cbr")]
        out.append({"scheme": scheme, "snr_db": snr, "cbr": rs[0]["cbr"], "images": len(rs),
                    "fallbacks": sum(1 for r in rs if r["fallback"]), "side_losses": sum(1 for r in rs if r["side_lost"]),
                    **{k: sum(r[k] for r in rs) / len(rs) for k in numeric}})
    return out
