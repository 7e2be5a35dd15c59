"""Training the offline client and server ViTs on CIFAR-10, distilled from a pretrained CIFAR ResNet.

Loss: (1 - ``kd_weight``) * cross-entropy on the labels + ``kd_weight`` * T^2 KL to the teacher's
softened predictions (Hinton et al. 2015). The server is trained on random token subsets
(``min_keep`` .. all patches, one count per batch, patches drawn uniformly) so it stays accurate when
the client sends only part of an image. Two options make it see what the client really sends:
``guide`` (a client ViT checkpoint): with probability ``guide_prob`` a batch keeps the client's
``guide_score`` top-k patches instead of random ones; ``patch_jscc`` (a ``PatchJSCC`` checkpoint): with
probability ``noise_prob`` the kept patches are replaced by what the analog patch link delivers at an
SNR drawn uniformly from ``noise_snr`` dB over AWGN. AdamW, warm-up + cosine schedule, random crop + flip.
The run (resume from ``<out>/last.pt``, JSONL log with steps and CPU-hours, checkpoints) is a ``semcom.training.Run``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from semcom.channels import build_channel
from semcom.data.cifar import CifarBatches, cifar10_train
from semcom.errors import SemcomError
from semcom.seeding import make_generator
from semcom.splitting import load_cifar_resnet
from semcom.splitting.losses import distillation
from semcom.training.checkpoint import read_checkpoint, shipped_file, warm_start
from semcom.training.loop import cosine_lr
from semcom.training.run import Run, RunConfig
from semcom.units import check_snr_db
from semcom.vit.attention import SCORES, patch_scores
from semcom.vit.grid import gather_tokens, patchify, unpatchify
from semcom.vit.model import VIT_PRESETS, ViT, ViTConfig


@dataclass(frozen=True, kw_only=True)
class ViTTrainConfig(RunConfig):
    """The run settings (``RunConfig``) and these."""

    preset: str = "client"
    data: str | None = None  # folder holding cifar10_train_jpg.zip (default: the shared data folder)
    limit: int | None = None
    val_count: int = 1000
    steps: int = 4000
    batch: int = 128
    weight_decay: float = 0.05
    teacher_depth: int = 56  # CIFAR ResNet-20 (shipped) or -56 (shared data); 0: no distillation
    kd_weight: float = 0.7
    min_keep: int = 0  # server: smallest token subset in training (0: always all patches)
    cache: str | None = None
    init_from: str | None = None  # warm start: weights of a ViT checkpoint of the same preset (fresh optimizer)
    guide: str | None = None  # client ViT checkpoint whose attended patches a batch keeps (with min_keep)
    guide_prob: float = 0.5
    guide_score: str = "rollout"
    patch_jscc: str | None = None  # PatchJSCC checkpoint: train on patches received over the analog link
    noise_prob: float = 0.3
    noise_snr: tuple[float, float] = (0.0, 15.0)

    def __post_init__(self):
        super().__post_init__()
        if self.preset not in VIT_PRESETS:
            raise SemcomError(f"unknown ViT preset {self.preset!r}; choose one of {', '.join(VIT_PRESETS)}")
        if self.steps < 1 or self.batch < 1 or self.val_count < 0:
            raise SemcomError("steps and batch must be >= 1 and val_count >= 0")
        if not 0 <= self.kd_weight <= 1:
            raise SemcomError(f"kd_weight must lie in [0, 1], got {self.kd_weight}")
        if self.teacher_depth not in (0, 20, 56):
            raise SemcomError(f"teacher_depth must be 0 (none), 20 or 56, got {self.teacher_depth}")
        n = VIT_PRESETS[self.preset].num_patches
        if not 0 <= self.min_keep <= n:
            raise SemcomError(f"min_keep must lie in [0, {n}], got {self.min_keep}")
        if (self.guide or self.patch_jscc) and not self.min_keep:
            raise SemcomError("guide and patch_jscc train on token subsets: set min_keep >= 1")
        if not (0 <= self.guide_prob <= 1 and 0 <= self.noise_prob <= 1):
            raise SemcomError(f"guide_prob and noise_prob must lie in [0, 1], got {self.guide_prob}, {self.noise_prob}")
        if self.guide_score not in SCORES:
            raise SemcomError(f"unknown attention score {self.guide_score!r}; valid: {', '.join(SCORES)}")
        lo, hi = self.noise_snr
        check_snr_db(torch.tensor([lo, hi]))
        if lo > hi:
            raise SemcomError(f"noise_snr must be low,high; got {lo},{hi}")


@torch.no_grad()
def accuracy(model: ViT, x: torch.Tensor, y: torch.Tensor, keep_fraction: float = 1.0, seed: int = 0) -> float:
    """Top-1 accuracy (%) on uint8 images, all patches or a fixed random fraction of them."""
    model.eval()
    n = model.cfg.num_patches
    k = max(1, round(keep_fraction * n))
    gen = make_generator(seed)
    correct = 0
    for start in range(0, len(x), 500):
        xb = x[start:start + 500].float() / 255
        keep = None if k == n else torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(len(xb))])
        correct += (model(xb, keep=keep).argmax(1) == y[start:start + 500]).sum().item()
    model.train()
    return 100 * correct / len(x)


def shipped_vit(role: str) -> Path:
    """Path of the shipped ``client`` or ``server`` ViT; SemcomError when it is not there."""
    return shipped_file(f"attention_ci/vit-{role}.pt", f"{role} ViT",
                        f"train one with 'semcom train vit --preset {role}' and pass --{role}")


def load_vit(path: str | Path) -> tuple[ViT, dict]:
    """Rebuild a trained ViT (eval mode) from a checkpoint; returns (model, metadata)."""
    ckpt = read_checkpoint(path)
    try:
        model = ViT(ViTConfig(**ckpt["model_config"]))
        model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (TypeError, RuntimeError, KeyError) as exc:
        raise SemcomError(f"checkpoint {path} is not a ViT of this package: {str(exc).splitlines()[0]}") from None
    return model.eval(), {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}


def init_record(path: str, model_dict: dict) -> dict:
    """What a warm start continues: the checkpoint's path, steps and CPU-hours (its own warm starts included)."""
    ckpt = read_checkpoint(path)
    if ckpt.get("model_config") != model_dict:
        raise SemcomError(f"{path} holds another ViT ({ckpt.get('model_config')}), not {model_dict}")
    prior = ckpt.get("init") or {"step": 0, "cpu_hours": 0.0}
    return {"path": str(path), "step": ckpt.get("step", 0) + prior["step"],
            "cpu_hours": ckpt.get("cpu_hours", ckpt.get("cpu_seconds", 0) / 3600) + prior["cpu_hours"]}


