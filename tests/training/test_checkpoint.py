"""Checkpoints are read with weights_only=True: a crafted pickle is refused by every loader, with a one-line
SemcomError and without running its code; every shipped checkpoint still loads."""

import os
import pickle
from pathlib import Path

import pytest
import torch

from semcom.errors import SemcomError
from semcom.training.checkpoint import PACKAGE_CHECKPOINTS, atomic_save, load_file, read_checkpoint


class Evil:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def crafted(folder: Path, how: str = "torch.save") -> tuple[Path, Path]:
    """A checkpoint-shaped file whose metadata holds an ``Evil``, written by ``torch.save`` or as a bare pickle;
    returns (file, the marker loading it would create)."""
    marker = folder / "marker"
    path = folder / "evil.pt"
    obj = {"model_config": {}, "state_dict": {}, "part": "asc", "split": {}, "variant": {}, "payload": Evil(marker)}
    if how == "torch.save":
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    return path, marker


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_the_crafted_file_really_runs_code_when_loaded_unsafely(tmp_path, how):
    path, marker = crafted(tmp_path, how)
    torch.load(path, weights_only=False) if how == "torch.save" else pickle.loads(path.read_bytes())
    assert marker.exists()


def loaders():
    from semcom.jscc import build_jscc
    from semcom.jscc.checkpoint import load_jscc
    from semcom.schemes.attention_ci.patch_jscc import load_patch_jscc
    from semcom.schemes.attention_ci.train import load_vit
    from semcom.schemes.lamsc.loaders import load_asc, load_receiver, load_scorer
    from semcom.schemes.lamsc.pool import SegmentPool
    from semcom.schemes.splitnn.checkpoint import load_semanticnn
    from semcom.splitting import load_cifar_resnet
    from semcom.training.checkpoint import slim_copy, warm_start

    return {
        "read_checkpoint": read_checkpoint,
        "jscc": load_jscc,
        "warm_start": lambda p: warm_start(build_jscc(widths=(8, 8, 8), latent_channels=8), p),
        "slim_copy": lambda p: slim_copy(p, p.parent / "slim.pt"),
        "splitnn": load_semanticnn,
        "vit": load_vit,
        "patch_jscc": load_patch_jscc,
        "lamsc_scorer": load_scorer,
        "lamsc_asc": load_asc,
        "lamsc_receiver": lambda p: load_receiver(p, build_jscc(widths=(8, 8, 8), latent_channels=8)),
        "lamsc_pool": SegmentPool.load,
        "cifar_resnet": lambda p: load_cifar_resnet(20, p),
    }


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
@pytest.mark.parametrize("name", list(loaders()))
def test_every_loader_refuses_a_crafted_pickle_without_running_it(tmp_path, name, how):
    path, marker = crafted(tmp_path, how)
    with pytest.raises(SemcomError) as info:
        loaders()[name](path)
    assert not marker.exists()
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    if name != "cifar_resnet" and how == "torch.save":  # the CIFAR ResNet loader words its own refusal
        assert f"refused to load {path}: it holds {os.system.__module__}.system" in message


def test_the_cli_refuses_a_crafted_jscc_checkpoint(tmp_path, capsys):
    from semcom.cli import main

    path, marker = crafted(tmp_path)
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.new("RGB", (32, 32), (120, 60, 30)).save(images / "a.png")
    code = main(["eval", "jscc", "--data", str(images), "--snr", "4", "--checkpoint", str(path)])
    assert code != 0 and not marker.exists()
    err = capsys.readouterr().err.strip()
    assert "refused to load" in err and len(err.splitlines()) == 1


