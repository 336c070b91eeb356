"""Supervised stages with the Lightning Trainer: cross-entropy on the answer token, AdamW, warm-up then a
constant LR, an exact-match learning curve every ``eval_every`` steps, optional stop at a threshold."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from .config import StageConfig
from .model import answer_logits, next_token_loss


@torch.no_grad()
def exact_match(model: torch.nn.Module, data: dict, batch_size: int = 1024) -> float:
    """Share of rows whose argmax answer token equals ``labels`` (model mode restored afterwards)."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = 0
    n = len(data["labels"])
    for i in range(0, n, batch_size):
        logits = answer_logits(model, data["input_ids"][i:i + batch_size].to(dev), data["positions"][i:i + batch_size].to(dev))
        correct += int((logits.argmax(-1).cpu() == data["labels"][i:i + batch_size]).sum())
    model.train(was_training)
    return correct / max(n, 1)


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
            if eval_data is not None:
                self._evaluate(0)
                if self.reached == 0:
                    self.trainer.should_stop = True

        def configure_optimizers(self):
            opt = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=stage.weight_decay,
                                    betas=(0.9, 0.98))
            warm = max(1, stage.warmup)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    return AnswerModule()


def train_stage(model: torch.nn.Module, train_ds, stage: StageConfig, *, lr: float, seed: int,
                eval_data: dict | None = None, where: dict | None = None,
                log_dir: str | Path | None = None, name: str = "stage") -> dict:
    """Train ``model`` in place on ``train_ds`` (a generated HF dataset); returns the learning curve,
    the step the eval accuracy first reached ``stage.stop_at`` (None if never) and the steps taken. ``where``:
    the Trainer's accelerator, devices, strategy, precision and nodes (from the job's ``fabric:`` section)."""
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
    logger = False
    if log_dir is not None:
        from lightning.pytorch.loggers import CSVLogger

        logger = CSVLogger(str(log_dir), name=name, version="")
    trainer = L.Trainer(max_steps=stage.steps, max_epochs=math.ceil(stage.steps / len(loader)) + 1,
                        **{"accelerator": "auto", "devices": 1, **(where or {})}, logger=logger,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0, log_every_n_steps=max(1, min(50, stage.eval_every or 50)))
    trainer.fit(module, loader)
    model.cpu()
    final = exact_match(model, eval_data) if eval_data is not None else None
    if eval_data is not None and (not module.curve or module.curve[-1][0] != trainer.global_step):
        module.curve.append((trainer.global_step, final))
    return {"curve": module.curve, "reached_at": module.reached, "steps": trainer.global_step, "final_acc": final}


def steps_to(curve: list[tuple[int, float]], threshold: float) -> int | None:
    """The first logged step whose accuracy is at least ``threshold``."""
    return next((s for s, a in curve if a >= threshold), None)