def random_keep(batch: int, n: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """[batch, k] distinct patch indices drawn uniformly per row."""
    return torch.rand(batch, n, generator=gen).argsort(dim=1)[:, :k]


@torch.no_grad()
def guided_keep(client: ViT, x: torch.Tensor, k: int, score: str) -> torch.Tensor:
    """[B, k] indices of the ``k`` patches the client attends to most (``score``: cls | rollout)."""
    _, attentions = client(x, attentions=True)
    return patch_scores(attentions, score, 1).topk(k, dim=1).indices


@torch.no_grad()
def through_patch_link(link, channel, x: torch.Tensor, keep: torch.Tensor, patch: int, snr_db: torch.Tensor,
                       gen: torch.Generator) -> torch.Tensor:
    """Images with their ``keep`` patches replaced by what the analog patch JSCC delivers at ``snr_db`` [B]."""
    patches = patchify(x, patch)
    b, n = patches.shape[:2]
    flat = patches.reshape(b, n, -1)
    rx = link(gather_tokens(flat, keep).reshape(b, keep.shape[1], *patches.shape[2:]), snr_db, channel, gen)
    flat = flat.scatter(1, keep.unsqueeze(-1).expand(-1, -1, flat.shape[-1]), rx.reshape(b, keep.shape[1], -1))
    return unpatchify(flat.reshape(patches.shape), (x.shape[2] // patch, x.shape[3] // patch))


def train_vit(cfg: ViTTrainConfig, log=print, progress=None, resume_anyway: bool = False) -> Path:
    """Train (or resume) one ViT; returns the path of the last checkpoint. Resuming with other training settings is
    a SemcomError unless ``resume_anyway``."""
    run = Run(cfg, log, resume_anyway)
    model_cfg = VIT_PRESETS[cfg.preset]
    model = ViT(model_cfg)
    teacher = load_cifar_resnet(cfg.teacher_depth) if cfg.teacher_depth else None
    client = load_vit(cfg.guide)[0] if cfg.guide else None
    if client is not None and client.cfg.num_patches != model_cfg.num_patches:
        raise SemcomError(f"the guide ViT has {client.cfg.num_patches} patches, the {cfg.preset} ViT {model_cfg.num_patches}")
    if cfg.patch_jscc:
        from semcom.schemes.attention_ci.patch_jscc import load_patch_jscc

        link, awgn = load_patch_jscc(cfg.patch_jscc), build_channel("awgn")
        if link.cfg.patch != model_cfg.patch:
            raise SemcomError(f"the patch JSCC codes {link.cfg.patch}-pixel patches, the ViT uses {model_cfg.patch}")
    images, labels = cifar10_train(cfg.data, limit=cfg.limit, cache=cfg.cache)
    if cfg.val_count >= len(images):
        raise SemcomError(f"val_count {cfg.val_count} leaves no training images out of {len(images)}")
    cut = len(images) - cfg.val_count
    gen = make_generator(cfg.seed)
    batches = CifarBatches(images[:cut], labels[:cut], cfg.batch, augment=True, drop_last=True, generator=gen)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embed" not in n and "token" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() > 1 and "embed" not in n and "token" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
                            lr=cfg.lr)
    model_dict = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(model_cfg).items()}
    if run.resuming:
        init = run.saved.get("init")
    elif cfg.init_from:
        init = init_record(cfg.init_from, model_dict)
        log(f"initialised from {cfg.init_from} ({init['step']} steps, {init['cpu_hours']:.2f} CPU-hours): "
            + warm_start(model, cfg.init_from))
    else:
        init = None
    run.start(model, opt, gen, model_dict, meta={"role": cfg.preset, "init": init})

    def validate() -> dict:
        vx, vy = images[cut:], labels[cut:]
        return {"val_acc": accuracy(model, vx, vy), "val_acc_half_patches": accuracy(model, vx, vy, 0.5)}

    n = model_cfg.num_patches
    model.train()
    while not run.finished:
        for x, y in batches:
            if run.finished:
                break
            run.set_lr(cosine_lr(run.step, cfg.steps, cfg.lr, cfg.lr_min, cfg.warmup))
            keep, clean = None, x
            if cfg.min_keep:
                k = int(torch.randint(cfg.min_keep, n + 1, (1,), generator=gen))
                if client is not None and float(torch.rand(1, generator=gen)) < cfg.guide_prob:
                    keep = guided_keep(client, x, k, cfg.guide_score)
                else:
                    keep = random_keep(len(x), n, k, gen)
                if cfg.patch_jscc and float(torch.rand(1, generator=gen)) < cfg.noise_prob:
                    lo, hi = cfg.noise_snr
                    snr = lo + (hi - lo) * torch.rand(len(x), generator=gen)
                    x = through_patch_link(link, awgn, x, keep, model_cfg.patch, snr, gen)
                keep = None if k == n else keep
            logits = model(x, keep=keep)
            loss = F.cross_entropy(logits, y)
            if teacher is not None and cfg.kd_weight:
                with torch.no_grad():
                    soft = teacher(clean)
                loss = (1 - cfg.kd_weight) * loss + cfg.kd_weight * distillation({"logits": logits}, soft)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            run.after_step(loss.item(), progress, validate=validate if cfg.val_count else None)
    return run.end()