def test_a_damaged_or_missing_file_is_a_one_line_error(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    for path in (tmp_path / "bad.pt", tmp_path / "missing.pt"):
        with pytest.raises(SemcomError) as info:
            load_file(path)
        assert "\n" not in str(info.value)


def test_new_checkpoints_hold_plain_data_only(tmp_path):
    atomic_save({"model_config": {"a": [1, 2.0, "x", None]}, "state_dict": {"w": torch.ones(2)},
                 "torch": str(torch.__version__)}, tmp_path / "c.pt")
    ckpt = torch.load(tmp_path / "c.pt", weights_only=True)  # no allow-list needed
    assert ckpt["model_config"] == {"a": [1, 2.0, "x", None]}


SHIPPED = sorted(p.relative_to(PACKAGE_CHECKPOINTS).as_posix() for p in PACKAGE_CHECKPOINTS.rglob("*")
                 if p.suffix in (".pt", ".th"))


def test_the_shipped_list_is_complete():
    assert "adjscc.pt" in SHIPPED and "cifar_resnet20.th" in SHIPPED and len(SHIPPED) >= 18


@pytest.mark.parametrize("relative", SHIPPED)
def test_every_shipped_checkpoint_loads_safely_through_its_loader(relative):
    from semcom.jscc.checkpoint import load_jscc
    from semcom.schemes.attention_ci.patch_jscc import load_patch_jscc
    from semcom.schemes.attention_ci.train import load_vit
    from semcom.schemes.lamsc.loaders import load_asc, load_receiver, load_scorer
    from semcom.schemes.splitnn.checkpoint import load_semanticnn
    from semcom.splitting import load_cifar_resnet

    path = PACKAGE_CHECKPOINTS / relative
    if relative == "adjscc.pt" or relative.startswith("hybrid-"):
        model = load_jscc(path)[0]
    elif relative == "cifar_resnet20.th":
        model = load_cifar_resnet(20, path)
    elif relative.startswith("splitnn/"):
        try:
            model = load_semanticnn(path)[0]
        except SemcomError as exc:  # the EfficientNet variants need ImageNet weights from the shared data folder
            if "not found" in str(exc) or "SEMCOM_DATA" in str(exc):
                pytest.skip(str(exc))
            raise
    elif relative == "attention_ci/patch-jscc.pt":
        model = load_patch_jscc(path)
    elif relative.startswith("attention_ci/vit-"):
        model = load_vit(path)[0]
    elif relative in ("lamsc/scorer.pt", "lamsc/asc.pt"):
        model = (load_scorer if "scorer" in relative else load_asc)(path)[0]
    elif relative in ("lamsc/receiver.pt", "lamsc/control.pt"):
        model = load_receiver(path, load_jscc(PACKAGE_CHECKPOINTS / "adjscc.pt")[0])[0]
    elif relative.startswith(("gesco/map-jscc-", "gesco/map-denoiser-")):
        from semcom.schemes.gesco.maps import load_map_model

        kind = "map-jscc" if "map-jscc" in relative else "map-denoiser"
        model = load_map_model(path, num_classes=12, kind=kind)[0]
    elif relative == "gesco/diffusion-camvid.pt":
        from semcom.schemes.gesco.train_diffusion import load_diffusion

        model = load_diffusion(path, classes=12)[0]
    elif relative == "gesco/segmenter.pt":
        from semcom.segmentation.semantic import load_segmenter

        try:
            model = load_segmenter(path, 12)[0]
        except SemcomError as exc:  # its EfficientNet-Lite0 encoder is rebuilt from the shared ImageNet weights
            if "not found" in str(exc) or "SEMCOM_DATA" in str(exc):
                pytest.skip(str(exc))
            raise
    else:
        pytest.fail(f"no loader known for the shipped checkpoint {relative}: add it here")
    assert not model.training
    bad = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    assert not bad, f"{relative}: non-finite weights {bad[:3]} (a float16 overflow at export?)"


def test_half_state_keeps_what_float16_cannot_hold():
    from semcom.training.checkpoint import half_state

    state = {"w": torch.tensor([0.5, -2.0]), "running_var": torch.tensor([1e7, 3.0]), "count": torch.tensor(7),
             "empty": torch.zeros(0)}
    half = half_state(state)
    assert half["w"].dtype == torch.float16 and half["count"].dtype == torch.int64
    assert half["running_var"].dtype == torch.float32 and torch.equal(half["running_var"], state["running_var"])
    assert half["empty"].dtype == torch.float16
    assert all(v.dtype == state[k].dtype for k, v in half_state(state, half=False).items())
    assert torch.isfinite(state["running_var"].half()).all().item() is False  # what the plain cast did
