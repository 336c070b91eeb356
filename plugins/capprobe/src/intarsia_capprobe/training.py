"""Supervised stages on the run's Lightning Trainer: cross-entropy on the answer token, AdamW, a linear
warm-up then a constant or cosine LR, an exact-match learning curve every ``eval_every`` steps, optional
stop at a threshold.

Each stage is one fit through the run context (:meth:`~intarsia.runner.context.RunContext.trainer` and
``fit``): it runs where the ``fabric:`` section says (accelerator, devices, strategy, precision), logs to
``log.loggers`` (``logs/<stage>/metrics.csv`` and the others), and checkpoints into ``checkpoints/<stage>/``
every ``checkpoint.every`` steps, so a stage interrupted mid-fit continues from its newest checkpoint on
``intarsia resume``. The learning curve and the threshold step travel in that checkpoint too."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import StageConfig
from .model import answer_logits, next_token_loss

_CURVE_KEY = "capprobe_curve"


@torch.no_grad()
def exact_match(model: torch.nn.Module, data: dict, batch_size: int = 1024) -> float:
    """Share of rows whose argmax answer token equals ``labels``, on the model's device (model mode restored
    afterwards)."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = 0
    n = len(data["labels"])
    for i in range(0, n, batch_size):
        logits = answer_logits(model, data["input_ids"][i:i + batch_size].to(dev), data["positions"][i:i + batch_size].to(dev))
        correct += int((logits.argmax(-1) == data["labels"][i:i + batch_size].to(dev)).sum())
    model.train(was_training)
    return correct / max(n, 1)


def lr_factor(step: int, stage: StageConfig) -> float:
    """The LR multiplier at optimizer step ``step``: linear warm-up over ``warmup_steps(stage)``, then 1
    (``schedule: constant``) or a cosine decay to 0 at ``stage.steps`` (``schedule: cosine``)."""
    warm = warmup_steps(stage)
    if step < warm:
        return (step + 1) / warm
    if stage.schedule == "constant":
        return 1.0
    span = max(1, stage.steps - warm)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warm) / span)))


def warmup_steps(stage: StageConfig) -> int:
    """``warmup_fraction`` of the steps when it is set, else ``warmup`` (at least 1)."""
    if stage.warmup_fraction > 0:
        return max(1, round(stage.warmup_fraction * stage.steps))
    return max(1, stage.warmup)


def _module(model: torch.nn.Module, stage: StageConfig, lr: float, eval_data: dict | None):
    import lightning as L

    class AnswerModule(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = model
            self.curve: list[tuple[int, float]] = []
            self.reached: int | None = None

        def training_step(self, batch, _):
            if "lm_start" in batch:  # next-token pre-training (PCFG, task.next_token)
                loss = next_token_loss(self.model, batch)
            else:
                logits = answer_logits(self.model, batch["input_ids"], batch["answer_pos"])
                loss = F.cross_entropy(logits, batch["label"])
            self.log("train/loss", loss, on_step=True, prog_bar=False)
            return loss

        def on_train_batch_end(self, outputs, batch, batch_idx):
            step = self.global_step
            if eval_data is not None and stage.eval_every and step % stage.eval_every == 0:
                self._evaluate(step)

        def _evaluate(self, step: int) -> None:
            acc = exact_match(self.model, eval_data)
            self.curve.append((step, acc))
            self.log("eval/acc", acc)
            if stage.stop_at is not None and acc >= stage.stop_at and self.reached is None:
                self.reached = step
                self.trainer.should_stop = True

        def on_train_start(self):
            if self.reached is not None:  # resumed from the checkpoint of a fit that had already stopped
                self.trainer.should_stop = True
            elif eval_data is not None and not self.curve:  # a resumed fit has its curve from the checkpoint
                self._evaluate(self.global_step)

        def on_save_checkpoint(self, checkpoint):
            checkpoint[_CURVE_KEY] = {"curve": [[int(s), float(a)] for s, a in self.curve], "reached": self.reached}

        def on_load_checkpoint(self, checkpoint):
            saved = checkpoint.get(_CURVE_KEY) or {}
            self.curve = [(int(s), float(a)) for s, a in saved.get("curve", [])]
            self.reached = saved.get("reached")

        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=stage.weight_decay,
                                    betas=(0.9, 0.98))
            # a plain function: LambdaLR leaves it out of its state dict (the checkpoint holds plain data only)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(step, stage))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    return AnswerModule()


def train_stage(model: torch.nn.Module, train_ds, stage: StageConfig, *, lr: float, seed: int, run, config,
                eval_data: dict | None = None, name: str = "stage") -> dict:
    """Train ``model`` in place on ``train_ds`` (a generated HF dataset) as the fit ``name`` of ``run``
    (a :class:`~intarsia.runner.context.RunContext`; ``config`` is the job's config, whose ``fabric``, ``log``
    and ``checkpoint`` sections the fit reads). Returns the learning curve, the step the eval accuracy first
    reached ``stage.stop_at`` (None if never) and the steps taken. The model stays on the fit's device."""
    import lightning as L
    from torch.utils.data import DataLoader

    L.seed_everything(seed, workers=False, verbose=False)
    ds = train_ds.with_format("torch", columns=[c for c in ("input_ids", "answer_pos", "label", "lm_start")
                                                if c in train_ds.column_names])
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(ds, batch_size=stage.batch_size, shuffle=True, drop_last=True, generator=gen)
    if len(loader) == 0:
        raise ValueError(f"{name}: {len(ds)} samples are fewer than one batch of {stage.batch_size}")
    module = _module(model, stage, lr, eval_data)
    trainer = run.trainer(config, name=name, max_steps=stage.steps, max_epochs=-1,
                          log_every_n_steps=max(1, min(50, stage.eval_every or 50)))
    run.fit(trainer, module, loader)
    final = exact_match(model, eval_data) if eval_data is not None else None
    if eval_data is not None and (not module.curve or module.curve[-1][0] != trainer.global_step):
        module.curve.append((trainer.global_step, final))
    return {"curve": module.curve, "reached_at": module.reached, "steps": trainer.global_step, "final_acc": final,
            "rank": trainer.global_rank, "world_size": trainer.world_size}


def drop_checkpoints(run, name: str, rank: int) -> None:
    """Remove a finished fit's checkpoints (its outputs are saved; a resume skips the finished stage)."""
    if rank == 0:
        shutil.rmtree(Path(run.checkpoints) / name, ignore_errors=True)


def steps_to(curve: list[tuple[int, float]], threshold: float) -> int | None:
    """The first logged step whose accuracy is at least ``threshold``."""
    return next((s for s, a in curve if a >= threshold), None)
