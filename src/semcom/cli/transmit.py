"""``semcom transmit IMAGE --scheme X``: one item through any registered scheme, built and sent through the contract."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from semcom.experiments import registry
from semcom.cli.common import (
    CHANNEL_HELP, DEFAULT_CBR_TEXT, OVERWRITE_HELP, app, check_channel, out_console, parse_cbr, parse_snrs,
    progress_steps, refuse_inapplicable
)
from semcom.errors import SemcomError
from semcom.outputs import atomic_file, check_output_file
from semcom.units import cbr_text

IMAGE_OUT_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm")  # lossless: the file holds exactly what arrived
PARTS_HELP = "checkpoint path, 'shipped' (default) or 'none'"


@app.command()
def transmit(
    image: Optional[Path] = typer.Argument(None, help="Image file to send (--scheme language: a caption file; with "
                                                      "--model-dir an image to caption)."),
    scheme: str = typer.Option("jscc", help=" | ".join(registry.SCHEMES)),
    snr: str = typer.Option("10", help="SNR in dB."),
    cbr: Optional[str] = typer.Option(None, help=f"Channel bandwidth ratio (default {DEFAULT_CBR_TEXT}; lamsc: its "
                                                 "ASC's CBR before masking)."),
    channel: str = typer.Option("awgn", help=CHANNEL_HELP),
    codec: Optional[str] = typer.Option(None, help="digital, bound: the source codec (default jpeg)."),
    transform: Optional[str] = typer.Option(None, help="softcast: pca (shipped basis, default) | dct (training-free)."),
    checkpoint: Optional[Path] = typer.Option(None, help="jscc: a JSCC checkpoint; softcast: a basis file; splitnn: "
                                                         "a codec checkpoint (default semanticnn-c8b3)."),
    scorer: Optional[str] = typer.Option(None, help=f"lamsc: ASI scorer, {PARTS_HELP}."),
    asc: Optional[str] = typer.Option(None, help=f"lamsc: ASC mask, {PARTS_HELP}."),
    receiver: Optional[str] = typer.Option(None, help=f"lamsc: JSCC copy that codes masked latents, {PARTS_HELP}."),
    side_link: Optional[str] = typer.Option(None, help="lamsc: ASC side payload; jscc/softcast: the power "
                                                       "scale; ldpc (default: really sent over 5G LDPC + QAM) | "
                                                       "ldpc-short (may use 240-bit codewords) | ideal "
                                                       "(1 bit per use, optimistic)."),
    fit_budget: bool = typer.Option(False, "--fit-budget", help="jscc/softcast: the CBR as a hard budget for the "
                                                                "symbols and the side block together."),
    link: Optional[str] = typer.Option(None, help="attention-ci: how requests cross the channel, digital (default) | analog."),
    text: Optional[str] = typer.Option(None, help="language: the caption to send (or give a caption file)."),
    policy: Optional[str] = typer.Option(None, help="language: word order, ssc (default) | random | nouns | "
                                                    "nouns-verbs | sender-attention | receiver-attention | "
                                                    "both-attention | oracle | skd."),
    rounds: Optional[int] = typer.Option(None, help="language: round budget (default one round per word)."),
    mode: Optional[str] = typer.Option(None, help="language: word (default, one word per round) | caption."),
    labels: Optional[Path] = typer.Option(None, help="gesco: the label map (8-bit PNG of class indices) of the photo "
                                                     "given as IMAGE; without it IMAGE is the label map."),
    transmitter: Optional[str] = typer.Option(None, help="gesco: how the map is sent, analog (default) | digital | "
                                                         "analog+denoiser | map-jscc | adaptive (digital where "
                                                         "reliable, else map-jscc; the last three: a trained model, "
                                                         "--checkpoint or the shipped one)."),
    diffusion: Optional[str] = typer.Option(None, help="gesco: the diffusion model, a checkpoint, 'shipped' (default) "
                                                       "or 'none' (write the received map in colour)."),
    steps: Optional[int] = typer.Option(None, help="gesco: DDIM sampling steps (default: the model's); language "
                                                   "--model-dir: Stable Diffusion steps (default 50)."),
    guidance: Optional[float] = typer.Option(None, help="gesco: classifier-free guidance scale s >= 0 (1: none)."),
    model_dir: Optional[Path] = typer.Option(None, help="language: after every round, Stable Diffusion draws the "
                                                        "receiver's prompt, scored by LPIPS and CLIP, with the models "
                                                        "in DIR (as 'semcom eval language --model-dir'; DIR/blip "
                                                        "captions an IMAGE)."),
    device: Optional[str] = typer.Option(None, help="language --model-dir: cpu (default) | cuda."),
    seed: int = typer.Option(0),
    out: Optional[Path] = typer.Option(None, help="Image schemes: where to write the received image, a .png file (or "
                                                  "another lossless format: .bmp, .tif, .ppm); an existing file of that "
                                                  "name is replaced. language --model-dir: a folder for one PNG per "
                                                  "round (round_01.png, ...)."),
    overwrite: bool = typer.Option(False, "--overwrite", help=f"language --model-dir: {OVERWRITE_HELP}"),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON instead of a summary."),
):
    """Send one image through a scheme and channel; write what arrived (image schemes) and print a short summary.

    Classify schemes (splitnn, attention-ci) resize the image to their classifier's input (32x32) and print the class
    the receiver decided on. GESCO (--scheme gesco) sends a label map: IMAGE is a label-map PNG (8-bit class indices),
    or a photo with --labels MAP.png (the photo only scores the result); it writes the generated image."""
    from semcom.data import load_image

    entry = registry.get(scheme)
    gesco_options = {"transmitter": transmitter, "diffusion": diffusion, "steps": steps, "guidance": guidance}
    image_loop = {"model_dir": model_dir, "device": device, "overwrite": overwrite}  # --scheme language only
    if entry.task != "text" and any(v not in (None, False) for v in image_loop.values()):
        given = ["--" + k.replace("_", "-") for k, v in image_loop.items() if v not in (None, False)]
        raise SemcomError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to --scheme language "
                          f"(its image loop), not to --scheme {scheme}")
    if entry.source == "label-map":  # a label map in, a generated image out: semcom.cli.gesco
        from semcom.cli.gesco import transmit_labels_command

        if any(v is not None for v in (text, policy, rounds, mode)):
            raise SemcomError(f"--scheme {scheme} sends a label map (--text, --policy, --rounds, --mode: --scheme "
                              "language)")
        options = {"cbr": cbr, "codec": codec, "transform": transform, "checkpoint": checkpoint, "scorer": scorer,
                   "asc": asc, "receiver": receiver, "side_link": side_link, "fit_budget": fit_budget, "link": link,
                   **gesco_options}
        out = check_output_file(out, IMAGE_OUT_SUFFIXES) if out is not None else None
        return transmit_labels_command(image, labels, options, snr, channel, seed, out, as_json)
    if labels is not None:
        raise SemcomError(f"--labels does not apply to --scheme {scheme} (it sends an image; --scheme gesco sends a "
                          "map)")
    if entry.task == "text":  # text in, text out: semcom.cli.language prints what arrives each round
        from semcom.cli.language import transmit_text_command

        refuse_inapplicable({**gesco_options, "fit_budget": fit_budget}, {"steps"}, f"--scheme {scheme}")
        return transmit_text_command(image, text, policy, link, rounds, mode, channel, snr, seed, out, as_json,
                                     model_dir=model_dir, device=device, steps=steps, overwrite=overwrite)
    if image is None or any(v is not None for v in (text, policy, rounds, mode)):
        raise SemcomError(f"--scheme {scheme} sends an IMAGE (--text, --policy, --rounds, --mode: --scheme language)")
    options = {"cbr": cbr, "codec": codec, "transform": transform, "checkpoint": checkpoint, "scorer": scorer,
               "asc": asc, "receiver": receiver, "side_link": side_link, "fit_budget": fit_budget, "link": link,
                   **gesco_options}
    refuse_inapplicable(options, set(entry.options), f"--scheme {scheme}")
    if entry.task == "image":
        if out is None:
            raise SemcomError(f"--scheme {scheme} needs --out FILE.png: where to write the received image")
        out = check_output_file(out, IMAGE_OUT_SUFFIXES)
    elif out is not None:
        raise SemcomError(f"--out does not apply to --scheme {scheme}: it sends an image's class, not an image")
    snr_values = parse_snrs(snr)
    if len(snr_values) != 1:
        raise SemcomError(f"transmit sends at one SNR, got {snr!r} (use 'semcom eval' for a grid)")
    snr_db = snr_values[0]
    options.update(cbr=parse_cbr(cbr), channel=check_channel(channel))
    from semcom.seeding import make_generator

    with progress_steps() as step:
        step(f"reading {image.name}")
        x = load_image(image)
        step(f"loading {scheme}")
        built = entry.build(options)
        if entry.task == "classify":
            x = fit_to(x, built.input_shape)
        tiles = built.tiles(tuple(x.shape[-2:])) if hasattr(built, "tiles") else 1
        update = step(f"sending through {scheme}" + (f" in {tiles} tiles" if tiles > 1 else ""),
                      2 * tiles if tiles > 1 else None)
        if tiles > 1:
            built.progress = update
        start = time.perf_counter()
        tx = built.transmit(x, snr_db, make_generator(entry.seed(seed, snr_db, getattr(built, "cbr", 0.0))))
        seconds = time.perf_counter() - start
        row = {"scheme": built.name, "image": image.stem, "snr_db": snr_db, "channel": channel,
               "channel_uses": tx.channel_uses, "ok": tx.ok, "seconds": seconds, "seed": seed, **tx.details}
        if entry.task == "image":
            from semcom.data import save_image
            from semcom.experiments.evaluate import measure

            step("measuring PSNR and MS-SSIM")
            row.update(cbr=built.cbr, cbr_spent=tx.channel_uses / x.numel(), **measure(x, tx))
            row.update(entry.report(tx, x) if entry.report else {})
            step(f"writing {out}")
            with atomic_file(out) as tmp:
                save_image(tx.x_hat, tmp)
            row["written_to"] = str(out)
        else:
            row.update(prediction=tx.prediction, class_name=class_name(tx.prediction, len(tx.logits)))
    if as_json:
        out_console.out(json.dumps(row, indent=1, default=str), highlight=False)
    else:
        out_console.print(summary(row, tx.ok), highlight=False, soft_wrap=True)


def fit_to(x, shape: tuple[int, ...]):
    """``x`` [3, H, W] resized (area-averaged) to the classifier's input ``shape`` [3, h, w]."""
    import torch.nn.functional as F

    if tuple(x.shape) == tuple(shape):
        return x
    return F.interpolate(x[None], size=tuple(shape[1:]), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def class_name(index: int, classes: int) -> str | None:
    from semcom.data.cifar import CIFAR10_CLASSES

    return CIFAR10_CLASSES[index] if classes == len(CIFAR10_CLASSES) else None


def summary(row: dict, ok: bool) -> str:
    """The human form of a transmit result: what was sent, what it cost, what arrived and where it went."""
    head = f"{row['scheme']} over {row['channel']} at {row['snr_db']:g} dB"
    if "cbr" in row:
        head += f", CBR {cbr_text(row['cbr'])}"
    lines = [f"{head}: {row['channel_uses']} channel uses"]
    if "psnr_db" in row:
        lines.append(f"received: PSNR {row['psnr_db']:.2f} dB, MS-SSIM {row['ms_ssim']:.4f}"
                     + ("" if ok else f" (not decoded: {row.get('reason') or 'side information lost'})"))
        lines.append(f"written to {row['written_to']}")
    else:
        label = f" ({row['class_name']})" if row.get("class_name") else ""
        lines.append(f"predicted class {row['prediction']}{label}" + ("" if ok else " (the request was not delivered)"))
    return "\n".join(lines)
