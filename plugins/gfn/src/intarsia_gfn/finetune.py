"""Fine-tuning a pre-trained OC-GFN to a new reward R (Pan et al., ICLR 2024, Sec. 4).

The policy for R is a marginalisation over outcomes:

    P_F^R(s'|s) = sum_y R(y) F(s|y) P_F(s'|s,y) / sum_y R(y) F(s|y)

(a) ``exact_conversion``: the sum over every outcome, for small outcome spaces; the evaluation reference.
(b) ``AmortizedFinetune`` (the ``ocgfn-finetune`` sampler): with the OC-GFN frozen, a numerator network
    log N(s, a) and an outcome sampler q(y | s, a) are trained so that N(s,a) q(y|s,a) matches
    R(y) F(s|y) P_F(s'|s,y) on the transitions the fine-tuned policy takes (``transitions: all``: every
    allowed transition out of the states it visits), with outcomes drawn from q (mixed with uniform tokens). At the optimum N(s, a) is the numerator above and q(y|s,a) the posterior over
    outcomes, so the fine-tuned policy is P(a|s) = softmax_a log N(s, a): no sum over outcomes at
    sampling time. q draws an outcome token by token (``env.to_tokens``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from intarsia.errors import ConfigError
from intarsia.safe_load import load_torch_file
from torch import nn

from .config import EnvConfig, FinetuneConfig, NetworkConfig
from .dag import DAGEnv, require_outcome_tokens
from .envs import make_env
from .evaluation import (
    ModeTracker,
    distribution_metrics,
    forward_log_probs_of,
    target_distribution,
    terminal_distribution,
    total_modes,
    transition_table,
)
from .networks import GFlowNetHeads, masked_log_softmax, mlp_trunk
from .ocgfn import exact_pairs_fit
from .trajectories import sample_forward


# ------------------------------------------------------------------------------------------------------------
# (a) exact conversion
# ------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def exact_conversion(env: DAGEnv, net, tables=None) -> torch.Tensor:
    """Masked log P_F^R(a|s) (S, A) for every state, summing over every outcome, from an outcome-conditioned
    network ``net`` (or its precomputed ``conditioned_tables``); R is ``env``'s reward."""
    from .ocgfn import conditioned_tables

    logp, logf, outcomes = tables if tables is not None else conditioned_tables(env, net)
    log_ry = env.log_reward(outcomes).float()
    weight = log_ry[None] + logf  # (S, Y): log R(y) F(s|y)
    num = torch.logsumexp(weight[:, None, :] + logp, dim=2)  # (S, A)
    return num - torch.logsumexp(weight, dim=1, keepdim=True)


def exact_conversion_metrics(env: DAGEnv, net, table=None, tables=None) -> dict[str, float]:
    """Distance to R(x)/Z of the exactly converted policy, under ``conversion_*`` names."""
    table = table if table is not None else transition_table(env)
    logp = exact_conversion(env, net, tables)
    target, terminal = target_distribution(env)
    p = terminal_distribution(env, logp, table)
    return {f"conversion_{k}": v for k, v in distribution_metrics(p, target, terminal).items()}


# ------------------------------------------------------------------------------------------------------------
# loading the pre-trained model
# ------------------------------------------------------------------------------------------------------------
class FrozenOCGFN:
    """The pre-trained outcome-conditioned network, evaluation only (what ``exact_conversion`` needs)."""

    def __init__(self, state: dict, env: DAGEnv, device):
        net_cfg = NetworkConfig(**state["network"])
        self.env = env
        self.net = GFlowNetHeads(2 * env.feature_dim, env.n_actions, net_cfg.hidden, net_cfg.layers,
                                 net_cfg.uniform_backward).to(device)
        try:
            self.net.load_state_dict(state["net"])
        except RuntimeError as exc:
            raise ConfigError(f"pretrained: the model does not fit env {env!r} (was it pre-trained on another "
                              f"DAG?): {str(exc).splitlines()[0]}") from None
        self.net.requires_grad_(False).eval()

