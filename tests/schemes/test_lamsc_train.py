"""LAM-SC training (segment pool, ASI scorer, ASC mask), loading, evaluation and the CLI end to end."""

import json

import pytest
import torch

from semcom.cli import main
from semcom.data import save_image
from semcom.errors import SemcomError
from semcom.jscc import build_jscc
from semcom.schemes.lamsc.evaluate import build_lamsc, evaluate_lamsc, summarize_lamsc
from semcom.schemes.lamsc.loaders import load_asc, load_scorer
from semcom.schemes.lamsc.pool import SegmentPool, build_pool, semantic_batch
from semcom.schemes.lamsc.train import LamSCTrainConfig, train_lamsc
from semcom.training.checkpoint import atomic_save, read_checkpoint


def blocks(seed):
    """96x96 photo-like test image: a few flat coloured rectangles on a grey background, slightly noisy."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((3, 96, 96), 0.5)
    for _ in range(4):
        top, left = torch.randint(0, 60, (2,), generator=g).tolist()
        x[:, top:top + 30, left:left + 30] = torch.rand(3, 1, 1, generator=g)
    return (x + 0.01 * torch.randn(x.shape, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(5):
        save_image(blocks(i), folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="module")
def tiny_jscc_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = build_jscc("adjscc", widths=(8, 12, 16), latent_channels=24)
    path = tmp_path_factory.mktemp("jscc") / "tiny.pt"
    atomic_save({"model_config": model.cfg.to_dict(), "state_dict": model.state_dict()}, path)
    return path


def asc_cfg(photos, out, jscc, **kw):
    base = dict(out=str(out), part="asc", data=str(photos), pool_size=6, pool_crop=64, val_count=1, steps=4, batch=2,
                jscc=str(jscc), cbr=24 / 1536, crop=32, log_every=2, ckpt_every=2, warmup=1)
    return LamSCTrainConfig(**{**base, **kw})


def test_pool_crops_carry_disjoint_label_maps_and_are_reproducible(photos):
    a = build_pool(photos, 4, 64, k=3, val_count=1, seed=5, log=lambda m: None)
    b = build_pool(photos, 4, 64, k=3, val_count=1, seed=5, log=lambda m: None)
    assert a.images.shape == (4, 3, 64, 64) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert ((a.counts >= 1) & (a.counts <= 3)).all() and a.targets is None
    for i in range(len(a)):
        segs = a.segments(i)
        assert len(segs) == int(a.counts[i]) and int(a.labels[i].max()) == len(segs) - 1
    assert all(not n.startswith("p4.png") for n in a.names)  # the held-out photo is never cropped


def test_semantic_batch_keeps_a_non_empty_subset_of_segments(photos):
    pool = build_pool(photos, 4, 64, k=3, val_count=1, seed=0, log=lambda m: None)
    x, region = semantic_batch(pool, 6, 32, torch.Generator().manual_seed(0), aligned=False)
    assert x.shape == (6, 3, 32, 32) and x.min() >= 0 and x.max() <= 1
    assert region.shape == (6, 32, 32) and region.dtype == torch.bool
    assert torch.equal(x * ~region[:, None], torch.zeros_like(x))  # everything outside the kept segments is black
    aligned, same_region = semantic_batch(pool, 6, 32, torch.Generator().manual_seed(0))
    assert torch.equal(same_region, region) and torch.equal(aligned * region[:, None], x * region[:, None])
    touched = torch.nn.functional.max_pool2d(region[:, None].float(), 16)  # blocks the region touches
    untouched = torch.nn.functional.interpolate(touched, scale_factor=16) == 0
    assert torch.equal(aligned * untouched, torch.zeros_like(aligned))


def test_asc_training_learns_resumes_and_loads(photos, tiny_jscc_ckpt, tmp_path):
    out = tmp_path / "asc"
    last = train_lamsc(asc_cfg(photos, out, tiny_jscc_ckpt), log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert ckpt["step"] == 4 and ckpt["part"] == "asc" and ckpt["cbr"] == 24 / 1536 and ckpt["cpu_hours"] > 0
    assert (out / "pool.pt").is_file() and (out / "config.json").is_file()
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4] and all(0 <= r["rate"] <= 1 for r in records)
    before = {k: v.clone() for k, v in ckpt["state_dict"].items()}
    last = train_lamsc(asc_cfg(photos, out, tiny_jscc_ckpt, steps=6), log=lambda m: None)  # resumes at 4
    after = read_checkpoint(last)
    assert after["step"] == 6 and any(not torch.equal(before[k], after["state_dict"][k]) for k in before)
    with pytest.raises(SemcomError, match=r"other settings \(rate_weight: "):
        train_lamsc(asc_cfg(photos, out, tiny_jscc_ckpt, steps=8, rate_weight=0.5), log=lambda m: None)
    assert read_checkpoint(last)["step"] == 6
    asc, meta = load_asc(last)
    assert asc.masknet.channels == 24 and meta["cbr"] == 24 / 1536
    with pytest.raises(SemcomError, match="not an ASI scorer"):
        load_scorer(last)


def test_a_heavier_rate_weight_sends_fewer_latent_positions(photos, tiny_jscc_ckpt, tmp_path):
    kept = {}
    for weight in (0.0, 5.0):
        out = tmp_path / f"w{weight}"
        train_lamsc(asc_cfg(photos, out, tiny_jscc_ckpt, steps=30, lr=1e-2, rate_weight=weight, ckpt_every=30,
                            log_every=30), log=lambda m: None)
        kept[weight] = json.loads((out / "train.jsonl").read_text().splitlines()[-1])["kept"]
    assert kept[5.0] < kept[0.0]


def test_scorer_trains_on_human_scores_and_plugs_into_lamsc(photos, tiny_jscc_ckpt, tmp_path):
    csv = tmp_path / "scores.csv"
    csv.write_text("image,segment,score\n" + "".join(f"p{i}.png,0,0.9\np{i}.png,1,0.1\n" for i in range(5)))
    cfg = LamSCTrainConfig(out=str(tmp_path / "scorer"), part="scorer", data=str(photos), human_scores=str(csv), k=3,
                           steps=40, batch=4, lr=3e-3, log_every=20, ckpt_every=20, warmup=1)
    last = train_lamsc(cfg, log=lambda m: None)
    records = [json.loads(line) for line in (tmp_path / "scorer" / "train.jsonl").read_text().splitlines()]
    assert records[-1]["val_mse"] < 0.05  # untrained scores sit near 0.5: MSE ~0.16 against targets 0.9 / 0.1
    scorer, _ = load_scorer(last)
    lamsc = build_lamsc("awgn", 24 / 1536, scorer=last, asc="none", jscc=tiny_jscc_ckpt, k=3)
    rows = evaluate_lamsc(lamsc, [("p0", blocks(0))], [0.0, 10.0])
    assert len(rows) == 2 and all(r["sent_segments"] >= 1 for r in rows)
    summary = summarize_lamsc(rows)
    assert {s["snr_db"] for s in summary} == {0.0, 10.0} and summary[0]["uses_vs_full_jscc"] == 1.0


def test_the_run_around_the_asc_loop_changes_no_weight(photos, tiny_jscc_ckpt, tmp_path):
    """train_lamsc (part asc), with its checkpoints, log and a Ctrl-C + resume, ends with exactly the weights of the
    plain loop it runs, written out here: the seeds, pool, random draws, learning rates and steps."""
    from semcom.channels import build_channel
    from semcom.jscc.checkpoint import load_jscc
    from semcom.schemes.lamsc.asc import ASC
    from semcom.schemes.lamsc.losses import asc_loss
    from semcom.seeding import make_generator, seed_everything
    from semcom.training.loop import cosine_lr

    c = asc_cfg(photos, tmp_path / "asc", tiny_jscc_ckpt, steps=5, k=3)

    def crash(step, total, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_lamsc(c, log=lambda m: None, progress=crash)
    trained = read_checkpoint(train_lamsc(c, log=lambda m: None))["state_dict"]

    seed_everything(c.seed)
    pool = build_pool(photos, c.pool_size, c.pool_crop, c.k, c.val_count, c.seed, log=lambda m: None)
    jscc, _ = load_jscc(c.jscc)
    jscc.requires_grad_(False)
    asc = ASC(jscc.channels_for_cbr(c.cbr), group=c.group, side_channels=1)
    opt, gen, channel = torch.optim.Adam(asc.parameters(), lr=c.lr), make_generator(c.seed + 1), build_channel(c.channel)
    lo, hi = c.snr_range
    for step in range(c.steps):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, c.steps, c.lr, c.lr_min, c.warmup)
        x, region = semantic_batch(pool, c.batch, c.crop, gen)
        snr = lo + (hi - lo) * torch.rand(c.batch, generator=gen)
        loss, _ = asc_loss(jscc, asc, channel, x, region, snr, c.cbr, c.rate_weight, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    assert trained.keys() == asc.state_dict().keys()
    assert all(torch.equal(trained[k], v) for k, v in asc.state_dict().items())


def test_pool_for_asc_is_not_reused_for_the_scorer(photos, tiny_jscc_ckpt, tmp_path):
    out = tmp_path / "run"
    train_lamsc(asc_cfg(photos, out, tiny_jscc_ckpt, steps=1), log=lambda m: None)
    (out / "last.pt").unlink()
    with pytest.raises(SemcomError, match="no importance targets"):
        train_lamsc(LamSCTrainConfig(out=str(out), part="scorer", data=str(photos), pool_size=6, pool_crop=64,
                                         crop=32), log=lambda m: None)


@pytest.mark.parametrize("kw, message", [
    (dict(part="mask"), "unknown LAM-SC part"),
    (dict(crop=40), "multiple of 16"),
    (dict(rate_weight=-1.0), "rate_weight"),
    (dict(snr_range=(5.0, 1.0)), "snr_range"),
])
def test_bad_train_config(kw, message, tmp_path):
    with pytest.raises(SemcomError, match=message):
        LamSCTrainConfig(out=str(tmp_path), **kw)


def test_cli_train_eval_and_transmit_lamsc(photos, tiny_jscc_ckpt, tmp_path, capsys):
    run = tmp_path / "asc"
    assert main(["train", "lamsc", "--part", "asc", "--out", str(run), "--data", str(photos), "--pool-size", "4",
                 "--pool-crop", "64", "--crop", "32", "--steps", "2", "--batch", "2", "--jscc", str(tiny_jscc_ckpt),
                 "--cbr", "24/1536", "--val-count", "1", "--export", str(tmp_path / "asc.pt")]) == 0
    assert (tmp_path / "asc.pt").is_file()
    out = tmp_path / "eval"
    # eval needs the JSCC the ASC was trained on: build the scheme in-process for the tiny model
    lamsc = build_lamsc("awgn", None, scorer="none", asc=tmp_path / "asc.pt", jscc=tiny_jscc_ckpt, receiver="none")
    rows = evaluate_lamsc(lamsc, [("p1", blocks(1))], [5.0])
    assert rows[0]["channel_uses"] == rows[0]["data_uses"] + rows[0]["side_uses"] and rows[0]["side_uses"] > 0
    assert main(["eval", "lamsc", "--data", str(photos), "--snr", "5", "--scorer", "none", "--asc", "none",
                 "--limit", "1", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["summary"][0]["uses_vs_full_jscc"] == 1.0 and results["config"]["asc"] == "none"
    capsys.readouterr()
    assert main(["transmit", str(photos / "p0.png"), "--scheme", "lamsc", "--scorer", "none", "--asc", "none",
                 "--snr", "7", "--out", str(tmp_path / "rx.png"), "--json"]) == 0
    assert (tmp_path / "rx.png").is_file()
    printed = json.loads(capsys.readouterr().out)
    assert printed["scheme"] == "lamsc" and printed["segments"] >= 1 and printed["fallback"] is None


def test_cli_eval_lamsc_with_the_ldpc_side_link_counts_its_codewords(photos, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "lamsc", "--data", str(photos), "--snr", "10", "--limit", "1", "--side-link", "ldpc",
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    row, summary = results["rows"][0], results["summary"][0]
    assert results["config"]["side_link"] == "ldpc" and summary["side_losses"] == 0 and row["side_lost"] is False
    assert row["side_uses"] % 480 == 0 and row["side_uses"] > 0  # whole 1920-bit codewords at 16-QAM 1/2 (or QPSK)


def test_cli_transmit_lamsc_with_the_shipped_parts_uses_their_cbr(photos, tmp_path, capsys):
    from semcom.schemes.lamsc.loaders import load_asc, shipped_part

    trained = load_asc(shipped_part("asc"))[1]["cbr"]
    assert main(["transmit", str(photos / "p0.png"), "--scheme", "lamsc", "--snr", "7", "--out", str(tmp_path / "rx.png"),
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cbr"] == trained and printed["side_uses"] > 0 and printed["side_lost"] is False
    assert main(["transmit", str(photos / "p0.png"), "--scheme", "lamsc", "--snr", "7", "--side-link", "ldpc",
                 "--out", str(tmp_path / "rx2.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["side_uses"] % 480 == 0  # whole LDPC codewords
    whole = round(1536 * trained) * 6 * 6 // 2  # whole-image JSCC channel uses for a 96x96 photo at that CBR
    assert printed["data_uses"] <= whole
    # another CBR than the mask was trained for is refused in one line
    assert main(["transmit", str(photos / "p0.png"), "--scheme", "lamsc", "--cbr", "1/8", "--out", str(tmp_path / "x.png")]) == 2
    assert "trained for CBR" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["eval", "lamsc", "--data", "{photos}", "--scorer", "{tmp}/missing.pt", "--asc", "none"], "not found"),
    (["eval", "lamsc", "--data", "{photos}", "--segmenter", "sam", "--scorer", "none", "--asc", "none"], "--sam-model"),
    (["eval", "lamsc", "--data", "{photos}", "--segmenter", "felzenszwalb", "--scorer", "none", "--asc", "none"],
     "unknown segmenter"),
    (["eval", "lamsc", "--data", "{photos}", "--snr", "45", "--scorer", "none", "--asc", "none"], "snr_db must lie"),
    (["train", "lamsc", "--part", "nope", "--out", "{tmp}/r"], "unknown LAM-SC part"),
    (["eval", "lamsc", "--data", "{photos}", "--side-link", "carrier-pigeon"], "unknown side link"),
    (["eval", "lamsc", "--data", "{photos}", "--side-link", "ldpc", "--channel", "rician"], "awgn and rayleigh only"),
    (["transmit", "{photos}/p0.png", "--scheme", "lamsc", "--scorer", "none", "--asc", "none", "--cbr", "1/2",
      "--out", "{tmp}/x.png"], "not supported"),
])
def test_lamsc_cli_bad_input_is_one_line_error(argv, message, photos, tmp_path, capsys):
    argv = [a.format(photos=photos, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_segment_pool_round_trips_through_a_file(photos, tmp_path):
    pool = build_pool(photos, 2, 64, k=3, val_count=1, log=lambda m: None)
    pool.save(tmp_path / "pool.pt")
    again = SegmentPool.load(tmp_path / "pool.pt")
    assert torch.equal(again.labels, pool.labels) and again.names == pool.names


def test_asc_decision_target_drops_black_blocks_and_keeps_bright_ones():
    from semcom.channels import AWGN
    from semcom.schemes.lamsc.asc import ASC
    from semcom.schemes.lamsc.losses import asc_loss

    torch.manual_seed(0)
    jscc = build_jscc("adjscc", widths=(8, 12, 16), latent_channels=24).eval()
    x = torch.zeros(2, 3, 32, 64)
    x[:, :, :, :32] = 0.8  # left half bright (2 x 2 blocks of 16 px), right half black
    region = x[:, 0] > 0
    asc = ASC(24, side_channels=1)
    loss, record = asc_loss(jscc, asc, AWGN(), x, region, torch.full((2,), 10.0), 24 / 1536, 1e-3)
    assert record["target_keep"] == 0.5  # keep exactly the bright half
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in asc.parameters())


def test_receiver_loss_matches_what_lamsc_send_delivers(photos, tiny_jscc_ckpt, tmp_path):
    """The training path of the receiver sees what deployment delivers: with the receiver equal to the JSCC, its loss
    is the MSE over the painted blocks of ``LamSC.send`` (40 dB: the noise is negligible)."""
    from semcom.channels import build_channel
    from semcom.jscc.checkpoint import load_jscc
    from semcom.schemes.lamsc.losses import receiver_loss
    from semcom.schemes.lamsc.scheme import LamSC

    last = train_lamsc(asc_cfg(photos, tmp_path / "asc", tiny_jscc_ckpt, steps=2), log=lambda m: None)
    asc, _ = load_asc(last)
    jscc, _ = load_jscc(tiny_jscc_ckpt)
    pool = build_pool(photos, 4, 64, val_count=1, seed=0, log=lambda m: None)
    x, region = semantic_batch(pool, 3, 32, torch.Generator().manual_seed(1))
    snr = torch.full((3,), 40.0)
    loss, parts = receiver_loss(jscc, asc, build_channel("awgn"), x, region, snr, 24 / 1536,
                                torch.Generator().manual_seed(2))
    lamsc = LamSC(jscc, build_channel("awgn"), 24 / 1536, asc=asc)
    err, area = 0.0, 0.0
    for b in range(3):
        x_hat, *_ = lamsc.send(x[b], region[b], 40.0, torch.Generator().manual_seed(3), asc)
        painted = (x_hat.abs().sum(0) > 0).float()
        err += ((x_hat - x[b]).pow(2) * painted).sum().item()
        area += 3 * painted.sum().item()
    assert 0 < parts["kept"] <= 1
    assert loss.item() == pytest.approx(err / area, rel=0.05)


def test_receiver_training_changes_only_the_decoder_and_plugs_into_lamsc(photos, tiny_jscc_ckpt, tmp_path):
    from semcom.jscc.checkpoint import load_jscc
    from semcom.schemes.lamsc.loaders import load_receiver

    asc_path = train_lamsc(asc_cfg(photos, tmp_path / "asc", tiny_jscc_ckpt, steps=2), log=lambda m: None)
    out = tmp_path / "receiver"
    last = train_lamsc(asc_cfg(photos, out, tiny_jscc_ckpt, part="receiver", asc=str(asc_path), steps=4, lr=1e-2),
                       log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert ckpt["part"] == "receiver" and ckpt["step"] == 4 and ckpt["asc_file"] == "last.pt"
    jscc, _ = load_jscc(tiny_jscc_ckpt)
    receiver, _ = load_receiver(last, jscc)
    assert all(torch.equal(a, b) for a, b in zip(receiver.encoder.parameters(), jscc.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(receiver.decoder.parameters(), jscc.decoder.parameters()))
    records = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert all(r["mse"] > 0 and 0 < r["kept"] <= 1 for r in records)
    lamsc = build_lamsc("awgn", None, scorer="none", asc=asc_path, jscc=tiny_jscc_ckpt, receiver=last)
    assert lamsc.receiver is not lamsc.jscc
    rows = evaluate_lamsc(lamsc, [("p1", blocks(1))], [5.0])
    assert rows[0]["side_uses"] > 0 and rows[0]["region_psnr_db"] > 0
    with pytest.raises(SemcomError, match="not a LAM-SC receiver"):
        load_receiver(asc_path, jscc)
    other, _ = load_jscc(tiny_jscc_ckpt)
    other.cfg = type(other.cfg).from_dict({**other.cfg.to_dict(), "latent_channels": 48})
    with pytest.raises(SemcomError, match="another JSCC architecture"):
        load_receiver(last, other)


def test_end_to_end_receiver_trains_the_encoder_too_and_lamsc_encodes_with_it(photos, tiny_jscc_ckpt, tmp_path):
    from semcom.channels import build_channel
    from semcom.jscc.checkpoint import load_jscc
    from semcom.schemes.lamsc.loaders import load_receiver
    from semcom.schemes.lamsc.scheme import LamSC

    asc_path = train_lamsc(asc_cfg(photos, tmp_path / "asc", tiny_jscc_ckpt, steps=2), log=lambda m: None)
    last = train_lamsc(asc_cfg(photos, tmp_path / "e2e", tiny_jscc_ckpt, part="receiver", asc=str(asc_path), steps=4,
                               lr=1e-2, train_encoder=True), log=lambda m: None)
    assert read_checkpoint(last)["model_config"]["encoder"] is True
    jscc, _ = load_jscc(tiny_jscc_ckpt)
    receiver, _ = load_receiver(last, jscc)
    for part in ("encoder", "decoder"):
        mine, plain = getattr(receiver, part).parameters(), getattr(jscc, part).parameters()
        assert any(not torch.equal(a, b) for a, b in zip(mine, plain)), part
    # masked transmissions are coded by the receiver copy at both ends: its latent is what is sent
    asc, _ = load_asc(asc_path)
    lamsc = LamSC(jscc, build_channel("awgn"), 24 / 1536, asc=asc, receiver=receiver)
    x, region = blocks(2), torch.ones(96, 96, dtype=torch.bool)
    sent = lamsc.send(x, region, 40.0, torch.Generator().manual_seed(0), asc)[0]
    by_hand = receiver.reconstruct(receiver.latent(x[None], 40.0, 24 / 1536), 40.0, 24 / 1536, (96, 96))[0].clamp(0, 1)
    assert (sent - by_hand).abs().max() < 0.05  # 40 dB, every block kept: the receiver's own round trip
    with pytest.raises(SemcomError, match="train_encoder"):
        asc_cfg(photos, tmp_path / "bad", tiny_jscc_ckpt, train_encoder=True)


def test_whole_image_control_batches_are_unmasked_and_train_without_a_mask(photos, tiny_jscc_ckpt, tmp_path):
    pool = build_pool(photos, 4, 64, val_count=1, seed=0, log=lambda m: None)
    x, region = semantic_batch(pool, 3, 32, torch.Generator().manual_seed(1), whole=True)
    assert region.all() and x.shape == (3, 3, 32, 32) and (x > 0).float().mean() > 0.9  # nothing blacked out
    last = train_lamsc(asc_cfg(photos, tmp_path / "control", tiny_jscc_ckpt, part="receiver", whole_images=True),
                       log=lambda m: None)
    ckpt = read_checkpoint(last)
    assert ckpt["asc_file"] is None
    records = [json.loads(line) for line in (tmp_path / "control" / "train.jsonl").read_text().splitlines()]
    assert all(r["kept"] == 1.0 for r in records)
    with pytest.raises(SemcomError, match="part='receiver'"):
        asc_cfg(photos, tmp_path / "x", tiny_jscc_ckpt, whole_images=True)
