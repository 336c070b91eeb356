"""When an off-policy agent trains, on the one clock every policy shares: the runner's global env step.

``Policy.update(step)`` receives ``step``, the env steps taken so far by all ranks together (``num_envs ×
world_size`` per vector step). A :class:`TrainSchedule` turns it into the number of gradient updates to run
now: nothing before ``learning_starts``, then ``per_round`` updates at ``learning_starts`` and again every
``every`` global env steps, catching up when one vector step crosses several rounds. Every rank sees the
same ``step``, so every rank runs the same number of updates at the same moment: the collective calls of
data-parallel training line up, and a run on two ranks starts learning at the same global step as a run
on one.

A train ratio (updates per global env step) is ``per_round / every``; ``TrainSchedule.from_ratio`` builds
the schedule for any ratio. Under data parallelism each update averages the ranks' batches, so more ranks
mean more samples per update, not more updates per env step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from intarsia.errors import ConfigError


@dataclass
class TrainSchedule:
    learning_starts: int
    """global env steps before the first round"""
    every: float = 1.0
    """global env steps between rounds (> 0)"""
    per_round: int = 1
    """updates in one round"""
    rounds: int = 0
    """rounds already handed out (counted from ``learning_starts``)"""
    first_step: int = -1
    """the global step at which the first round was handed out (-1: none yet)"""

    def __post_init__(self) -> None:
        if not self.every > 0 or not math.isfinite(self.every):
            raise ConfigError(f"train schedule: the env steps between training rounds must be > 0, got {self.every}")
        if self.per_round < 0 or self.learning_starts < 0:
            raise ConfigError(f"train schedule: learning_starts and updates per round must be >= 0, got "
                              f"{self.learning_starts} and {self.per_round}")

    @classmethod
    def from_ratio(cls, learning_starts: int, ratio: float) -> TrainSchedule:
        """``ratio`` updates per global env step (one round of one update every ``1 / ratio`` env steps;
        above one, several rounds fall due in one env step)."""
        if not ratio > 0:
            raise ConfigError(f"train schedule: the train ratio must be > 0, got {ratio}")
        return cls(int(learning_starts), 1.0 / float(ratio), 1)

    def rounds_due(self, step: int) -> int:
        """All rounds due by global step ``step`` (0 before ``learning_starts``)."""
        if step < self.learning_starts:
            return 0
        # a small tolerance so that a ratio like 1/3 does not lose a round to rounding
        return int(math.floor((step - self.learning_starts) / self.every + 1e-9)) + 1

    def due(self, step: int) -> int:
        """The updates to run now, at global step ``step``; marks them handed out. An agent that cannot
        train yet (its replay holds less than a batch) does not call this: the rounds it missed are due at
        its next call."""
        new = max(0, self.rounds_due(int(step)) - self.rounds)
        if new and self.first_step < 0:
            self.first_step = int(step)
        self.rounds += new
        return new * self.per_round

    def restart(self, step: int, wait: int) -> None:
        """Start counting again ``wait`` env steps after ``step`` (a resume whose replay was not saved
        refills it first)."""
        self.learning_starts, self.rounds = int(step) + int(wait), 0

    def state_dict(self) -> dict:
        return {"learning_starts": int(self.learning_starts), "rounds": int(self.rounds),
                "first_step": int(self.first_step)}

    def load_state_dict(self, state: Mapping) -> None:
        self.learning_starts = int(state["learning_starts"])
        self.rounds = int(state["rounds"])
        self.first_step = int(state["first_step"])
