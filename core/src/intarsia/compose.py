"""Reward composition: the environment's reward plus configured terms, each weighted and kept apart.

``rewards: [{name: motif, coef: 0.1}, {name: caption, coef: 0.5, phrase: key}]`` and
``extrinsic_coef: 1.0`` become one :class:`ComposedReward`. Each call returns the weighted terms by name
(``extrinsic`` first); their sum is the reward. Agents that learn one reward head or critic per term read
the terms; the others read the sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from intarsia.build import build
from intarsia.config import Spec
from intarsia.errors import IntarsiaError
from intarsia.interfaces import EnvSpec, Transitions


def term_name(spec: Spec) -> str:
    """A term is named by its ``label`` (to compose one reward twice) or else its registered name."""
    return str(spec.extra.get("label") or spec.name)


class ComposedReward:
    def __init__(self, specs: Sequence[Spec], *, env_spec: EnvSpec, extrinsic_coef: float = 1.0, registry=None):
        self.names = ["extrinsic"] + [term_name(spec) for spec in specs]
        if len(set(self.names)) != len(self.names):
            raise IntarsiaError(f"rewards: each term needs a distinct name (set `label:` to use one reward twice), got {self.names}")
        self.extrinsic_coef = float(extrinsic_coef)
        self.terms = [(term_name(spec), float(spec.extra.get("coef", 1.0)),
                       build("rewards", spec, registry=registry, section=f"rewards.{i}", env_spec=env_spec))
                      for i, spec in enumerate(specs)]
        self.num_envs = env_spec.num_envs

    def __call__(self, batch: Transitions) -> dict[str, np.ndarray]:
        """Weighted terms of one vector step; also stores them and their sum on ``batch``."""
        out = {"extrinsic": self.extrinsic_coef * np.asarray(batch.env_reward, dtype=np.float32)}
        for name, coef, term in self.terms:
            value = np.asarray(term(batch), dtype=np.float32)
            if value.shape != (batch.num_envs,):
                raise IntarsiaError(f"reward {name!r} returned shape {value.shape}, expected ({batch.num_envs},)")
            out[name] = coef * value
        batch.reward_terms = out
        batch.reward = np.sum(np.stack(list(out.values())), axis=0).astype(np.float32)
        return out

    def reset(self) -> None:
        for _, _, term in self.terms:
            term.reset()

    def state_dict(self) -> list:
        return [term.state_dict() for _, _, term in self.terms]

    def load_state_dict(self, states: list) -> None:
        for (_, _, term), state in zip(self.terms, states):
            term.load_state_dict(state)
