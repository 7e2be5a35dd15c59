"""Every registered scheme implements the one contract and counts its channel uses exactly; every image scheme works
through ``semcom transmit --scheme X``."""

import json
import math

import pytest
import torch

from semcom.cli import main
from semcom.experiments import registry
from semcom.data import save_image
from semcom.types import Scheme, Transmission

SNR = 10.0
CAPTION = "A black dog is running through the grass ."


def photo(h=128, w=128, seed=0):
    low = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear")[0]


def expected_uses(name: str, scheme, tx: Transmission, x: torch.Tensor) -> int:
    """The channel uses each scheme must report, from its own parts (side information included)."""
    from semcom.digital.capacity import capacity_bits_per_use
    from semcom.digital.mcs import get_mcs
    from semcom.digital.side import SideLink

    if name == "jscc":  # the hybrid's float16 power scale (16 side bits) goes as one LDPC block on the side link
        side = {"hybrid": 16}.get(scheme.model.cfg.name, 0)
        assert tx.details.get("side_bits", 0) == side
        side_uses = SideLink("awgn").channel_uses(side, SNR)
        assert tx.details.get("side_uses", 0) == side_uses
        return scheme.channels * math.ceil(x.shape[1] / 16) * math.ceil(x.shape[2] / 16) // 2 + side_uses
    if name == "softcast":  # its side payload (scale; dct: + the variances) as one LDPC block on the side link
        blocks = math.ceil(x.shape[1] / 16) * math.ceil(x.shape[2] / 16)
        assert tx.details["side_uses"] == SideLink("awgn").channel_uses(tx.details["side_bits"], SNR)
        return math.ceil(tx.details["components"] * blocks / 2) + tx.details["side_uses"]
    if name == "digital":
        return tx.details["codewords"] * get_mcs(tx.details["mcs"]).symbols_per_codeword
    if name == "bound":
        return math.ceil(8 * tx.details["payload_bytes"] / capacity_bits_per_use(SNR, "awgn"))
    if name == "lamsc":
        return tx.data_uses + tx.side_uses
    if name == "splitnn":  # 1536 bits on QPSK
        return scheme.model.bits // 2
    if name == "language":  # one LDPC transport block per word: position byte + UTF-8, at the core's MCS choice
        from semcom.digital.transport import channel_uses_needed, mcs_for_payload

        bits = [8 * (1 + len(w.encode())) for w in x.split()]
        return sum(channel_uses_needed(mcs_for_payload(b, SNR, "awgn"), b) for b in bits)
    if name == "attention-ci":  # nothing sent unless the client offloads; then whole LDPC codewords
        return tx.channel_uses if tx.details["offloaded"] else 0
    if name == "gesco":  # the analog one-hot map pooled by f: 12 class values per f x f block, two per channel use
        f, (h, w) = tx.details["factor"], x.shape
        return math.ceil(12 * math.ceil(h / f) * math.ceil(w / f) / 2)
    raise AssertionError(f"no expectation for {name}")


def label_map(h=96, w=128):
    """A label map of 16 x 16 blocks of random CamVid classes (what a label-map scheme sends)."""
    low = torch.randint(12, (h // 16, w // 16), generator=torch.Generator().manual_seed(0))
    return low.repeat_interleave(16, 0).repeat_interleave(16, 1)


OPTIONS = {"gesco": {"diffusion": "none"}}  # no diffusion model ships yet: the map part (test_gesco_cli.py generates)


@pytest.mark.parametrize("name", list(registry.SCHEMES))
def test_every_registered_scheme_satisfies_the_contract(name):
    entry = registry.SCHEMES[name]
    scheme = entry.build({"channel": "awgn", **OPTIONS.get(name, {})})
    assert isinstance(scheme, Scheme) and scheme.task == entry.task
    x = label_map() if entry.source == "label-map" else {"image": photo(), "classify": photo(32, 32),
                                                          "text": CAPTION}[entry.task]
    tx = scheme.transmit(x, SNR, torch.Generator().manual_seed(0))
    assert isinstance(tx, Transmission) and isinstance(tx.channel_uses, int) and tx.ok
    assert tx.channel_uses == expected_uses(name, scheme, tx, x)
    if entry.source == "label-map":  # an image of the map's size
        assert tx.x_hat.shape == (3, *x.shape) and tx.logits is None
    elif entry.task == "image":
        assert tx.x_hat.shape == x.shape and tx.logits is None
    elif entry.task == "text":
        assert tx.text == x and tx.x_hat is None and tx.logits is None
    else:
        assert tx.logits.shape == (10,) and tx.x_hat is None and 0 <= tx.prediction < 10
    json.dumps(scheme.describe())  # JSON-ready
    again = scheme.transmit(x, SNR, torch.Generator().manual_seed(0))  # a pure function of (x, SNR, generator)
    assert again.channel_uses == tx.channel_uses


@pytest.mark.parametrize("name", [n for n, e in registry.SCHEMES.items() if e.task == "image" and e.source == "image"])
def test_every_image_scheme_works_through_semcom_transmit(name, tmp_path, capsys):
    save_image(photo(), tmp_path / "in.png")
    assert main(["transmit", str(tmp_path / "in.png"), "--scheme", name, "--snr", "10", "--out",
                 str(tmp_path / "rx.png"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (tmp_path / "rx.png").is_file() and row["scheme"].startswith(name) and row["channel_uses"] > 0
    quality = row["region_psnr_db"] if name == "lamsc" else row["psnr_db"]  # LAM-SC sends the selected regions
    assert row["written_to"] == str(tmp_path / "rx.png") and quality > 10


@pytest.mark.parametrize("name", [n for n, e in registry.SCHEMES.items() if e.task == "classify"])
def test_classify_schemes_transmit_an_image_and_print_its_class(name, tmp_path, capsys):
    save_image(photo(48, 64), tmp_path / "in.png")
    assert main(["transmit", str(tmp_path / "in.png"), "--scheme", name, "--snr", "10"]) == 0
    out = capsys.readouterr().out
    assert " over awgn at 10 dB: " in out and " channel uses" in out and "predicted class" in out


def test_the_demo_gets_one_section_per_scheme_that_has_one():
    keys = [s.key for s in registry.demo_sections()]
    assert keys == ["lamsc", "splitnn", "attention_ci", "language", "gesco"]


def test_unknown_scheme_names_every_registered_one(tmp_path, capsys):
    save_image(photo(), tmp_path / "in.png")
    assert main(["transmit", str(tmp_path / "in.png"), "--scheme", "morse", "--out", str(tmp_path / "rx.png")]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in registry.SCHEMES) and err.count("\n") == 1
