"""Sequence replay: one ring buffer per environment stream, sampled as contiguous chunks.

Each stored step holds the observation, the action taken *at* that observation (zeros until it is known,
and for an episode's final observation), the reward terms received on *arriving* at it, and the flags
``is_first``/``is_terminal`` (DreamerV3's layout). Consecutive episodes of one env follow each other in its
stream, so a sampled chunk may cross an episode boundary; the world model resets there via ``is_first``.

The arrays grow (doubling) up to ``capacity`` as steps arrive, so a large capacity (the official 1e7) costs
memory only for what is held.
"""

from __future__ import annotations

import numpy as np

FIELDS = ("obs", "action", "rewards", "is_first", "is_terminal")

INITIAL_ROWS = 4096
"""steps per stream allocated at first (then doubled as needed, up to the capacity)"""


class SequenceReplay:
    def __init__(self, num_envs: int, capacity: int, obs_shape, obs_dtype, action_dim: int, num_terms: int,
                 seed: int = 0):
        self.num_envs = num_envs
        self.cap = max(int(capacity) // num_envs, 2)
        rows = min(self.cap, INITIAL_ROWS)
        self.obs = np.zeros((num_envs, rows, *obs_shape), dtype=obs_dtype)
        self.action = np.zeros((num_envs, rows, action_dim), dtype=np.float32)
        self.rewards = np.zeros((num_envs, rows, num_terms), dtype=np.float32)
        self.is_first = np.zeros((num_envs, rows), dtype=bool)
        self.is_terminal = np.zeros((num_envs, rows), dtype=bool)
        self.written = np.zeros(num_envs, dtype=np.int64)  # steps ever written per stream
        self.rng = np.random.default_rng(seed)
        self._rows: tuple[np.ndarray, np.ndarray] | None = None  # online sampling: (stream, next start) per row

    def _grow(self, rows: int) -> None:
        """Reallocate to ``rows`` steps per stream; only called before any stream wrapped (slot = step index)."""
        for name in FIELDS:
            old = getattr(self, name)
            new = np.zeros((old.shape[0], rows, *old.shape[2:]), dtype=old.dtype)
            new[:, :old.shape[1]] = old
            setattr(self, name, new)

    def __len__(self) -> int:
        return int(np.minimum(self.written, self.cap).sum())

    def add(self, env: int, obs, rewards, is_first: bool, is_terminal: bool) -> int:
        """Append one step to stream ``env``; returns its slot (to set its action later)."""
        i = int(self.written[env] % self.cap)
        if i >= self.obs.shape[1]:
            self._grow(min(self.cap, 2 * self.obs.shape[1]))
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
        envs, starts = self._starts(batch, length, episode_starts)
        return self._gather(envs, starts, length)

    def sample_online(self, batch: int, length: int, episode_starts: bool = False) -> dict[str, np.ndarray]:
        """As :meth:`sample`, but row i of a batch continues row i of the previous one: the next ``length``
        steps of the same stream (consecutive chunks, the official replay's ``online`` mode), where they have
        arrived and are still held; otherwise a fresh chunk as :meth:`sample` draws it. Returns also
        ``continues`` (batch,): whether the row continues the previous batch's row."""
        envs, starts = self._starts(batch, length, episode_starts)
        continues = np.zeros(batch, dtype=bool)
        if self._rows is not None and len(self._rows[0]) == batch:
            prev_env, nxt = self._rows
            held = self.written[prev_env] - np.minimum(self.written[prev_env], self.cap)
            continues = (nxt + length <= self.written[prev_env]) & (nxt >= held)
            envs = np.where(continues, prev_env, envs)
            starts = np.where(continues, nxt, starts)
        self._rows = (envs, starts + length)
        out = self._gather(envs, starts, length)
        out["continues"] = continues
        return out

    def _gather(self, envs: np.ndarray, starts: np.ndarray, length: int) -> dict[str, np.ndarray]:
        """Chunks by stream and absolute start step (steps ever written; slot = step % capacity)."""
        idx = (starts[:, None] + np.arange(length)[None]) % self.cap
        return {name: getattr(self, name)[envs[:, None], idx] for name in FIELDS}

    def _starts(self, batch: int, length: int, episode_starts: bool) -> tuple[np.ndarray, np.ndarray]:
        """(stream, absolute start step) of ``batch`` chunks."""
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
        return envs, self.written[envs] - sizes[envs] + offs

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
        return envs, self.written[envs] - np.minimum(self.written, self.cap)[envs] + pick[:, 1]

    def state_dict(self) -> dict:
        import torch

        out = {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))) for name in FIELDS}
        out["written"] = torch.from_numpy(self.written.copy())
        return out

    def load_state_dict(self, state) -> None:
        rows = int(state["is_first"].shape[1])  # what the saving replay had allocated
        if rows != self.obs.shape[1]:
            for name in FIELDS:
                old = getattr(self, name)
                setattr(self, name, np.zeros((old.shape[0], rows, *old.shape[2:]), dtype=old.dtype))
        for name in FIELDS:
            getattr(self, name)[...] = state[name].numpy()
        self.written[...] = state["written"].numpy()
