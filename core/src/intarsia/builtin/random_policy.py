"""Uniformly random actions: a chance baseline and a data collector."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from intarsia.interfaces import EnvSpec, Transitions
from intarsia.rng_state import numpy_generator_from_state, numpy_generator_state


@dataclass
class RandomPolicyConfig:
    seed: int | None = None
    """seed of the action sampler (default: the run's seed and rank via the runner)"""


class RandomPolicy:
    def __init__(self, config: RandomPolicyConfig, *, env_spec: EnvSpec, fabric=None):
        self.space = copy.deepcopy(env_spec.action_space)  # its own sampler, not the env's
        seed = config.seed if config.seed is not None else (fabric.global_rank if fabric is not None else 0)
        self.space.seed(int(seed))
        self.num_envs = env_spec.num_envs

    def act(self, obs, state, *, explore: bool = True, reset=None):
        return np.stack([np.asarray(self.space.sample()) for _ in range(len(_first(obs)))]), state

    def observe(self, batch: Transitions) -> None:
        pass

    def update(self, step: int) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict:
        return {"sampler": numpy_generator_state(self.space.np_random)}

    def load_state_dict(self, state: Mapping) -> None:
        self.space._np_random = numpy_generator_from_state(state["sampler"])


def _first(obs):
    """The batch axis of an observation that may be a dict of arrays."""
    if isinstance(obs, Mapping):
        return next(iter(obs.values()))
    return obs
