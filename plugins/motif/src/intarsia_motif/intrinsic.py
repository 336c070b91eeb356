"""Motif's intrinsic reward, registered as reward term ``motif``.

    r_int(c) = 1[r_norm(c) > eps] * r_norm(c) / N(c)^beta

``r_norm`` is the reward model's output standardised with the mean/std saved at training time, ``eps`` a
quantile of ``r_norm`` over the unique training captions (paper: the median), ``N(c)`` how often caption
``c`` has been seen so far in the current episode of that env (this step included; reset when the episode
ends) and ``beta`` the count exponent (paper: 3).

Which caption step t scores (``scored_caption``): by default, as the official learner, the caption of the
observation the action is taken from (``"obs"``): a message pays on the step after it appears, and an
episode's final message is never scored. ``"next"`` scores the caption the step produced instead. The
paper's weighting of intrinsic vs extrinsic reward is
the composition's job: ``rewards: [{name: motif, coef: 0.1}]`` and ``extrinsic_coef: 0.1`` (NetHackScore)
or ``10`` (staircase tasks).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

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
            if not Path(config.reward_model).is_file():
                raise ValueError(f"reward_model: no file {config.reward_model!r}; train one with `intarsia run motif/demo`"
                                  " (it writes RUN/reward_model.pt) and set rewards.0.reward_model=RUN/reward_model.pt")
            model = CaptionRewardModel.load(config.reward_model, device=config.device)
        if config.scored_caption not in ("obs", "next"):
            raise ValueError(f"motif: scored_caption must be 'obs' or 'next', got {config.scored_caption!r}")
        self.config = config
        if config.scored_caption == "obs" and config.message_key:
            self.requires = frozenset({"obs"})
        self.model = model
        self.eps = model.threshold(config.threshold_quantile)
        self.num_envs = int(getattr(env_spec, "num_envs", 1) or 1)
        self.counts: list[dict[str, int]] = [{} for _ in range(self.num_envs)]
        # "obs" mode without message_key: the caption of the observation each env acts from next
        self.obs_captions: list[str] = [""] * self.num_envs

    def _ensure(self, n: int) -> None:
        while len(self.counts) < n:
            self.counts.append({})
        while len(self.obs_captions) < n:
            self.obs_captions.append("")

    def _scored(self, batch, n: int) -> list[str]:
        """The caption each env's reward scores at this step (see the module docstring)."""
        step = [c if isinstance(c, str) else "" for c in (batch.captions or [])]
        step += [""] * (n - len(step))  # an env without captions reads as "nothing happened"
        if self.config.scored_caption == "next":
            return step
        if self.config.message_key:
            from .envs.nethack import decode_message

            return [decode_message(m) for m in np.asarray(batch.obs[self.config.message_key])]
        scored = list(self.obs_captions[:n])
        self.obs_captions[:n] = step  # an ended env's entry is cleared below: the reset caption is unknown
        return scored

    def scores(self, captions) -> np.ndarray:
        """r_norm (or the raw reward with normalize=false) per caption, batched and cached."""
        return self.model.normalized(captions) if self.config.normalize else self.model.raw(captions)

    def __call__(self, batch) -> np.ndarray:
        n = len(batch.terminated)
        self._ensure(n)
        captions = self._scored(batch, n)
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
            self.obs_captions[i] = ""
        return out.astype(np.float32)

    def reset(self) -> None:
        self.counts = [{} for _ in range(self.num_envs)]
        self.obs_captions = [""] * self.num_envs

    def state_dict(self) -> dict:
        # the counts of the episodes in flight, so a resumed run discounts repeated captions the same way
        return {"counts": [dict(c) for c in self.counts], "obs_captions": list(self.obs_captions)}

    def load_state_dict(self, state: Mapping) -> None:
        counts = state.get("counts")
        if counts is not None:
            self.counts = [{str(k): int(v) for k, v in c.items()} for c in counts]
        if state.get("obs_captions") is not None:
            self.obs_captions = [str(c) for c in state["obs_captions"]]
