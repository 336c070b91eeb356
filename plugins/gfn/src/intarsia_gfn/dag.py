"""The DAG environment interface every sampler here works on; implement it for your own DAG.

All methods are batched over a leading axis and work on ``torch`` tensors on ``self.device``.
States are integer tensors of shape ``(n, *state_shape)``. Forward actions are ``0..n_actions-1``; the last
one, ``exit``, ends the trajectory and makes the current state the terminal object ``x``. Backward actions
are indexed like the forward action they undo: backward action ``a`` from ``s'`` leads to the parent ``s``
with ``step(s, a) == s'``, so ``P_B`` has ``n_actions - 1`` logits.

To use your own DAG, subclass :class:`DAGEnv` (the DAG and reward methods are abstract: a subclass that
misses one fails when built, naming it; the token and enumeration methods are needed only by fine-tuning
and exact evaluation) and pass an instance to a sampler
(``GFlowNet(config, fabric=fabric, env=MyDAG())``); to reach it from YAML, register a sampler factory
in your plugin that does the same (see the plugin README). Exact evaluation needs the ``enumerable``
part: ``all_states`` in an order where every parent comes before its children, and ``index``.
"""

from __future__ import annotations

import abc

import torch


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

    # -- outcomes as token sequences (the fine-tuning outcome sampler draws them token by token) ------------
    outcome_tokens: int
    """tokens per terminal object"""
    outcome_vocab: int
    """values per token"""

    def to_tokens(self, terminals: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__}.to_tokens is needed by OC-GFN fine-tuning (the outcome sampler draws terminals token by token)")

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__}.from_tokens is needed by OC-GFN fine-tuning (the outcome sampler draws terminals token by token)")

    # -- enumerable spaces (exact evaluation) ---------------------------------------------------------------
    enumerable: bool = False

    def all_states(self) -> torch.Tensor:
        """every state, each parent before its children"""
        raise NotImplementedError(f"{type(self).__name__}.all_states is needed for exact evaluation (set enumerable = True and implement all_states and index)")

    def index(self, states: torch.Tensor) -> torch.Tensor:
        """long (n,): position of each state in ``all_states()``"""
        raise NotImplementedError(f"{type(self).__name__}.index is needed for exact evaluation (set enumerable = True and implement all_states and index)")

    def can_exit(self, states: torch.Tensor) -> torch.Tensor:
        return self.forward_mask(states)[:, -1]
