"""The DAG environment interface every sampler here works on; implement it for your own DAG.

All methods are batched over a leading axis and work on ``torch`` tensors on ``self.device``.
States are integer tensors of shape ``(n, *state_shape)``. Forward actions are ``0..n_actions-1``; the last
one, ``exit``, ends the trajectory and makes the current state the terminal object ``x``. Backward actions
are indexed like the forward action they undo: backward action ``a`` from ``s'`` leads to the parent ``s``
with ``step(s, a) == s'``, so ``P_B`` has ``n_actions - 1`` logits.

To use your own DAG, subclass :class:`DAGEnv` (its DAG and reward methods are abstract: a subclass that
misses one fails when built, naming it) and pass an instance to a sampler
(``GFlowNet(config, fabric=fabric, env=MyDAG())``); to reach it from YAML, register a sampler factory
in your plugin that does the same (see the plugin README). Two capabilities are optional, each its own
abstract mixin, and a component that needs one says so when it meets an env without it:

* :class:`Enumerable` (exact evaluation: P_T, L1, JSD, OC-GFN's exact success rate and conversion):
  ``all_states`` in an order where every parent comes before its children, and ``index``;
* :class:`OutcomeTokens` (OC-GFN fine-tuning, whose outcome sampler draws terminals token by token):
  ``to_tokens`` / ``from_tokens``.
"""

from __future__ import annotations

import abc

import torch
from intarsia.errors import ConfigError


class DAGEnv(abc.ABC):
    n_actions: int
    """forward actions, exit (the last one) included"""
    max_length: int
    """the most forward actions a trajectory can take, exit included"""
    state_shape: tuple[int, ...]
    feature_dim: int
    """width of ``features(states)``"""
    device: torch.device = torch.device("cpu")

    @property
    def exit_action(self) -> int:
        return self.n_actions - 1

    # -- the DAG -------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def initial_states(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    @abc.abstractmethod
    def is_initial(self, states: torch.Tensor) -> torch.Tensor:
        """bool (n,)"""
        raise NotImplementedError

    @abc.abstractmethod
    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """bool (n, n_actions): the allowed forward actions (exit included); at least one per state"""
        raise NotImplementedError

    @abc.abstractmethod
    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """bool (n, n_actions - 1): the allowed backward actions (none for the initial state)"""
        raise NotImplementedError

    @abc.abstractmethod
    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """children for non-exit actions (rows with the exit action are returned unchanged)"""
        raise NotImplementedError

    @abc.abstractmethod
    def backward_step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @abc.abstractmethod
    def features(self, states: torch.Tensor) -> torch.Tensor:
        """float (n, feature_dim): what the networks see"""
        raise NotImplementedError

    @abc.abstractmethod
    def log_reward(self, terminals: torch.Tensor) -> torch.Tensor:
        """float (n,): log R(x) of terminal objects"""
        raise NotImplementedError

    @abc.abstractmethod
    def is_mode(self, terminals: torch.Tensor) -> torch.Tensor:
        """bool (n,): which terminals count as modes (for ``modes_found``)"""
        raise NotImplementedError

    enumerable: bool = False
    """True when exact evaluation can enumerate the space (an :class:`Enumerable` env small enough)"""
    n_terminals: int | None = None
    """|X|, the number of terminal objects, where known: OC-GFN's default reward floor is 1e-4 / |X|"""

    def mode_objects(self) -> torch.Tensor:
        """(M, *state_shape) the modes, for ``modes_within_delta`` (override with ``mode_distance``)"""
        raise ConfigError(f"{self!r} lists no mode objects (DAGEnv.mode_objects): modes within a distance need them")

    def mode_distance(self, terminals: torch.Tensor, modes: torch.Tensor) -> torch.Tensor:
        """(n, M) distance of each terminal to each mode (0 for a match)"""
        return (~(terminals[:, None] == modes[None]).flatten(2).all(-1)).long()

    def can_exit(self, states: torch.Tensor) -> torch.Tensor:
        return self.forward_mask(states)[:, -1]


class Enumerable(abc.ABC):
    """Mixin of a DAG whose states can be listed: exact evaluation. An env may clear ``enumerable`` for
    sizes too large to list."""

    enumerable: bool = True

    @abc.abstractmethod
    def all_states(self) -> torch.Tensor:
        """every state, each parent before its children"""

    @abc.abstractmethod
    def index(self, states: torch.Tensor) -> torch.Tensor:
        """long (n,): position of each state in ``all_states()``"""


class OutcomeTokens(abc.ABC):
    """Mixin of a DAG whose terminal objects are written as ``outcome_tokens`` tokens of ``outcome_vocab``
    values each: OC-GFN fine-tuning's outcome sampler draws them token by token."""

    outcome_tokens: int
    outcome_vocab: int

    @abc.abstractmethod
    def to_tokens(self, terminals: torch.Tensor) -> torch.Tensor:
        """long (n, outcome_tokens)"""

    @abc.abstractmethod
    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """terminal objects (n, *state_shape)"""


def all_states(env: DAGEnv) -> torch.Tensor:
    """``env.all_states()``, or a one-line error when the env cannot be enumerated."""
    if not (isinstance(env, Enumerable) and env.enumerable):
        why = "is too large to enumerate" if isinstance(env, Enumerable) else "does not implement Enumerable"
        raise ConfigError(f"exact evaluation needs an enumerable DAG, and {env!r} {why} "
                          "(intarsia_gfn.dag.Enumerable: all_states, index)")
    return env.all_states()


def require_outcome_tokens(env: DAGEnv, what: str) -> None:
    if not isinstance(env, OutcomeTokens):
        raise ConfigError(f"{what} draws outcomes token by token, and {env!r} does not implement OutcomeTokens "
                          "(intarsia_gfn.dag.OutcomeTokens: outcome_tokens, outcome_vocab, to_tokens, from_tokens)")
