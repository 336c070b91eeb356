"""The protocols components implement. The runner and the conformance tests in
:mod:`intarsia.testing` hold components to these contracts; docstrings are the source of truth.

Arrays crossing these interfaces are numpy arrays with a leading ``num_envs`` axis (the runner's side);
components move them to ``fabric.device`` themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EnvSpec:
    """What a component may know about the environments before it sees data."""

    observation_space: Any  # gymnasium.Space of ONE env
    action_space: Any  # gymnasium.Space of ONE env
    num_envs: int
    reward_terms: tuple[str, ...] = ("extrinsic",)  # names of the (weighted) reward terms the runner emits
    max_episode_steps: int | None = None


@dataclass
class Transitions:
    """One vectorised environment step: every field has a leading ``num_envs`` axis.

    ``next_obs`` is the true next observation, also for envs whose episode just ended (the runner
    separates it from the reset observation that the policy acts on next). ``captions`` is ``info["caption"]``
    per env (``""`` when the env gives none). ``reward`` is the weighted sum of ``reward_terms``; the
    terms themselves are already multiplied by their coefficients (``extrinsic`` included).
    """

    obs: Any
    action: np.ndarray
    next_obs: Any
    env_reward: np.ndarray  # the environment's own reward, unscaled
    terminated: np.ndarray
    truncated: np.ndarray
    captions: list[str] = field(default_factory=list)
    infos: list[dict] = field(default_factory=list)  # per-env info dicts of this step
    reward: np.ndarray | None = None
    reward_terms: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def done(self) -> np.ndarray:
        return np.logical_or(self.terminated, self.truncated)

    @property
    def num_envs(self) -> int:
        return len(self.action)


@runtime_checkable
class Reward(Protocol):
    """A reward term.

    ``requires`` names the :class:`Transitions` fields the term reads (``{"captions"}``, ``{"next_obs"}``…).
    ``__call__(batch)`` returns a float32 array of shape ``(num_envs,)``, **unscaled** (the runner applies
    the configured coefficient). A term with per-episode state (counts of captions, say) updates it with
    this step and then resets it for every env whose ``batch.done`` is true. ``reset()`` clears all state.
    ``state_dict``/``load_state_dict`` hold whatever must survive a resume (may be empty).
    """

    requires: frozenset[str]

    def __call__(self, batch: Transitions) -> np.ndarray: ...

    def reset(self) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: Mapping) -> None: ...


@runtime_checkable
class Policy(Protocol):
    """A trainable agent, driven by the runner.

    * ``act(obs, state, *, explore=True) -> (actions, state)``: ``obs`` is a batch over envs; ``state``
      is the agent's recurrent state (``None`` on the first call). The runner passes ``reset_mask``
      (bool per env, true where the env has just been reset) through ``act(..., reset=mask)`` so
      recurrent agents can clear their state.
    * ``observe(batch: Transitions)``: store a step (the agent owns its replay).
    * ``update(step) -> dict[str, float]``: train as the agent's train ratio says; may return ``{}``.
      ``step`` is the global env step: env steps taken by all ranks together (``num_envs × world_size``
      per vector step), the same number on every rank. It is the one clock of an agent's schedule:
      ``learning_starts``, train ratios (updates per env step) and exploration decays count it, so every
      rank runs the same updates at the same step (:class:`intarsia.schedule.TrainSchedule` does the
      counting); an on-policy agent trains when its rollout is full, which is also the same step on
      every rank. Metric names are ``"group/name"`` (``loss/critic``); the runner logs them through Fabric.
    * ``state_dict()/load_state_dict()``: everything needed to continue training (networks, optimisers,
      counters, and replay when the agent's config asks for it). Values are tensors, numbers, strings and
      containers of them, so checkpoints load with ``torch.load(weights_only=True)``.
    * ``wants_reward_terms`` (optional, default False): the agent reads ``batch.reward_terms`` separately.
    """

    def act(self, obs: Any, state: Any, *, explore: bool = True, reset: np.ndarray | None = None) -> tuple[np.ndarray, Any]: ...

    def observe(self, batch: Transitions) -> None: ...

    def update(self, step: int) -> dict[str, float]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: Mapping) -> None: ...


@runtime_checkable
class WorldModel(Protocol):
    """A world model (a ``torch.nn.Module``) that an agent selects by name.

    Latent states are dicts of tensors (``{"deter": …, "stoch": …}`` or an SSM's hidden states) with a
    leading batch axis. ``features(state)`` is what the actor/critic read.

    * ``initial(batch_size) -> state``
    * ``observe(embeds, actions, is_first, state) -> (posteriors, priors)`` over a ``(B, T)`` sequence
    * ``imagine_step(state, action) -> state`` (prior transition, for imagination)
    * ``loss(batch) -> (dict of named scalar terms, posteriors)``; the agent sums them with its weights
    """

    def initial(self, batch_size: int) -> dict: ...

    def observe(self, embeds: Any, actions: Any, is_first: Any, state: dict | None = None) -> tuple[dict, dict]: ...

    def imagine_step(self, state: dict, action: Any) -> dict: ...

    def loss(self, batch: Mapping[str, Any]) -> tuple[dict, dict]: ...


@runtime_checkable
class Detector(Protocol):
    """Machine-generated-text detector: ``score`` gives P(machine-generated) in [0, 1] per text."""

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> Detector: ...

    def score(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, path: str) -> None: ...

    @classmethod
    def load(cls, path: str) -> Detector: ...


@runtime_checkable
class LLM(Protocol):
    """A text generator. ``generate`` returns one completion per prompt, same order.

    Prompts are plain strings or chat message lists (``[{"role": "system", "content": …}, …]``) that the
    backend renders with the model's chat template (or a configured one). Backends that can score fixed
    answers implement ``option_logprobs(prompts, options) -> np.ndarray`` of shape
    ``(len(prompts), len(options))``.
    """

    def generate(
        self,
        prompts: Sequence[Any],
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> list[str]: ...


@runtime_checkable
class Analysis(Protocol):
    """A measurement of a trained model (registered with ``register_analyses``, the hook of the kind
    ``analyses`` that intarsia-capprobe declares).

    ``run(model, data)`` takes a ``torch.nn.Module`` (read through forward hooks on modules selected by
    name, so any model with named modules works) and the data the analysis documents; it returns
    ``{"metrics": {name: float}, "figures": {name: matplotlib.figure.Figure}}``. It leaves the model's
    weights, training mode and hooks as it found them, and is deterministic for a fixed config seed.
    """

    def run(self, model: Any, data: Any) -> Mapping[str, Any]: ...


@runtime_checkable
class Sampler(Protocol):
    """A trainable sampler of discrete objects (a GFlowNet; registered with ``register_samplers``, the hook of
    the kind ``samplers`` that intarsia-gfn declares).

    It owns its environment, networks, optimisers and replay. ``update(step)`` runs one training
    iteration and returns ``{"group/name": float}``; ``trajectories`` counts the trajectories drawn so far
    (the budget benchmarks compare at). ``sample(n)`` returns ``n`` terminal objects as a tensor with a
    leading ``n`` axis, drawn with torch's global RNG (so seeding torch makes it repeatable).
    ``evaluate()`` returns finite ``{name: float}`` measurements of the current sampler.
    ``state_dict()`` holds tensors, numbers, strings and containers only.
    """

    trajectories: int

    def update(self, step: int) -> Mapping[str, float]: ...

    def sample(self, n: int) -> Any: ...

    def evaluate(self) -> Mapping[str, float]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


@runtime_checkable
class Encoder(Protocol):
    """An observation encoder (registered with ``register_encoders``); a ``torch.nn.Module``.

    ``image_shape`` is the ``(channels, height, width)`` it expects, ``output_shape`` its per-image output:
    ``(num_slots, slot_dim)`` for an object-centric encoder, ``(dim,)`` for a flat one. Calling it on float32
    ``(batch, *image_shape)`` images in ``[0, 1]`` returns float32 ``(batch, *output_shape)``; in ``eval()``
    mode the output is deterministic.
    """

    image_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def __call__(self, images: Any) -> Any: ...
