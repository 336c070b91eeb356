"""Uniform replay of n-step transitions, assembled per environment as the steps arrive.

Each stored item is (obs, action, R, next_obs, discount) with R = sum_k gamma^k r_{t+k} over up to n
steps and discount = gamma^m (m the steps actually summed), or 0 when the episode terminated inside the
window. A truncated episode (time limit) keeps gamma^m: its last state is bootstrapped, not a dead end.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch


class NStepReplay:
    def __init__(self, capacity: int, obs_shape: tuple[int, ...], obs_dtype, num_envs: int, n_step: int,
                 gamma: float):
        if capacity < 1 or n_step < 1:
            raise ValueError("capacity and n_step must be >= 1")
        self.capacity, self.n_step, self.gamma = int(capacity), int(n_step), float(gamma)
        dtype = np.uint8 if np.dtype(obs_dtype) == np.uint8 else np.float32  # keep Atari frames as bytes
        self.data = {
            "obs": np.zeros((self.capacity, *obs_shape), dtype),
            "next_obs": np.zeros((self.capacity, *obs_shape), dtype),
            "action": np.zeros(self.capacity, np.int64),
            "ret": np.zeros(self.capacity, np.float32),
            "discount": np.zeros(self.capacity, np.float32),
        }
        self.size = self.ptr = 0
        self.pending = [deque() for _ in range(num_envs)]  # per env: (obs, action, reward) not yet stored

    def __len__(self) -> int:
        return self.size

    def _store(self, obs, action, ret, next_obs, discount) -> None:
        i = self.ptr
        self.data["obs"][i] = obs
        self.data["next_obs"][i] = next_obs
        self.data["action"][i] = action
        self.data["ret"][i] = ret
        self.data["discount"][i] = discount
        self.ptr = (self.ptr + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def _emit_first(self, env: int, next_obs, terminated: bool) -> None:
        window = self.pending[env]
        obs, action, _ = window[0]
        ret = sum(self.gamma ** k * r for k, (_, _, r) in enumerate(window))
        discount = 0.0 if terminated else self.gamma ** len(window)
        self._store(obs, action, ret, next_obs, discount)
        window.popleft()

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One vector step: arrays with a leading num_envs axis; next_obs is the true final obs at ends."""
        for e in range(len(action)):
            window = self.pending[e]
            window.append((np.array(obs[e]), int(action[e]), float(reward[e])))
            if terminated[e] or truncated[e]:
                while window:  # flush: shorter windows at the end of the episode
                    self._emit_first(e, next_obs[e], bool(terminated[e]))
            elif len(window) == self.n_step:
                self._emit_first(e, next_obs[e], False)

    def sample(self, batch_size: int, generator: torch.Generator, device) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, self.size, (batch_size,), generator=generator).numpy()
        return {k: torch.as_tensor(v[idx], device=device) for k, v in self.data.items()}

    def state_dict(self) -> dict:
        return {"data": {k: torch.from_numpy(v[: self.size].copy()) for k, v in self.data.items()},
                "size": self.size, "ptr": self.ptr}

    def load_state_dict(self, state) -> None:
        for k, v in state["data"].items():
            self.data[k][: len(v)] = v.numpy()
        self.size, self.ptr = int(state["size"]), int(state["ptr"])
