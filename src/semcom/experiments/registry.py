"""The one place that knows every scheme: its name, task, how to build it from command-line options, the options of
``semcom transmit`` it takes, and its demo section. ``transmit`` and ``eval`` build schemes only through here.

Adding a scheme: implement ``semcom.types.Scheme`` in a subpackage of ``semcom.schemes`` and add one ``Entry`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from semcom.errors import SemcomError
from semcom.jscc.transmitter import DEFAULT_CBR
from semcom.seeding import noise_seed
from semcom.types import Scheme, Transmission

Options = dict
"""Option name -> value as given on the command line (None: the scheme's default); always holds ``channel``."""


@dataclass(frozen=True)
class Entry:
    """``options``: the scheme options of ``semcom transmit`` it takes (besides --snr, --channel, --seed, --out);
    ``build(options) -> Scheme``; ``seed(seed, snr_db, cbr)``: the noise seed of a one-image transmission;
    ``report(transmission, x)``: extra fields of its printed row; ``demo``: (title, run(folder, images, seed));
    ``source``: what ``semcom transmit`` reads for an image-task scheme: ``image`` (an image file) or ``label-map``
    (an 8-bit PNG of class indices, optionally with its photo: GESCO)."""

    name: str
    task: str
    summary: str
    options: frozenset[str]
    build: Callable[[Options], Scheme]
    seed: Callable[[int, float, float], int] = lambda seed, snr_db, cbr: noise_seed(seed, 0, snr_db, cbr)
    report: Callable[[Transmission, torch.Tensor], dict] | None = None
    demo: tuple[str, Callable] | None = None
    source: str = "image"


def _path(value) -> str | None:
    return str(value) if value else None


def image_scheme(name: str) -> Callable[[Options], Scheme]:
    """Builder of a core image scheme (jscc, softcast, digital, bound) at one CBR."""

    def build(o: Options) -> Scheme:
        from semcom.experiments.evaluate import SchemeSpec, build_transmitter

        kind = {"jscc": None, "softcast": o.get("transform") or "pca"}.get(name, o.get("codec") or "jpeg")
        spec = SchemeSpec(name, kind, _path(o.get("checkpoint")), decode=not o.get("fast"),
                          side_link=o.get("side_link") if name in ("jscc", "softcast") else None,
                          fit_budget=bool(o.get("fit_budget")) if name in ("jscc", "softcast") else False)
        return build_transmitter(spec, o["channel"], o.get("cbr") or DEFAULT_CBR)

    return build


def build_lamsc(o: Options) -> Scheme:
    from semcom.schemes.lamsc.evaluate import build_lamsc as build

    extra = {k: o[k] for k in ("segmenter", "sam_model", "k", "threshold") if o.get(k) is not None}
    if o.get("jscc") not in (None, "adjscc", "hybrid"):
        raise SemcomError(f"unknown LAM-SC JSCC {o['jscc']!r}; choose adjscc (its trained mask and receiver) or hybrid "
                          "(the shipped hybrid JSCC with the block-rule mask)")
    if o.get("jscc") == "hybrid":
        asc = o.get("asc") or "shipped"
        return build(o["channel"], o.get("cbr"), o.get("scorer") or "shipped", "blocks" if asc == "shipped" else asc,
                     jscc="hybrid", side_link=o.get("side_link") or "ldpc", **extra)
    return build(o["channel"], o.get("cbr"), o.get("scorer") or "shipped", o.get("asc") or "shipped",
                 receiver=o.get("receiver") or "shipped", side_link=o.get("side_link") or "ldpc", **extra)


def lamsc_report(tx, x: torch.Tensor) -> dict:
    n = len(tx.segments)
    return {**tx.row(x), "fallback": tx.fallback, "selected": tx.selected[:n].tolist(),
            "scores": None if tx.scores is None else tx.scores[:n].tolist(), "seconds_by_stage": tx.seconds}


def build_splitnn(o: Options) -> Scheme:
    from semcom.schemes.splitnn.checkpoint import shipped_checkpoint
    from semcom.schemes.splitnn.scheme import SplitInference

    return SplitInference.from_checkpoint(o.get("checkpoint") or shipped_checkpoint("semanticnn-c8b3"), o["channel"])


def load_ci_models(client: Path | None = None, server: Path | None = None):
    """The client and server ViTs (shipped unless paths are given), behind the adapter interface."""
    from semcom.schemes.attention_ci import OwnViTAdapter
    from semcom.schemes.attention_ci.train import load_vit, shipped_vit

    return tuple(OwnViTAdapter(load_vit(path or shipped_vit(role))[0]) for path, role in ((client, "client"), (server, "server")))


def build_attention_ci(o: Options) -> Scheme:
    from semcom.schemes.attention_ci.patch_jscc import load_patch_jscc, shipped_patch_jscc
    from semcom.schemes.attention_ci.scheme import CollaborativeInference

    link = o.get("link") or "digital"
    client, server = load_ci_models(o.get("client"), o.get("server"))
    patch_jscc = load_patch_jscc(o.get("patch_jscc") or shipped_patch_jscc()) if link == "analog" else None
    return CollaborativeInference(client, server, link=link, channel=o["channel"], patch_jscc=patch_jscc)


def build_language(o: Options) -> Scheme:
    from semcom.schemes.language import LanguageScheme

    return LanguageScheme(o.get("policy") or "ssc", o.get("link") or "ldpc", o["channel"], o.get("rounds"),
                          o.get("mode") or "word")


def build_gesco(o: Options) -> Scheme:
    from semcom.schemes.gesco.scheme import build_gesco as build

    return build(o["channel"], o.get("cbr"), o.get("transmitter") or "analog", checkpoint=_path(o.get("checkpoint")),
                 diffusion=_path(o.get("diffusion")) or "shipped", steps=o.get("steps"), guidance=o.get("guidance"))


def lamsc_demo(folder, images, seed):
    from semcom.schemes.lamsc.demo import lamsc_section

    return lamsc_section(folder, images, seed)


def splitnn_demo(folder, images, seed):
    from semcom.schemes.splitnn.demo import splitnn_section

    return splitnn_section(folder, seed)


def attention_ci_demo(folder, images, seed):
    from semcom.schemes.attention_ci.demo import attention_ci_section

    return attention_ci_section(folder)


def gesco_demo(folder, images, seed):
    from semcom.schemes.gesco.demo import gesco_section

    return gesco_section(folder, seed)


def language_demo(folder, images, seed):
    from semcom.schemes.language.demo import language_section

    return language_section(folder, images, seed)


IMAGE_OPTIONS = {"jscc": {"cbr", "checkpoint", "side_link", "fit_budget"},
                 "softcast": {"cbr", "transform", "checkpoint", "side_link", "fit_budget"},
                 "digital": {"cbr", "codec"}, "bound": {"cbr", "codec"}}
SCHEMES: dict[str, Entry] = {e.name: e for e in (
    Entry("jscc", "image", "the learned JSCC model", frozenset(IMAGE_OPTIONS["jscc"]), image_scheme("jscc")),
    Entry("softcast", "image", "linear analog transmission (SoftCast, PCA or DCT)",
          frozenset(IMAGE_OPTIONS["softcast"]), image_scheme("softcast")),
    Entry("digital", "image", "codec + 5G LDPC + QAM at the best MCS", frozenset(IMAGE_OPTIONS["digital"]),
          image_scheme("digital")),
    Entry("bound", "image", "codec at the channel capacity, error-free", frozenset(IMAGE_OPTIONS["bound"]),
          image_scheme("bound")),
    Entry("lamsc", "image", "LAM-SC: segment-based semantic transmission",
          frozenset({"cbr", "scorer", "asc", "receiver", "side_link", "jscc"}), build_lamsc,
          seed=lambda seed, snr_db, cbr: seed, report=lamsc_report,
          demo=("LAM-SC: segment-based semantic transmission", lamsc_demo)),
    Entry("splitnn", "classify", "split inference (SemanticNN) on a 32x32 image", frozenset({"checkpoint"}),
          build_splitnn, demo=("Split inference (SemanticNN)", splitnn_demo)),
    Entry("attention-ci", "classify", "attention-aware collaborative inference on a 32x32 image",
          frozenset({"link"}), build_attention_ci,
          demo=("Attention-aware collaborative inference", attention_ci_demo)),
    Entry("language", "text", "language-oriented: a caption sent word by word (seed 002)",
          frozenset({"policy", "link", "rounds", "mode"}), build_language, seed=lambda seed, snr_db, cbr: seed,
          demo=("Language-oriented: a caption sent word by word", language_demo)),
    Entry("gesco", "image", "GESCO: the label map sent, the image regenerated by a semantic diffusion model (seed 001)",
          frozenset({"cbr", "transmitter", "checkpoint", "diffusion", "steps", "guidance"}), build_gesco,
          demo=("GESCO: send the label map, regenerate the image", gesco_demo), source="label-map"),
)}
TRANSMIT_OPTIONS = sorted(set().union(*(e.options for e in SCHEMES.values())))


def get(name: str) -> Entry:
    if name not in SCHEMES:
        raise SemcomError(f"unknown scheme {name!r}; choose one of {', '.join(SCHEMES)}")
    return SCHEMES[name]


def demo_sections() -> list:
    """The schemes' sections of the demo report, in registry order."""
    from semcom.experiments.demo import DemoSection

    return [DemoSection(e.name.replace("-", "_"), e.demo[0], e.demo[1]) for e in SCHEMES.values() if e.demo]
