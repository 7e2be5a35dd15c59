"""``semcom eval language`` and the text path of ``semcom transmit --scheme language``: a caption sent word by word
(or whole) over a real link; what arrives each round and how close the receiver's prompt is to the full caption."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from semcom.cli.common import (
    CHANNEL_COLUMN,
    FORMAT_HELP,
    OVERWRITE_HELP,
    SNR_COLUMN,
    Column,
    check_format,
    eval_app,
    number,
    out_console,
    parse_names,
    parse_snrs,
    progress_bar,
    progress_steps,
    render,
    saved_note,
)
from semcom.digital.capacity import DIGITAL_CHANNELS
from semcom.errors import SemcomError
from semcom.outputs import atomic_folder, check_output_folder

POLICY_HELP = ("random | nouns | nouns-verbs | ssc | sender-attention | receiver-attention | both-attention | oracle | "
               "skd, comma-separated, or all")
LINK_HELP = ("ldpc (5G LDPC + QAM on 1,920-bit codewords, a failed block is a missing word) | ldpc-short (may use "
             "240-bit codewords too: what a word needs) | qam16 (uncoded, corrupts words) | ideal")
COLUMNS = [Column("policy", lambda r: r["policy"], key=True), CHANNEL_COLUMN, SNR_COLUMN,
           Column("sim r1", lambda r: f"{r['similarity_by_round'][0]:.3f}"),
           Column("sim final", number("similarity", 3)),
           Column("rounds to 90%", lambda r: ("-" if r["rounds_to_90"] is None else f"{r['rounds_to_90']:.2f}")
                  + f" ({r['reached_90']:.0%})"),
           Column("WER", number("wer", 3)), Column("uses/round", number("channel_uses_per_round", 1))]


def read_captions(captions: Path | None, limit: int | None) -> list[str]:
    """Captions from a text file (one per line), a Flickr8k folder (test split, first caption each) or, by
    default, the shared data folder's flickr8k_captions ($SEMCOM_DATA or ../shared/data)."""
    from semcom.schemes.language.captions import flickr8k_captions

    if captions is not None and captions.is_file():
        lines = [line.strip() for line in captions.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise SemcomError(f"no captions in {captions}")
        return lines[:limit]
    from semcom.data.sources import shared_subdir

    root = captions or shared_subdir("flickr8k_captions")
    if not root.is_dir():
        raise SemcomError(f"no captions at {root}: give --captions FILE (one caption per line) or a Flickr8k folder")
    return [c for _, c in flickr8k_captions(root, "test", limit)]


def parse_policies(text: str) -> list[str]:
    from semcom.schemes.language.policies import POLICIES, check_policy

    names = parse_names(text)
    return list(POLICIES) if names == ["all"] else [check_policy(p) for p in names]


IMAGE_COLUMNS = [Column("policy", lambda r: r["policy"], key=True), CHANNEL_COLUMN, SNR_COLUMN,
                 Column("round", lambda r: str(r["round"]), key=True), Column("LPIPS", number("lpips", 3)),
                 Column("CLIP score", number("clip_score", 1)), Column("sim", number("similarity", 3)),
                 Column("uses so far", number("channel_uses", 0)), Column("images", lambda r: str(r["images"]))]
ATTENTION_HELP = ("Word-attention source of the attention policies: minilm (the bundled sentence encoder) | clip "
                  "(DIR/clip of --model-dir) | a CLIP model folder. Default: clip with --model-dir, else minilm.")


def attention_source(attention: str | None, models, device: str = "cpu"):
    """None (the sentence encoder) or a ``ClipScorer`` to take word attention from (``models.clip`` for clip)."""
    from semcom.adapters.vision_language import ClipScorer

    if attention is None:
        attention = "clip" if models is not None else "minilm"
    if attention == "minilm":
        return None
    if attention == "clip":
        if models is None:
            raise SemcomError("--attention clip takes CLIP from --model-dir DIR (DIR/clip); or give a CLIP folder")
        return models.clip
    return ClipScorer(Path(attention), device=device)


def image_items(images: Path | None, captions: Path | None, limit: int | None, captioner) -> list[tuple]:
    """[(name, image, caption)]: the images of --images (or the Flickr8k test images where present) with their
    captions: from the captioner (DIR/blip), else the lines of a caption file (n-th line, n-th image), else their
    first Flickr8k caption (by file name)."""
    from semcom.data import list_images, load_image
    from semcom.data.sources import shared_data_dir
    from semcom.schemes.language.captions import first_captions, flickr8k_captions, flickr8k_image_folder

    flickr = captions if captions is not None and captions.is_dir() else None
    if flickr is None and shared_data_dir() is not None and (shared_data_dir() / "flickr8k_captions").is_dir():
        flickr = shared_data_dir() / "flickr8k_captions"
    if images is not None:
        files = list_images(images)[:limit]
    else:
        folder = flickr8k_image_folder(flickr) if flickr is not None else None
        if folder is None:
            raise SemcomError("no images for --model-dir: give --images FOLDER (or put the Flickr8k images in "
                              "flickr8k_captions/Flicker8k_Dataset)")
        files = [folder / n for n, _ in flickr8k_captions(flickr, "test") if (folder / n).is_file()][:limit]
        if not files:
            raise SemcomError(f"no Flickr8k test images in {folder}")
    if captioner is not None:
        texts = [None] * len(files)
    elif captions is not None and captions.is_file():
        texts = [line.strip() for line in captions.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(texts) < len(files):
            raise SemcomError(f"{captions} has {len(texts)} captions for {len(files)} images (one line per image)")
    else:
        first = first_captions(flickr) if flickr is not None else {}
        texts = [first.get(f.name) for f in files]
        if None in texts:
            missing = files[texts.index(None)].name
            raise SemcomError(f"no caption for {missing}: add a BLIP captioner as DIR/blip/, give --captions FILE "
                              "(one per image) or use Flickr8k images")
    items = []
    for f, text in zip(files, texts):
        x = load_image(f)
        items.append((f.name, x, text if captioner is None else captioner.caption(x)))
    return items


@eval_app.command("language")
def eval_language(
    policy: Annotated[str, typer.Option(help=POLICY_HELP)] = "all",
    snr: Annotated[str, typer.Option(help="SNR grid in dB (Es/N0); ignored by --link ideal.")] = "0,5,10",
    rounds: Annotated[int | None, typer.Option(help="Round budget (default: one round per word).")] = None,
    link: Annotated[str, typer.Option(help=LINK_HELP)] = "ldpc",
    channel: Annotated[str, typer.Option(help=" | ".join(DIGITAL_CHANNELS))] = "awgn",
    mode: Annotated[str, typer.Option(help="word (one word per round) | caption (the whole caption at once)")] = "word",
    captions: Annotated[Path | None, typer.Option(
        help="A text file, one caption per line (with --model-dir: the n-th for the n-th image), or a Flickr8k "
             "captions folder (default: the shared Flickr8k test captions).")] = None,
    limit: Annotated[int | None, typer.Option(help="Use only the first N captions (images).")] = 20,
    seed: Annotated[int, typer.Option()] = 0,
    attention: Annotated[str | None, typer.Option(help=ATTENTION_HELP)] = None,
    model_dir: Annotated[Path | None, typer.Option(
        help="Run the image loop with the models in DIR: DIR/stable-diffusion, DIR/clip, DIR/lpips/alexnet.pth and "
             "optionally DIR/blip (see the README).")] = None,
    images: Annotated[Path | None, typer.Option(
        help="--model-dir: the images to caption and regenerate (default: the Flickr8k test images, where present: "
             "flickr8k_captions/Flicker8k_Dataset).")] = None,
    device: Annotated[str, typer.Option(help="--model-dir: cpu | cuda.")] = "cpu",
    steps: Annotated[int, typer.Option(help="--model-dir: Stable Diffusion steps (the seed's 50).")] = 50,
    out: Annotated[Path | None, typer.Option(help="Write results.json and results.csv into this folder.")] = None,
    save_images: Annotated[bool, typer.Option("--save-images", help="--model-dir: also write every generated image "
                                                                    "into --out (one per distinct prompt).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help=OVERWRITE_HELP)] = False,
    format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "table",
):
    """Similarity of the received prompt to the full caption per round, rounds to 90 %, WER and channel uses; with
    --model-dir, per round the image Stable Diffusion makes of the prompt: LPIPS to the original, CLIP score."""
    from semcom.schemes.language import LanguageScheme, Orderer

    fmt, policies = check_format(format), parse_policies(policy)
    snrs = [0.0] if link == "ideal" else parse_snrs(snr)
    if model_dir is None:
        given = [o for o, v in (("--images", images), ("--device", device != "cpu"), ("--steps", steps != 50),
                                ("--save-images", save_images)) if v]
        if given:
            raise SemcomError(f"{', '.join(given)} need --model-dir DIR (the image loop)")
    if save_images and out is None:
        raise SemcomError("--save-images writes into --out FOLDER: give --out")
    if out is not None:
        check_output_folder(out, overwrite)
    models = None
    if model_dir is not None:
        from semcom.schemes.language.images import load_model_dir

        models = load_model_dir(model_dir, device, steps)
    orderer = Orderer(attention=attention_source(attention, models, device))
    schemes = {p: LanguageScheme(p, link, channel, rounds, mode, orderer=orderer) for p in policies}
    with atomic_folder(out, overwrite) if out is not None else nullcontext() as tmp:
        if models is None:
            texts = read_captions(captions, limit)
            rows, details = text_rows(schemes, snrs, texts, orderer, seed), None
            title = f"language-oriented transmission of {len(texts)} captions over {link}"
        else:
            from semcom.schemes.language.images import evaluate_images

            items = image_items(images, captions, limit, models.captioner)
            with progress_bar() as bar:
                task = bar.add_task("eval language (images)", total=len(policies) * len(snrs) * len(items))
                rows, details = evaluate_images(items, schemes, snrs, models, orderer.sender.similarity, seed,
                                                tmp / "images" if save_images else None, lambda: bar.advance(task))
            common = {"scheme": "language", "link": link, "mode": mode, "channel": channel, "seed": seed}
            rows = [{**common, **r, "snr_db": None if link == "ideal" else r["snr_db"]} for r in rows]
            for d in details:
                d["snr_db"] = None if link == "ideal" else d["snr_db"]
            title = (f"language-oriented transmission of {len(items)} images over {link}: Stable Diffusion "
                     f"({steps} steps) on each round's prompt")
        if tmp is not None:  # summary: the table; rows: the table, or with images one row per image and round
            from semcom.experiments.results import write_results

            config = {**schemes[policies[0]].describe(), "policy": policies, "snrs": snrs, "seed": seed,
                      "models": None if models is None else models.describe()}
            flat = rows if details is None else [
                {k: v for k, v in d.items() if k != "rounds"} | r for d in details for r in d["rounds"]]
            write_results(tmp, config, flat, rows)
    render(rows, IMAGE_COLUMNS if models else COLUMNS, title, fmt)
    saved_note(out)


def text_rows(schemes: dict, snrs: list[float], texts: list[str], orderer, seed: int) -> list[dict]:
    """One row per (policy, SNR): mean similarity per round, rounds to 90 % (``reach_summary``), WER, uses."""
    import torch

    from semcom.schemes.language import reach_summary, rounds_to_reach, word_error_rate

    rows = []
    with progress_bar() as bar:
        task = bar.add_task("eval language", total=len(schemes) * len(snrs) * len(texts))
        for p, scheme in schemes.items():
            for s in snrs:
                budget = scheme.rounds or max(len(t.split()) for t in texts)
                curve, final, hits, wer, uses, sent = [0.0] * budget, 0.0, [], 0.0, 0, 0
                for i, text in enumerate(texts):
                    tx = scheme.transmit(text, s, torch.Generator().manual_seed(seed * 100003 + i))
                    sims = orderer.sender.similarity([r["prompt"] for r in tx.details["rounds"]], text).tolist()
                    for r in range(budget):
                        curve[r] += sims[min(r, len(sims) - 1)]
                    final += sims[-1]
                    hits.append(rounds_to_reach(sims))
                    wer += word_error_rate(text.split(), tx.text.split())
                    uses, sent = uses + tx.channel_uses, sent + len(tx.details["rounds"])
                    bar.advance(task)
                n = len(texts)
                to90, share = reach_summary(hits)
                rows.append({"scheme": "language", "policy": p, "link": scheme.link.link, "mode": scheme.mode,
                             "channel": scheme.link.channel_name, "snr_db": None if scheme.link.link == "ideal" else s,
                             "captions": n, "similarity_by_round": [round(v / n, 4) for v in curve],
                             "similarity": final / n, "rounds_to_90": to90, "reached_90": share, "wer": wer / n,
                             "channel_uses_per_round": uses / sent, "seed": seed})
    return rows


def transmit_text(text: str, policy: str, link: str, rounds: int | None, mode: str, channel: str, snr_db: float,
                  seed: int, as_json: bool) -> None:
    """``semcom transmit --scheme language``: send ``text`` and print what arrives each round."""
    from semcom.schemes.language import LanguageScheme
    from semcom.seeding import make_generator

    scheme = LanguageScheme(policy or "ssc", link or "ldpc", channel, rounds, mode or "word")
    tx = scheme.transmit(text, snr_db, make_generator(seed))
    print_transmission(transmission_row(scheme, tx, channel, snr_db, seed), as_json)


def transmit_image_rounds(image: Path | None, text: str | None, policy, link, rounds, mode, channel: str,
                          snr_db: float, seed: int, out: Path | None, overwrite: bool, as_json: bool, model_dir: Path,
                          device: str, steps: int) -> None:
    """``semcom transmit --scheme language --model-dir DIR``: the caption (``text``, else DIR/blip's description of
    ``image``) sent word by word; after every round the receiver's Stable Diffusion draws its prompt
    (``image_rounds``), scored by LPIPS to ``image`` (when given) and the CLIP score to the caption. ``out``: a
    folder of one PNG per round (round_01.png, ...), written whole at the end (``atomic_folder``)."""
    from semcom.data import load_image, save_image
    from semcom.schemes.language import LanguageScheme, Orderer
    from semcom.schemes.language.images import SEED, image_rounds, load_model_dir
    from semcom.seeding import make_generator

    if out is not None:
        check_output_folder(out, overwrite)
    x = load_image(image) if image is not None else None
    models = load_model_dir(model_dir, device, steps)
    if text is None and models.captioner is None:
        raise SemcomError(f"--model-dir {model_dir} lacks blip/, the captioner that describes {image.name}: add a "
                          "BLIP model there (see the README) or give the caption with --text")
    scheme = LanguageScheme(policy or "ssc", link or "ldpc", channel, rounds, mode or "word",
                            orderer=Orderer(attention=attention_source(None, models, device)),
                            captioner=models.captioner)
    with progress_steps() as step:
        step(f"captioning {image.name} and sending" if text is None else "sending")
        tx = scheme.transmit(text if text is not None else x, snr_db, make_generator(seed))
        step(f"Stable Diffusion ({steps} steps) on each round's prompt")
        scored = image_rounds(tx, models.t2i, x, SEED, models.lpips, models.clip)
        row = transmission_row(scheme, tx, channel, snr_db, seed)
        row.update(image=None if image is None else str(image), captioned=text is None, models=models.describe(),
                   written_to=None)
        with atomic_folder(out, overwrite) if out is not None else nullcontext() as tmp:
            for r, s in zip(row["rounds"], scored):
                picture = s["image"]
                r.update(lpips=s["lpips"], clip_score=s["clip_score"], file=None)
                if tmp is not None and picture is not None:
                    r["file"] = f"round_{s['round']:02d}.png"
                    save_image(picture, tmp / r["file"])
        if out is not None:
            row["written_to"] = str(out)
    print_transmission(row, as_json)


def transmission_row(scheme, tx, channel: str, snr_db: float, seed: int) -> dict:
    return {"scheme": "language", "snr_db": snr_db, "channel": channel, "channel_uses": tx.channel_uses, "ok": tx.ok,
            "received": tx.text, "seed": seed, **scheme.describe(), **tx.details}


def print_transmission(row: dict, as_json: bool) -> None:
    """The row as JSON, or one line per round: the word sent, its fate, the receiver's prompt and, in the image loop,
    the scores of the image drawn from that prompt."""
    if as_json:
        out_console.out(json.dumps(row, indent=1, default=str), highlight=False)
        return
    head = f"language ({row['policy']}, {row['link']}) over {row['channel']} at {row['snr_db']:g} dB"
    lines = [f"{head}: {row['channel_uses']} channel uses"]
    if row.get("captioned"):
        lines.append(f"caption of {Path(row['image']).name}: {row['caption']!r}")
    for i, r in enumerate(row["rounds"], 1):
        moved = "" if r["lost"] or r["placed"] == r["position"] else (
            ", dropped: position header out of range" if r["placed"] is None else f", misplaced at {r['placed']}")
        fate = "lost" if r["lost"] else (f"corrupted -> {r['arrived']!r}{moved}" if r["corrupted"] else "ok")
        line = f"round {i}: sent {r['sent']!r} ({fate}, {r['channel_uses']} uses) -> {r['prompt']!r}"
        if "clip_score" in r:
            line += ": " + image_scores(r)
        lines.append(line)
    lines.append(f"received: {row['received']!r} ({row['lost']} lost, {row['corrupted']} corrupted)")
    if row.get("written_to"):
        lines.append(f"images written to {row['written_to']}")
    out_console.print("\n".join(lines), highlight=False, soft_wrap=True, markup=False)


def image_scores(r: dict) -> str:
    """The image-loop part of a round's line: LPIPS (when there is an original image) and CLIP score."""
    if r["clip_score"] is None:
        return "no image (nothing received yet)"
    scores = ([] if r["lpips"] is None else [f"LPIPS {r['lpips']:.3f}"]) + [f"CLIP score {r['clip_score']:.1f}"]
    return ", ".join(scores) + (f" ({r['file']})" if r["file"] else "")


def transmit_text_command(caption_file: Path | None, text: str | None, policy, link, rounds, mode, channel: str,
                          snr: str, seed: int, out, as_json: bool, model_dir: Path | None = None,
                          device: str | None = None, steps: int | None = None, overwrite: bool = False) -> None:
    """The checks of ``semcom transmit --scheme language`` (exactly one of --text and a caption file; with
    --model-dir an image, --text or both), then send."""
    from semcom.cli.common import check_channel
    from semcom.schemes.language.link import LINKS

    if model_dir is None:
        given = [o for o, v in (("--device", device), ("--steps", steps), ("--overwrite", overwrite))
                 if v not in (None, False)]
        if given:
            raise SemcomError(f"{', '.join(given)} need --model-dir DIR (the image loop)")
        if out is not None:
            raise SemcomError("--out does not apply to --scheme language without --model-dir: it prints the text that "
                              "arrives")
        if (text is None) == (caption_file is None):
            raise SemcomError("--scheme language sends text: give --text \"...\" or a caption file (not both)")
    elif text is None and caption_file is None:
        raise SemcomError("--scheme language --model-dir sends an IMAGE (captioned by DIR/blip) or --text \"...\"")
    if caption_file is not None and model_dir is None:
        if not caption_file.is_file():
            raise SemcomError(f"no caption file {caption_file}")
        try:
            text = caption_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SemcomError(f"{caption_file} is not UTF-8 text (--scheme language sends a caption)") from None
    if link is not None and link not in LINKS:
        raise SemcomError(f"unknown text link {link!r}; choose {', '.join(LINKS)}")
    snrs = parse_snrs(snr)
    if len(snrs) != 1:
        raise SemcomError(f"transmit sends at one SNR, got {snr!r} (use 'semcom eval language' for a grid)")
    if model_dir is None:
        transmit_text(text, policy, link, rounds, mode, check_channel(channel), snrs[0], seed, as_json)
    else:
        transmit_image_rounds(caption_file, text, policy, link, rounds, mode, check_channel(channel), snrs[0], seed,
                              out, overwrite, as_json, model_dir, device or "cpu", 50 if steps is None else steps)