def load_pretrained(path: str, device) -> dict:
    if not path:
        raise ConfigError("pretrained: empty; name a model.pt of an ocgfn run (or its run directory), or add a "
                          "`pretrain` section to the gfn job")
    p = Path(path)
    if p.is_dir():
        p = p / "model.pt"
    if not p.is_file():
        raise ConfigError(f"pretrained: {str(p)!r} does not exist")
    state = load_torch_file(p, what="pretrained model", map_location=device)
    if not isinstance(state, dict) or state.get("kind") != "ocgfn":
        raise ConfigError(f"pretrained: {str(p)!r} is not an OC-GFN model.pt")
    return state


# ------------------------------------------------------------------------------------------------------------
# (b) the amortized predictor
# ------------------------------------------------------------------------------------------------------------
class OutcomeSampler(nn.Module):
    """q(y | s, a) over outcome token sequences, one token at a time (the prefix is one-hot encoded)."""

    def __init__(self, cond_dim: int, tokens: int, vocab: int, hidden: int, layers: int):
        super().__init__()
        self.tokens, self.vocab = tokens, vocab
        self.body = nn.Sequential(mlp_trunk(cond_dim + tokens * (vocab + 1), hidden, layers), nn.Linear(hidden, vocab))

    def _logits(self, cond, prefix, i):
        tok = prefix.clone()
        tok[:, i:] = -1  # unknown from position i on; the one-hot of -1 + 1 = 0 marks "not drawn yet"
        x = torch.cat([cond, nn.functional.one_hot(tok + 1, self.vocab + 1).flatten(1).float()], 1)
        return self.body(x).log_softmax(-1)

    def sample(self, cond: torch.Tensor, epsilon: float) -> torch.Tensor:
        y = torch.full((len(cond), self.tokens), -1, dtype=torch.long, device=cond.device)
        with torch.no_grad():
            for i in range(self.tokens):
                probs = self._logits(cond, y, i).exp()
                probs = (1 - epsilon) * probs + epsilon / self.vocab
                y[:, i] = torch.multinomial(probs, 1).squeeze(1)
        return y

    def log_prob(self, cond: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(n,) log q(y | cond), all positions in one batched call (teacher forcing)."""
        n, L = y.shape
        rep_cond = cond.repeat_interleave(L, 0)
        prefix = y.repeat_interleave(L, 0)
        pos = torch.arange(L, device=y.device).repeat(n)
        prefix = torch.where(torch.arange(L, device=y.device)[None] < pos[:, None], prefix, -1)
        x = torch.cat([rep_cond, nn.functional.one_hot(prefix + 1, self.vocab + 1).flatten(1).float()], 1)
        logq = self.body(x).log_softmax(-1).gather(1, y.flatten()[:, None]).squeeze(1)
        return logq.view(n, L).sum(1)


class AmortizedModel(nn.Module):
    def __init__(self, env: DAGEnv, hidden: int, layers: int):
        super().__init__()
        self.numerator = nn.Sequential(mlp_trunk(env.feature_dim, hidden, layers), nn.Linear(hidden, env.n_actions))
        self.outcomes = OutcomeSampler(env.feature_dim + env.n_actions, env.outcome_tokens, env.outcome_vocab,
                                       hidden, layers)

    def forward(self, features: torch.Tensor, actions: torch.Tensor, cond: torch.Tensor,
                tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (log N(s, a) (k,), log q(y | s, a) (k,)): the loss's one call, through the DDP wrapper, so that
        both parts' gradients are averaged over the ranks."""
        log_n = self.numerator(features).gather(1, actions[:, None]).squeeze(1)
        return log_n, self.outcomes.log_prob(cond, tokens)


class AmortizedFinetune:
    """The ``ocgfn-finetune`` sampler. ``trajectories`` counts the fine-tuned policy's rollouts;
    ``reward_queries`` the distinct objects whose reward was asked for (queries are cached)."""

    def __init__(self, config: FinetuneConfig, *, fabric, env: DAGEnv | None = None):
        self.config, self.fabric = config, fabric
        state = load_pretrained(config.pretrained, fabric.device)
        self.env = env if env is not None else make_env(config.env, device=fabric.device)
        require_outcome_tokens(self.env, "ocgfn-finetune")
        pre_env = make_env(EnvConfig(**state["env"]), device=fabric.device)
        if (pre_env.state_shape, pre_env.n_actions) != (self.env.state_shape, self.env.n_actions):
            raise ConfigError(f"env: fine-tuning env {self.env!r} is not the DAG the model was pre-trained on "
                              f"({pre_env!r})")
        self.frozen = FrozenOCGFN(state, self.env, fabric.device)
        model = AmortizedModel(self.env, config.hidden, config.layers)
        self.model, self.opt = fabric.setup(model, torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True))
        self.modes = ModeTracker(self.env)
        self.queried = torch.zeros(0, *self.env.state_shape, dtype=torch.long, device=self.env.device)
        self.trajectories = 0
        self._table = None
        self._reference = None

    def _logits(self, states, rows=None):
        # rollouts, without gradients: the bare model (the loss's forward goes through the wrapper)
        return self.model.module.numerator(self.env.features(states))

    def _query(self, outcomes: torch.Tensor) -> torch.Tensor:
        self.queried = torch.unique(torch.cat([self.queried, outcomes]), dim=0)
        return self.env.log_reward(outcomes)

    @property
    def reward_queries(self) -> int:
        return len(self.queried)

    def update(self, step: int) -> dict[str, float]:
        cfg, env = self.config, self.env
        traj = sample_forward(env, self._logits, cfg.batch_size, epsilon=cfg.exploration.epsilon,
                              temperature=cfg.exploration.temperature)
        T = traj.actions.shape[1]
        valid = torch.arange(T, device=traj.lengths.device)[None] < traj.lengths[:, None]
        visited = traj.states[valid]
        if cfg.transitions == "all":  # the numerators of actions not taken are trained too
            pair = torch.nonzero(env.forward_mask(visited))
            s, a = visited[pair[:, 0]], pair[:, 1]
        else:
            s, a = visited, traj.actions[valid]
        k = cfg.outcomes_per_transition
        s, a = s.repeat_interleave(k, 0), a.repeat_interleave(k, 0)
        fs = env.features(s)
        cond = torch.cat([fs, nn.functional.one_hot(a, env.n_actions).float()], 1)
        y = env.from_tokens(self.model.module.outcomes.sample(cond, cfg.outcome_epsilon))
        with torch.no_grad():
            pf, _, logf = self.frozen.net(torch.cat([fs, env.features(y)], 1))
            log_pf = masked_log_softmax(pf, env.forward_mask(s)).gather(1, a[:, None]).squeeze(1)
            target = self._query(y).float() + logf + log_pf
        log_n, log_q = self.model(fs, a, cond, env.to_tokens(y))
        residual = log_n + log_q - target
        loss = residual.pow(2).mean()
        self.opt.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if cfg.grad_clip > 0:
            self.fabric.clip_gradients(self.model, self.opt, max_norm=cfg.grad_clip)
        self.opt.step()
        self.trajectories += cfg.batch_size
        self.modes.add(traj.terminals)
        return {"loss/amortized": float(loss.detach()), "train/reward_queries": float(self.reward_queries),
                **self.modes.metrics()}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        return sample_forward(self.env, self._logits, n).terminals

    @torch.no_grad()
    def terminal_distribution(self):
        if self._table is None:
            self._table = transition_table(self.env)
        target, terminal = target_distribution(self.env)
        logp = forward_log_probs_of(self.env, self._logits)
        return terminal_distribution(self.env, logp, self._table), target, terminal

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        out = {"modes_found": float(len(self.modes)), "trajectories": float(self.trajectories),
               "reward_queries": float(self.reward_queries)}
        out.update(self.modes.metrics(prefix=""))
        if self.env.enumerable:
            p, target, terminal = self.terminal_distribution()
            out.update(distribution_metrics(p, target, terminal))
            out["modes_total"] = float(total_modes(self.env))
            if self._reference is None and self.config.reference and exact_pairs_fit(self.env):
                self._reference = exact_conversion_metrics(self.env, self.frozen.net, self._table)
            out.update(self._reference or {})
        return out

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "trajectories": self.trajectories,
                "modes": self.modes.state_dict(), "queried": self.queried.cpu()}

    def load_state_dict(self, state) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.trajectories = int(state["trajectories"])
        self.modes.load_state_dict(state["modes"])
        self.queried = state["queried"].to(self.env.device)
