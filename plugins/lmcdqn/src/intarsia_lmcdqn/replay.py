"""Uniform replay of n-step transitions, assembled per environment as the steps arrive.

Each stored item is (obs, action, R, next_obs, discount) with R = sum_k gamma^k r_{t+k} over up to n
steps and discount = gamma^m (m the steps actually summed), or 0 when the episode terminated inside the
window. A truncated episode (time limit) keeps gamma^m: its last state is bootstrapped, not a dead end.

Frame-stacked image observations (uint8, ``(stack, H, W)``: Atari) are stored one frame at a time: an
observation shares all but its newest frame with the one before it, so each transition keeps the ids of its
frames (:class:`FrameStore`) instead of two full stacks. At 1e6 transitions of 4 x 84 x 84 that is about
8 GB of frames instead of 56 GB of obs + next_obs; what a sample returns is bit-identical.
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
        self.frames = FrameStore.for_observations(obs_shape, dtype, self.capacity, num_envs, n_step)
        if self.frames is not None:  # stacked frames: each transition holds frame ids, each frame is stored once
            obs_part = {"obs": np.zeros((self.capacity, obs_shape[0]), np.int64),
                        "next_obs": np.zeros((self.capacity, obs_shape[0]), np.int64)}
        else:
            obs_part = {"obs": np.zeros((self.capacity, *obs_shape), dtype),
                        "next_obs": np.zeros((self.capacity, *obs_shape), dtype)}
        self.data = {
            **obs_part,
            "action": np.zeros(self.capacity, np.int64),
            "ret": np.zeros(self.capacity, np.float32),
            "discount": np.zeros(self.capacity, np.float32),
        }
        self.size = self.ptr = 0
        self.filled = False  # every slot written at least once
        self.pending = [deque() for _ in range(num_envs)]  # per env: (obs, action, reward) not yet stored

    def __len__(self) -> int:
        return self.size

    def _store(self, obs, action, ret, next_obs, discount) -> None:
        if self.frames is not None:  # transitions whose frames were overwritten are forgotten first
            self._drop_transitions_older_than(self.frames.oldest_kept())
        i = self.ptr
        self.data["obs"][i] = obs
        self.data["next_obs"][i] = next_obs
        self.data["action"][i] = action
        self.data["ret"][i] = ret
        self.data["discount"][i] = discount
        self.ptr = (self.ptr + 1) % self.capacity
        self.filled = self.filled or self.ptr == 0
        self.size = min(self.size + 1, self.capacity)

    def _emit_first(self, env: int, next_obs, terminated: bool) -> None:
        window = self.pending[env]
        obs, action, _ = window[0]
        ret = sum(self.gamma ** k * r for k, (_, _, r) in enumerate(window))
        discount = 0.0 if terminated else self.gamma ** len(window)
        self._store(obs, action, ret, next_obs, discount)
        window.popleft()

    def _drop_transitions_older_than(self, first_kept_frame: int) -> None:
        """Forget the oldest transitions whose frames the frame ring overwrote (only with
        episodes far shorter than the stack refills: the ring has room for every frame otherwise)."""
        while self.size:
            oldest = (self.ptr - self.size) % self.capacity
            if self.data["obs"][oldest].min() >= first_kept_frame:
                return
            self.size -= 1

    def add(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One vector step: arrays with a leading num_envs axis; next_obs is the true final obs at ends."""
        if self.frames is not None:  # frame ids stand for the observations from here on
            obs = [self.frames.put(e, obs[e]) for e in range(len(action))]
            next_obs = [self.frames.put(e, next_obs[e]) for e in range(len(action))]
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
        if self.size < self.capacity:  # the live slots start after the dropped ones (none without frames)
            idx = (self.ptr - self.size + idx) % self.capacity
        out = {k: v[idx] for k, v in self.data.items()}
        if self.frames is not None:
            out["obs"], out["next_obs"] = self.frames.get(out["obs"]), self.frames.get(out["next_obs"])
        return {k: torch.as_tensor(v, device=device) for k, v in out.items()}

    def state_dict(self) -> dict:
        used = self.capacity if self.filled else self.ptr  # slots ever written, in place (sampling maps slots)
        state = {"data": {k: torch.from_numpy(v[:used].copy()) for k, v in self.data.items()},
                 "size": self.size, "ptr": self.ptr, "filled": self.filled}
        if self.frames is not None:
            state["frames"] = self.frames.state_dict()
        return state

    def load_state_dict(self, state) -> None:
        for k, v in state["data"].items():
            self.data[k][: len(v)] = v.numpy()
        self.size, self.ptr = int(state["size"]), int(state["ptr"])
        self.filled = bool(state.get("filled", self.size == self.capacity))
        if self.frames is not None:
            self.frames.load_state_dict(state["frames"])


class FrameStore:
    """A ring of single frames with global ids; an observation is the frames its ids name.

    ``put(env, obs)`` returns the ids of ``obs``'s frames, writing only what is new: the same observation as
    the env's previous one costs nothing, a shifted stack (the usual step) one frame, and a fresh stack
    (an episode's first observation) its distinct frames.
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, ...], num_envs: int):
        self.capacity = int(capacity)
        self.frames = np.zeros((self.capacity, *frame_shape), np.uint8)
        self.next_id = 0
        self.last: list[tuple[np.ndarray, np.ndarray] | None] = [None] * num_envs

    @classmethod
    def for_observations(cls, obs_shape, dtype, transitions: int, num_envs: int, n_step: int) -> FrameStore | None:
        """A store for stacked uint8 frames ``(stack, H, W)``, or None for other observations. Room for one
        new frame per transition, plus every env's pending window and a refilled stack per episode of 32+ steps."""
        if dtype != np.uint8 or len(obs_shape) != 3 or obs_shape[0] < 2:
            return None
        stack = obs_shape[0]
        room = transitions + transitions * stack // 32 + num_envs * (n_step + 2) * stack
        return cls(room, tuple(obs_shape[1:]), num_envs)

    def put(self, env: int, obs) -> np.ndarray:
        obs = np.asarray(obs)
        prev = self.last[env]
        if prev is not None and np.array_equal(prev[0], obs):
            return prev[1]
        if prev is not None and np.array_equal(prev[0][1:], obs[:-1]):
            ids = np.append(prev[1][1:], self._write(obs[-1]))
        else:
            ids = np.empty(len(obs), np.int64)
            for k, frame in enumerate(obs):  # a reset stack repeats its first frame: stored once
                ids[k] = ids[k - 1] if k and np.array_equal(frame, obs[k - 1]) else self._write(frame)
        self.last[env] = (obs.copy(), ids)
        return ids

    def _write(self, frame) -> int:
        i = self.next_id
        self.frames[i % self.capacity] = frame
        self.next_id += 1
        return i

    def oldest_kept(self) -> int:
        """The smallest frame id the ring still holds (older ones were overwritten)."""
        return self.next_id - self.capacity

    def get(self, ids: np.ndarray) -> np.ndarray:
        return self.frames[ids % self.capacity]

    def state_dict(self) -> dict:
        held = min(self.next_id, self.capacity)
        order = (self.next_id - held + np.arange(held)) % self.capacity  # oldest first
        return {"frames": torch.from_numpy(self.frames[order].copy()), "next_id": self.next_id}

    def load_state_dict(self, state) -> None:
        frames, self.next_id = state["frames"].numpy(), int(state["next_id"])
        order = (self.next_id - len(frames) + np.arange(len(frames))) % self.capacity
        self.frames[order] = frames
        self.last = [None] * len(self.last)
