"""Sequence replay: one ring buffer per environment stream, sampled as contiguous chunks.

Each stored step holds the observation, the action taken *at* that observation (zeros until it is known,
and for an episode's final observation), the reward terms received on *arriving* at it, and the flags
``is_first``/``is_terminal`` (DreamerV3's layout). Consecutive episodes of one env follow each other in its
stream, so a sampled chunk may cross an episode boundary; the world model resets there via ``is_first``.
"""

from __future__ import annotations

import numpy as np

FIELDS = ("obs", "action", "rewards", "is_first", "is_terminal")


class SequenceReplay:
    def __init__(self, num_envs: int, capacity: int, obs_shape, obs_dtype, action_dim: int, num_terms: int,
                 seed: int = 0):
        self.num_envs = num_envs
        self.cap = max(int(capacity) // num_envs, 2)
        self.obs = np.zeros((num_envs, self.cap, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros((num_envs, self.cap, action_dim), dtype=np.float32)
        self.rewards = np.zeros((num_envs, self.cap, num_terms), dtype=np.float32)
        self.is_first = np.zeros((num_envs, self.cap), dtype=bool)
        self.is_terminal = np.zeros((num_envs, self.cap), dtype=bool)
        self.written = np.zeros(num_envs, dtype=np.int64)  # steps ever written per stream
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return int(np.minimum(self.written, self.cap).sum())

    def add(self, env: int, obs, rewards, is_first: bool, is_terminal: bool) -> int:
        """Append one step to stream ``env``; returns its slot (to set its action later)."""
        i = int(self.written[env] % self.cap)
        self.obs[env, i] = obs
        self.action[env, i] = 0.0
        self.rewards[env, i] = rewards
        self.is_first[env, i] = is_first
        self.is_terminal[env, i] = is_terminal
        self.written[env] += 1
        return i

    def set_action(self, env: int, slot: int, action) -> None:
        self.action[env, slot] = action

    def can_sample(self, length: int) -> bool:
        return bool((np.minimum(self.written, self.cap) >= length).any())

    def sample(self, batch: int, length: int, episode_starts: bool = False) -> dict[str, np.ndarray]:
        """``batch`` chunks of ``length`` consecutive steps, streams weighted by how much they hold.

        ``episode_starts``: chunks begin at an episode's first step (uniformly over such steps), so a chunk
        at least as long as an episode holds every step of it from the start (the cue of a memory task).
        """
        if episode_starts:
            out = self._sample_episode_starts(batch, length)
            if out is not None:
                return out
        sizes = np.minimum(self.written, self.cap)
        starts_per_env = np.clip(sizes - length + 1, 0, None).astype(np.float64)
        if starts_per_env.sum() <= 0:
            raise ValueError(f"replay holds no sequence of length {length} yet")
        envs = self.rng.choice(self.num_envs, size=batch, p=starts_per_env / starts_per_env.sum())
        offs = (self.rng.random(batch) * starts_per_env[envs]).astype(np.int64)
        oldest = (self.written[envs] - sizes[envs]) % self.cap
        idx = (oldest[:, None] + offs[:, None] + np.arange(length)[None]) % self.cap
        rows = envs[:, None]
        return {name: getattr(self, name)[rows, idx] for name in FIELDS}

    def _sample_episode_starts(self, batch: int, length: int):
        sizes = np.minimum(self.written, self.cap)
        cands = []  # (env, offset from the oldest step) of episode starts with `length` steps after them
        for env in range(self.num_envs):
            n = int(sizes[env])
            if n < length:
                continue
            oldest = (self.written[env] - n) % self.cap
            ring = (oldest + np.arange(n - length + 1)) % self.cap
            offs = np.flatnonzero(self.is_first[env, ring])
            cands.append(np.stack([np.full(len(offs), env), offs], 1))
        cands = np.concatenate(cands) if cands else np.zeros((0, 2), np.int64)
        if len(cands) == 0:
            return None
        pick = cands[self.rng.integers(len(cands), size=batch)]
        envs = pick[:, 0]
        oldest = (self.written[envs] - np.minimum(self.written, self.cap)[envs]) % self.cap
        idx = (oldest[:, None] + pick[:, 1:2] + np.arange(length)[None]) % self.cap
        return {name: getattr(self, name)[envs[:, None], idx] for name in FIELDS}

    def state_dict(self) -> dict:
        import torch

        out = {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in FIELDS}
        out["written"] = torch.from_numpy(self.written.copy())
        return out

    def load_state_dict(self, state) -> None:
        for name in FIELDS:
            getattr(self, name)[...] = state[name].numpy()
        self.written[...] = state["written"].numpy()
