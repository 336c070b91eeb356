"""Lightning Trainer checkpoints in the run's one checkpoint store (``checkpoints/`` + ``latest.json``).

A Trainer job resumes the way a Fabric job does: a checkpoint becomes visible only when ``latest.json``
names it (written after every rank is done), older ones are pruned to ``keep``, and a resume falls back past
a damaged newest file. Only the payload differs: here it is Lightning's own checkpoint (weights, optimiser,
loops, callbacks), which ``Trainer.fit(ckpt_path=...)`` continues from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lightning as L

from intarsia.errors import IntarsiaError
from intarsia.runner import checkpoint as ckpt
from intarsia.safe_load import load_torch_file


class StoreCheckpoint(L.Callback):
    """Save the Trainer's checkpoint into ``folder`` every ``every`` optimizer steps (0: at every epoch's
    end) and when training ends; keep the newest ``keep``."""

    def __init__(self, folder: Path, *, every: int, keep: int):
        self.folder, self.every, self.keep = Path(folder), int(every), max(1, int(keep))
        self._saved_at: int | None = None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.every > 0 and trainer.global_step > 0 and trainer.global_step % self.every == 0:
            self.save(trainer)

    def on_train_epoch_end(self, trainer, module) -> None:
        if self.every <= 0:
            self.save(trainer)

    def on_train_end(self, trainer, module) -> None:
        self.save(trainer)

    def save(self, trainer) -> None:
        step = int(trainer.global_step)
        if step == self._saved_at:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        target = ckpt.trainer_file(self.folder, step)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        trainer.save_checkpoint(tmp, weights_only=False)  # the full state (loops, optimizers) a fit resumes from; every rank calls, rank 0 writes
        trainer.strategy.barrier()
        if trainer.is_global_zero:
            os.replace(tmp, target)
            ckpt.commit(self.folder, step, trainer.world_size, self.keep)
        trainer.strategy.barrier()
        self._saved_at = step


def newest_trainer_checkpoint(folder: Path) -> tuple[int, Path] | None:
    """``(step, path)`` of the newest complete Trainer checkpoint that loads with ``weights_only=True``
    (older ones are tried when the newest is damaged), or ``None`` when there is none."""
    steps, note = ckpt.candidates(Path(folder))
    if note:
        print(f"warning: {note}", file=sys.stderr)
    failures = []
    for step in steps:
        path = ckpt.trainer_file(Path(folder), step)
        if not path.is_file():
            continue
        try:
            load_torch_file(path, what="checkpoint")
        except IntarsiaError as exc:  # a damaged file, or one holding more than plain data: never unpickled freely
            failures.append(str(exc))
            continue
        if failures:
            print(f"warning: cannot load {failures[0]}; resuming from the older checkpoint at step {step}",
                  file=sys.stderr)
        return step, path
    if failures:
        raise IntarsiaError(f"no checkpoint in {folder} can be loaded ({failures[0]}); start a new run")
    return None
