"""Bit sequences (after Malkin et al., 2022): a sequence of ``length`` bits is built from ``length/word``
words of ``word`` bits, one word per action, written into any empty slot (so the state space is a DAG,
not a tree). R(x) = exp(-beta * min_m hamming(x, m) / length) for a mode set M drawn with a seed.
Enumerable for small sizes: (2^word + 1)^(length/word) states."""

from __future__ import annotations

import torch
from intarsia.errors import ConfigError

from ..config import EnvConfig
from ..dag import DAGEnv, Enumerable, OutcomeTokens


class BitSequence(DAGEnv, Enumerable, OutcomeTokens):
    enumerable = True
    REWARDS = ("hamming",)

    def __init__(self, config: EnvConfig, device="cpu"):
        if config.word < 1 or config.length % config.word:
            raise ConfigError(f"env: bitseq length ({config.length}) must be a multiple of word ({config.word})")
        self.config, self.device = config, torch.device(device)
        self.slots, self.vocab = config.length // config.word, 2 ** config.word
        if (self.vocab + 1) ** self.slots > 5_000_000:
            self.enumerable = False
        self.n_actions = self.slots * self.vocab + 1
        self.max_length = self.slots + 1
        self.state_shape = (self.slots,)
        self.feature_dim = self.slots * (self.vocab + 1)
        self.outcome_tokens, self.outcome_vocab = self.slots, self.vocab
        self.n_terminals = self.vocab ** self.slots
        g = torch.Generator().manual_seed(config.modes_seed)
        self.mode_words = torch.randint(0, self.vocab, (config.modes, self.slots), generator=g).to(self.device)
        self._bits = 2 ** torch.arange(config.word, device=self.device)

    def initial_states(self, n):
        return torch.full((n, self.slots), -1, dtype=torch.long, device=self.device)

    def is_initial(self, states):
        return (states < 0).all(-1)

    def forward_mask(self, states):
        empty = states < 0
        moves = empty[:, :, None].expand(-1, -1, self.vocab).flatten(1)
        full = ~empty.any(-1, keepdim=True)
        return torch.cat([moves, full], dim=1)

    def backward_mask(self, states):
        filled = torch.nn.functional.one_hot(states.clamp(min=0), self.vocab).bool() & (states >= 0)[:, :, None]
        return filled.flatten(1)

    def step(self, states, actions):
        move = actions < self.n_actions - 1
        slot, word = (actions // self.vocab).clamp(max=self.slots - 1), actions % self.vocab
        out = states.clone()
        rows = torch.nonzero(move).squeeze(1)
        out[rows, slot[rows]] = word[rows]
        return out

    def backward_step(self, states, actions):
        out = states.clone()
        out[torch.arange(len(states), device=states.device), actions // self.vocab] = -1
        return out

    def features(self, states):
        return torch.nn.functional.one_hot(states + 1, self.vocab + 1).flatten(1).float()

    def _bits_of(self, words):
        return ((words[..., None] // self._bits) % 2).flatten(-2)

    def log_reward(self, terminals):
        bits, modes = self._bits_of(terminals), self._bits_of(self.mode_words)
        distance = (bits[:, None, :] != modes[None]).sum(-1).min(-1).values.float()
        return -self.config.beta * distance / self.config.length

    def is_mode(self, terminals):
        return (terminals[:, None, :] == self.mode_words[None]).all(-1).any(-1)

    def mode_objects(self):
        return self.mode_words

    def mode_distance(self, terminals, modes):
        return (self._bits_of(terminals)[:, None, :] != self._bits_of(modes)[None]).sum(-1)

    def to_tokens(self, terminals):
        return terminals

    def from_tokens(self, tokens):
        return tokens

    def all_states(self):
        n = (self.vocab + 1) ** self.slots
        idx = torch.arange(n, device=self.device)
        powers = (self.vocab + 1) ** torch.arange(self.slots, device=self.device)
        states = (idx[:, None] // powers) % (self.vocab + 1) - 1
        order = torch.argsort((states >= 0).sum(-1) * n + idx)
        return states[order]

    def index(self, states):
        if not hasattr(self, "_rank"):
            n = (self.vocab + 1) ** self.slots
            self._powers = (self.vocab + 1) ** torch.arange(self.slots, device=self.device)
            flat = ((self.all_states() + 1) * self._powers).sum(-1)
            self._rank = torch.empty(n, dtype=torch.long, device=self.device)
            self._rank[flat] = torch.arange(n, device=self.device)
        return self._rank[((states + 1) * self._powers).sum(-1)]

    def __repr__(self):
        return f"BitSequence(length={self.config.length}, word={self.config.word}, modes={self.config.modes})"
