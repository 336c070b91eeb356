"""Replay storage laid out time-major per env ((T, num_envs, ...) ring buffers), so the steps of an episode
stay contiguous and hindsight relabelling can find an episode's future states."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch


class Replay:
    """Uniform replay of named fields. ``add`` takes one vector step (arrays with a leading num_envs axis);
    ``sample`` gives index pairs (t, env) and ``gather`` the fields at them as tensors."""

    def __init__(self, capacity: int, num_envs: int, fields: Mapping[str, tuple[tuple[int, ...], np.dtype]]):
        self.num_envs = int(num_envs)
        self.horizon = max(1, int(capacity) // self.num_envs)
        self.data = {k: np.zeros((self.horizon, self.num_envs, *shape), dtype=dtype) for k, (shape, dtype) in fields.items()}
        self.time = np.zeros((self.horizon, self.num_envs), np.int64)  # absolute step written in each slot
        self.episode_end = np.full((self.horizon, self.num_envs), -1, np.int64)  # absolute last step, -1 open
        self.episode_start = np.zeros(self.num_envs, np.int64)
        self.steps = 0  # absolute vector steps written

    def __len__(self) -> int:
        return min(self.steps, self.horizon) * self.num_envs

    def add(self, done: np.ndarray | None = None, **arrays) -> None:
        slot = self.steps % self.horizon
        for key, value in arrays.items():
            self.data[key][slot] = np.asarray(value).reshape(self.data[key].shape[1:])
        self.time[slot] = self.steps
        self.episode_end[slot] = -1
        if done is not None:
            for env in np.flatnonzero(np.asarray(done)):
                first = max(int(self.episode_start[env]), self.steps - self.horizon + 1)
                self.episode_end[np.arange(first, self.steps + 1) % self.horizon, env] = self.steps
                self.episode_start[env] = self.steps + 1
        self.steps += 1

    def sample(self, n: int, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
        filled = min(self.steps, self.horizon)
        t = torch.randint(0, filled, (n,), generator=generator).numpy()
        env = torch.randint(0, self.num_envs, (n,), generator=generator).numpy()
        return t, env

    def future(self, t: np.ndarray, env: np.ndarray, generator: torch.Generator) -> np.ndarray:
        """Slots of uniformly drawn steps at or after (t, env) in the same episode (HER's "future")."""
        now = self.time[t, env]
        end = self.episode_end[t, env]
        end = np.where(end < 0, self.steps - 1, end)  # an episode still running: up to the newest step
        offset = (torch.rand(len(t), generator=generator).numpy() * (end - now + 1)).astype(np.int64)
        return (now + offset) % self.horizon

    def gather(self, t: np.ndarray, env: np.ndarray, keys, device) -> dict[str, torch.Tensor]:
        return {k: torch.as_tensor(self.data[k][t, env], device=device) for k in keys}

    def state_dict(self) -> dict:
        return {"data": {k: torch.from_numpy(v.copy()) for k, v in self.data.items()},
                "time": torch.from_numpy(self.time.copy()), "episode_end": torch.from_numpy(self.episode_end.copy()),
                "episode_start": torch.from_numpy(self.episode_start.copy()), "steps": self.steps}

    def load_state_dict(self, state: Mapping) -> None:
        for k, v in state["data"].items():
            self.data[k][...] = v.numpy()
        self.time[...] = state["time"].numpy()
        self.episode_end[...] = state["episode_end"].numpy()
        self.episode_start[...] = state["episode_start"].numpy()
        self.steps = int(state["steps"])
