"""The core's reference reward terms: zero, a constant, and a caption-phrase bonus."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from intarsia.interfaces import Transitions


class _Stateless:
    requires: frozenset[str] = frozenset()

    def reset(self) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: Mapping) -> None:
        pass


class ZeroReward(_Stateless):
    def __init__(self, *, env_spec=None):
        pass

    def __call__(self, batch: Transitions) -> np.ndarray:
        return np.zeros(batch.num_envs, dtype=np.float32)


@dataclass
class ConstantRewardConfig:
    value: float = 1.0
    """reward given on every step"""


class ConstantReward(_Stateless):
    def __init__(self, config: ConstantRewardConfig, *, env_spec=None):
        self.value = float(config.value)

    def __call__(self, batch: Transitions) -> np.ndarray:
        return np.full(batch.num_envs, self.value, dtype=np.float32)


@dataclass
class CaptionRewardConfig:
    phrase: str = "key"
    """case-insensitive substring a caption must contain to pay the bonus"""
    value: float = 1.0
    """bonus per matching caption"""
    once_per_episode: bool = True
    """pay at most once per episode and env (count-based novelty in its simplest form)"""


class CaptionReward:
    """Pays ``value`` for captions containing ``phrase``; per-episode state is reset per env on done."""

    requires = frozenset({"captions"})

    def __init__(self, config: CaptionRewardConfig, *, env_spec=None):
        self.config = config
        self.phrase = config.phrase.lower()
        self.paid = np.zeros(env_spec.num_envs if env_spec is not None else 1, dtype=bool)

    def __call__(self, batch: Transitions) -> np.ndarray:
        if len(self.paid) != batch.num_envs:
            self.paid = np.zeros(batch.num_envs, dtype=bool)
        hit = np.array([self.phrase in (c or "").lower() for c in batch.captions], dtype=bool)
        if self.config.once_per_episode:
            hit &= ~self.paid
            self.paid |= hit
        self.paid[batch.done] = False
        return hit.astype(np.float32) * np.float32(self.config.value)

    def reset(self) -> None:
        self.paid[:] = False

    def state_dict(self) -> dict:
        import torch

        return {"paid": torch.from_numpy(self.paid.copy())}

    def load_state_dict(self, state: Mapping) -> None:
        self.paid = state["paid"].numpy().astype(bool).copy()
