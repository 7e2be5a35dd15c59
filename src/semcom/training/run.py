"""One training run: what every ``semcom train`` command shares, so a trainer keeps only its data, model and loss.

A trainer reads top to bottom::

    run = Run(cfg, log, resume_anyway)            # CPU settings, seeds, torchrun; refuses changed settings
    data, model, optimizer = ...                  # built after the seeds, in a fixed order
    run.start(model, optimizer, make_generator(cfg.seed), model_config)   # resumes from last.pt if there is one
    while not run.finished:
        run.set_lr(lr_at(run.step))
        loss = ...                                # random draws come from run.generator
        optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step()
        run.after_step(loss.item(), progress, record=lambda: {...}, validate=lambda: {...})
    return run.end()

The run folder ``cfg.out`` holds ``config.json`` (the settings, written at every start), ``train.jsonl`` (one
record per log step: step, smoothed loss, learning rate, CPU- and wall-hours, validation metrics) and ``last.pt``,
written atomically every ``ckpt_every`` steps and at the last one (weights, optimizer, step, clock, the generator
state of every process). Resuming continues exactly: the same weights as a run that was never interrupted. A run
with other settings than its ``last.pt`` is refused unless ``resume_anyway`` (``semcom.training.files.check_resume``); one
of another model config always is. Ctrl-C can come at any point: a checkpoint is never half-written, and the CLI
says how to resume. Under ``torchrun`` every process runs the same loop (``parallel`` wraps the model in
DistributedDataParallel); rank 0 writes the files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from semcom.errors import SemcomError
from semcom.training.files import check_resume
from semcom.seeding import fast_cpu_math, seed_everything
from semcom.training.checkpoint import atomic_save, read_checkpoint
from semcom.training.loop import JsonlLog, RunClock


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """The settings every training run has; a trainer's config extends it (every field by keyword) and adds
    ``steps`` (a field or a property)."""

    out: str  # the run folder
    lr: float = 1e-3
    lr_min: float = 1e-5
    warmup: int = 200
    eval_every: int = 250
    log_every: int = 50
    ckpt_every: int = 100
    seed: int = 0
    threads: int = 0  # 0: torch default
    cpu_budget_s: float = 0.0  # > 0: stop after this many process CPU-seconds of training (validation excluded)

    def __post_init__(self):
        if self.cpu_budget_s < 0:
            raise SemcomError(f"cpu_budget_s must be >= 0, got {self.cpu_budget_s}")

    def to_dict(self) -> dict:
        return asdict(self)


def distributed_context(device: str) -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun (gloo on CPU, NCCL on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


class Run:
    """A training run in ``cfg.out`` (see the module docstring for the loop it serves).

    ``smoothing``: the logged and reported loss is an exponential moving average with this weight on the past
    (0: the step's own loss). ``device``: where the model trains; under torchrun on CUDA each process takes the
    GPU of its ``LOCAL_RANK``.
    """

    def __init__(self, cfg: RunConfig, log=print, resume_anyway: bool = False, smoothing: float = 0.95,
                 device: str = "cpu"):
        # GDN's off-diagonal gammas decay towards zero and become subnormal floats, which are very slow on x86
        # CPUs; flushing them to zero changes nothing measurable and keeps the step time flat.
        fast_cpu_math(cfg.threads)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise SemcomError("--device cuda requested but CUDA is not available")
        self.rank, self.world = distributed_context(device)
        local = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if device.startswith("cuda") and self.world > 1 else device
        self.device = torch.device(local)
        self.cfg, self.log, self.smoothing = cfg, log, smoothing
        self.out = Path(cfg.out)
        self.last = self.out / "last.pt"
        self.saved = read_checkpoint(self.last) if self.last.is_file() else None
        if self.saved is not None:
            check_resume(self.saved.get("train_config"), cfg.to_dict(), self.last, resume_anyway, log)
        seed_everything(cfg.seed)
        self.step, self.clock, self.lr, self.running = 0, RunClock(world=self.world), cfg.lr, None
        self.module = self.optimizer = self.generator = self.jsonl = None
        self.finished = False

    @property
    def resuming(self) -> bool:
        """Whether ``start`` continues the run saved in ``last.pt`` (else a warm start may initialise the model)."""
        return self.saved is not None

    def start(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
              model_config: dict, meta: dict | None = None) -> None:
        """Attach what the run trains: ``module`` (whose state dict is saved), its optimizer and the generator every
        random draw of the loop comes from. ``model_config`` identifies the model (a run of another one is never
        resumed); ``meta`` is stored beside it in every checkpoint. On resume, loads their states from ``last.pt``."""
        self.module, self.optimizer, self.generator = module, optimizer, generator
        self.model_config, self.meta = model_config, dict(meta or {})
        if self.saved is not None:
            ckpt = self.saved
            saved_cfg = ckpt["model_config"]
            # options added to a model config later default to the old behaviour: keys the saved one lacks are skipped
            if not isinstance(saved_cfg, dict) or any(k not in model_config or model_config[k] != v
                                                      for k, v in saved_cfg.items()):
                raise SemcomError(f"{self.last} was trained with a different model config: {ckpt['model_config']}; "
                                  "pass another --out to start a new run")
            module.load_state_dict(ckpt["state_dict"])
            optimizer.load_state_dict(ckpt["optimizer"])
            self.step = ckpt["step"]
            self.clock = RunClock(ckpt["cpu_seconds"], ckpt["wall_seconds"], self.world)
            states = ckpt["rng"] if isinstance(ckpt["rng"], list) else [ckpt["rng"]]  # older runs: one state
            if self.rank < len(states):
                generator.set_state(states[self.rank])
            self.log(f"resumed from {self.last} at step {self.step}")
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            config = {"train": self.cfg.to_dict(), "model": model_config, **self.meta, "world_size": self.world}
            (self.out / "config.json").write_text(json.dumps(config, indent=2))
            self.jsonl = JsonlLog(self.out / "train.jsonl", self.log)
            dropped = self.jsonl.keep_until(self.step)
            if dropped:
                self.log(f"dropped {dropped} log lines after step {self.step} from {self.jsonl.path} (redone now)")
        self.finished = self._finished()
        self.clock.skip()  # building the data and the model is not training time

    def parallel(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` for the forward pass: wrapped in DistributedDataParallel under torchrun (after ``start``, so every
        process starts from the same weights)."""
        return torch.nn.parallel.DistributedDataParallel(model) if self.world > 1 else model

    def set_lr(self, lr: float) -> float:
        """Set the learning rate of every parameter group (times the group's ``lr_scale`` where it has one)."""
        self.lr = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        return lr

    def after_step(self, loss: float, progress=None, record: dict | Callable[[], dict] | None = None,
                   validate: Callable[[], dict] | None = None, restart_average: bool = False) -> None:
        """Count the step just taken (``loss``: its loss), report it to ``progress(step, steps, smoothed loss)``, log
        and checkpoint when due. ``record``: more fields for the log line, or a function giving them (called only when
        a line is due, after the smoothed loss ``running`` is updated); ``validate()``: validation metrics, every
        ``eval_every`` steps and at the last one, on rank 0, its time not counted as training time. A step that
        logs or validates writes one line with all of these. ``restart_average``: the smoothed loss starts again
        from this step's loss."""
        self.step += 1
        self.clock.tick()
        fresh = self.running is None or restart_average or not self.smoothing
        self.running = loss if fresh else self.smoothing * self.running + (1 - self.smoothing) * loss
        if progress is not None and self.rank == 0:
            progress(self.step, self.cfg.steps, self.running)
        self.finished = self._finished()
        evaluate = validate is not None and (self.step % self.cfg.eval_every == 0 or self.finished)
        if self.rank == 0 and (evaluate or self.step % self.cfg.log_every == 0 or self.finished):
            fields = record() if callable(record) else record or {}
            line = {"step": self.step, "loss": self.running, "lr": self.lr, **fields, **self.clock.hours()}
            if evaluate:
                line.update(validate())
                self.clock.skip()  # validation time is not training time
            self.jsonl.write(line)
        if self.step % self.cfg.ckpt_every == 0 or self.finished:
            self.save()

    def save(self) -> None:
        """Write ``last.pt`` (every process must call it: the generator states are gathered)."""
        states = [self.generator.get_state()]
        if self.world > 1:
            states = [None] * self.world
            dist.all_gather_object(states, self.generator.get_state())
        if self.rank == 0:
            atomic_save({"model_config": self.model_config, **self.meta, "train_config": self.cfg.to_dict(),
                         "state_dict": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "step": self.step, **self.clock.state(), "world_size": self.world, "rng": states,
                         "torch": str(torch.__version__)}, self.last)

    def end(self) -> Path:
        """Wait for every process; the path of the last checkpoint."""
        if self.world > 1:
            dist.barrier()
        return self.last

    def _finished(self) -> bool:
        budget = self.cfg.cpu_budget_s
        done = self.step >= self.cfg.steps or (budget > 0 and self.clock.cpu_seconds >= budget)
        if budget > 0 and self.world > 1:  # every process stops at the same step: rank 0's clock decides
            decision = [done]
            dist.broadcast_object_list(decision, src=0)
            done = decision[0]
        return done
