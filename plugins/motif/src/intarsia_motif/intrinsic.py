"""Motif's intrinsic reward, registered as reward term ``motif``.

    r_int(c) = 1[r_norm(c) > eps] * r_norm(c) / N(c)^beta

``r_norm`` is the reward model's output standardised with the mean/std saved at training time, ``eps`` a
quantile of ``r_norm`` over the unique training captions (paper: the median), ``N(c)`` how often caption
``c`` has been seen so far in the current episode of that env (this step included; reset when the episode
ends) and ``beta`` the count exponent (paper: 3). The paper's weighting of intrinsic vs extrinsic reward is
the composition's job: ``rewards: [{name: motif, coef: 0.1}]`` and ``extrinsic_coef: 0.1`` (NetHackScore)
or ``10`` (staircase tasks).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .config import MotifRewardConfig


def motif_transform(r_norm: np.ndarray, counts: np.ndarray, eps: float, beta: float) -> np.ndarray:
    """The thresholded, count-discounted reward for normalised rewards and episode counts (both (N,))."""
    r_norm = np.asarray(r_norm, dtype=np.float64)
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    return np.where(r_norm > eps, r_norm, 0.0) / counts ** beta


class MotifReward:
    """The ``motif`` reward term (see :class:`intarsia.interfaces.Reward`)."""

    requires = frozenset({"captions"})

    def __init__(self, config: MotifRewardConfig, *, env_spec=None, model=None):
        from .reward_model import CaptionRewardModel

        if model is None:
            if not config.reward_model:
                raise ValueError("reward 'motif' needs reward_model=PATH (a reward_model.pt from the motif pipeline)")
            model = CaptionRewardModel.load(config.reward_model, device=config.device)
        self.config = config
        self.model = model
        self.eps = model.threshold(config.threshold_quantile)
        self.num_envs = int(getattr(env_spec, "num_envs", 1) or 1)
        self.counts: list[dict[str, int]] = [{} for _ in range(self.num_envs)]

    def _ensure(self, n: int) -> None:
        while len(self.counts) < n:
            self.counts.append({})

    def scores(self, captions) -> np.ndarray:
        """r_norm (or the raw reward with normalize=false) per caption, batched and cached."""
        return self.model.normalized(captions) if self.config.normalize else self.model.raw(captions)

    def __call__(self, batch) -> np.ndarray:
        n = len(batch.terminated)
        captions = [c if isinstance(c, str) else "" for c in (batch.captions or [])]
        captions += [""] * (n - len(captions))  # an env without captions reads as "nothing happened"
        self._ensure(n)
        counts = np.ones(n)
        for i, c in enumerate(captions):
            if c == "" and not self.config.count_empty:
                continue
            self.counts[i][c] = self.counts[i].get(c, 0) + 1
            counts[i] = self.counts[i][c]
        out = motif_transform(self.scores(captions), counts, self.eps, self.config.beta)
        done = np.logical_or(np.asarray(batch.terminated, dtype=bool), np.asarray(batch.truncated, dtype=bool))
        for i in np.flatnonzero(done):
            self.counts[i] = {}
        return out.astype(np.float32)

    def reset(self) -> None:
        self.counts = [{} for _ in range(self.num_envs)]

    def state_dict(self) -> dict:
        # the counts of the episodes in flight, so a resumed run discounts repeated captions the same way
        return {"counts": [dict(c) for c in self.counts]}

    def load_state_dict(self, state: Mapping) -> None:
        counts = state.get("counts")
        if counts is not None:
            self.counts = [{str(k): int(v) for k, v in c.items()} for c in counts]
