"""The ``ocgfn`` sampler: reward-free outcome-conditioned GFlowNet pre-training (Pan et al., ICLR 2024).

F(s|y), P_F(s'|s,y) and P_B(s|s',y) are conditioned on an outcome y (a terminal object) and trained so
that the GFlowNet conditioned on y reaches y: R(x|y) = 1[x = y] (``reward_floor`` instead of 0; by default
1e-4/|X|, since DB with a floor converges to success 1/(1 + floor(|X| - 1)) and its conversion to
(1 - floor) R + floor Z). One iteration:

1. the exploratory GFlowNet (novelty reward, no extrinsic reward) draws ``batch_size`` trajectories and
   trains on them;
2. hindsight: each of its trajectories, relabelled with the outcome it reached, is a success;
3. contrastive attempts: the OC-GFN, conditioned on outcomes drawn from the explorer's terminals, tries to
   reach them; the attempts that miss are negatives (log R = log floor), the hits positives;
4. one Adam step on detailed balance over both sets, with outcome teleportation (``teleport_log_penalty``
   subtracted from every move's residual of a missed attempt) when ``teleport`` is on.

The metric is the success rate P(x = y), computed exactly (per outcome, by dynamic programming on the
outcome-conditioned policy) and averaged over all outcomes where (states x outcomes) is at most
``EXACT_PAIRS``; otherwise estimated on outcomes drawn uniformly (or by the explorer), never on the model's
own samples. ``evaluate`` also reports the zero-shot conversion to the environment's reward (the exact
marginalisation over outcomes, no training) where it is exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import torch
from intarsia.errors import ConfigError

from . import losses
from .config import OCGFNConfig
from .dag import DAGEnv, Enumerable, OutcomeTokens, all_states
from .envs import make_env
from .evaluation import ModeTracker, terminal_distribution, transition_table
from .exploration import Explorer
from .networks import GFlowNetHeads, masked_log_softmax
from .trajectories import Trajectories, sample_forward, score


@torch.no_grad()
def conditioned_tables(env: DAGEnv, net, chunk: int = 1 << 16):
    """For every (state, outcome) pair of an enumerable env: masked log P_F (S, A, Y) and log F (S, Y) of an
    outcome-conditioned network; outcomes are the terminal states, in ``all_states()`` order."""
    states = all_states(env)
    outcomes = states[env.can_exit(states)]
    S, Y = len(states), len(outcomes)
    fs, ys = env.features(states), env.features(outcomes)
    mask = env.forward_mask(states)
    logp = torch.empty(S, env.n_actions, Y, device=states.device)
    logf = torch.empty(S, Y, device=states.device)
    per = max(1, chunk // S)
    for j in range(0, Y, per):
        k = min(per, Y - j)
        x = torch.cat([fs[:, None].expand(S, k, -1), ys[j:j + k][None].expand(S, k, -1)], -1).flatten(0, 1)
        pf, _, lf = net(x)
        logp[:, :, j:j + k] = masked_log_softmax(pf.view(S, k, -1), mask[:, None]).transpose(1, 2)
        logf[:, j:j + k] = lf.view(S, k)
    return logp, logf, outcomes


EXACT_PAIRS = 1 << 22
"""the most (state, outcome) pairs for which success and conversion are computed exactly (2D H=32: 2^20)"""


def exact_pairs_fit(env: DAGEnv) -> bool:
    if not env.enumerable or env.n_terminals is None:
        return False
    return len(env.all_states()) * env.n_terminals <= EXACT_PAIRS


def default_reward_floor(env: DAGEnv) -> float:
    if env.n_terminals is None:
        raise ConfigError(f"reward_floor: {env!r} does not say how many terminal objects it has (n_terminals); "
                          "set reward_floor well below 1/|X|")
    return 1e-4 / env.n_terminals


@torch.no_grad()
def exact_outcome_tables(env: DAGEnv, reward_floor: float):
    """The tables ``conditioned_tables`` returns, of the *exact* OC-GFN for R(x|y) = 1[x = y] (``reward_floor``
    instead of 0) with a uniform P_B: log F(s|y) = log of sum over paths to every x of R(x|y) P_B, and
    P_F(s'|s,y) = F(s'|y) P_B(s|s') / F(s|y), P_F(exit|s,y) = R(s|y) / F(s|y). What a perfectly trained
    OC-GFN is; tests measure the success rate and conversion it allows."""
    from .evaluation import transition_table

    states = all_states(env)
    children, mask = transition_table(env)
    terminal = env.can_exit(states)
    tidx = torch.nonzero(terminal).squeeze(1)
    S, Y = len(states), len(tidx)
    r = torch.zeros(S, Y, dtype=torch.float64, device=states.device)
    r[tidx] = reward_floor
    r[tidx, torch.arange(Y, device=states.device)] = 1.0
    n_parents = env.backward_mask(states).sum(1).clamp(min=1).double()
    ok = children >= 0
    f = r.clone()
    for _ in range(env.max_length):
        inflow = torch.where(ok[:, :, None], f[children.clamp(min=0)] / n_parents[children.clamp(min=0)][:, :, None], 0.0)
        f = r + inflow.sum(1)
    logf = f.log()
    move = torch.where(ok[:, :, None], logf[children.clamp(min=0)] - n_parents[children.clamp(min=0)].log()[:, :, None]
                       - logf[:, None], float("-inf"))
    exit_ = (r.log() - logf)[:, None]
    logp = torch.cat([move, exit_], 1).masked_fill(~mask[:, :, None], float("-inf"))
    return logp.float(), logf.float(), states[tidx]


def uniform_terminals(env: DAGEnv, n: int) -> torch.Tensor:
    """``n`` terminal objects drawn uniformly: from the list of an enumerable env, else token by token (every
    token sequence of the built-in envs is a terminal object)."""
    if isinstance(env, Enumerable) and env.enumerable and not isinstance(env, OutcomeTokens):
        states = env.all_states()
        terminals = states[env.can_exit(states)]
        return terminals[torch.randint(len(terminals), (n,), device=terminals.device)]
    if isinstance(env, OutcomeTokens):
        return env.from_tokens(torch.randint(env.outcome_vocab, (n, env.outcome_tokens), device=env.device))
    raise ConfigError(f"success_goals: uniform needs an enumerable or OutcomeTokens DAG, and {env!r} is neither; "
                      "use success_goals=explorer")


class OutcomeConditionedGFlowNet:
    def __init__(self, config: OCGFNConfig, *, fabric, env: DAGEnv | None = None):
        if not 0 <= config.reward_floor < 1:
            raise ConfigError(f"reward_floor: must lie in [0, 1) (0: 1e-4 / |X|), got {config.reward_floor}")
        if not (config.hindsight or config.negatives):
            raise ConfigError("ocgfn needs hindsight or negatives (or both): nothing to train on")
        self.config, self.fabric = config, fabric
        self.env = env if env is not None else make_env(config.env, device=fabric.device)
        e = self.env
        self.reward_floor = config.reward_floor or default_reward_floor(e)
        if config.success_goals == "explorer" and not config.explorer.enabled:
            raise ConfigError("success_goals: explorer needs explorer.enabled (or use success_goals=uniform)")
        net = GFlowNetHeads(2 * e.feature_dim, e.n_actions, config.network.hidden, config.network.layers,
                            config.network.uniform_backward).train_only(flow=True, log_z=False)  # DB
        self.net, self.opt = fabric.setup(net, torch.optim.Adam(net.network_parameters(), lr=config.lr, foreach=True))
        self.explorer = Explorer(config.explorer, e, fabric) if config.explorer.enabled else None
        self.modes = ModeTracker(e)
        self.trajectories = 0
        self._table = None

    # -- conditioned policy --------------------------------------------------------------------------------
    def _conditioned_logits(self, outcomes: torch.Tensor):
        cond = self.env.features(outcomes)

        def logits(states, rows):
            # a rollout, without gradients: the bare network (the loss's forward goes through the wrapper)
            return self.net.module.forward_logits(torch.cat([self.env.features(states), cond[rows]], 1))

        return logits

    def attempt(self, outcomes: torch.Tensor, epsilon: float = 0.0) -> Trajectories:
        return sample_forward(self.env, self._conditioned_logits(outcomes), len(outcomes), epsilon=epsilon)

    def hits(self, reached: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
        return (reached == outcomes).flatten(1).all(1)

    def log_outcome_reward(self, reached: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
        return torch.where(self.hits(reached, outcomes), 0.0, math.log(self.reward_floor))

    def teleport_penalty(self, reached: torch.Tensor, outcomes: torch.Tensor) -> torch.Tensor:
        return torch.where(self.hits(reached, outcomes), 0.0, self.config.teleport_log_penalty)

    def evaluation_goals(self, n: int) -> torch.Tensor:
        """Outcomes to measure success on: never the OC-GFN's own samples (see ``success_goals``)."""
        if self.config.success_goals == "explorer":
            return sample_forward(self.env, self.explorer._logits, n).terminals
        return uniform_terminals(self.env, n)

    # -- Sampler -------------------------------------------------------------------------------------------
    def update(self, step: int) -> dict[str, float]:
        cfg, env, n = self.config, self.env, self.config.batch_size
        metrics: dict[str, float] = {}
        if self.explorer is not None:
            explored, metrics = self.explorer.step(n)
        else:  # outcomes from uniformly random rollouts
            explored = sample_forward(env, lambda s, r: torch.zeros(len(s), env.n_actions, device=s.device), n)
        self.modes.add(explored.terminals)
        parts, outcomes = [], []
        if cfg.hindsight:
            parts.append(explored)
            outcomes.append(explored.terminals)
        if cfg.negatives:
            goals = explored.terminals[torch.randperm(n, device=explored.terminals.device)]
            tries = self.attempt(goals, cfg.attempt_epsilon)
            parts.append(tries)
            outcomes.append(goals)
            metrics["train/attempt_success"] = float((tries.terminals == goals).flatten(1).all(1).float().mean())
        traj, y = Trajectories.cat(parts), torch.cat(outcomes)
        log_r = self.log_outcome_reward(traj.terminals, y)
        scores = score(env, self.net, traj, condition=env.features(y))
        for_teleport = self.teleport_penalty(traj.terminals, y) if cfg.teleport else None
        terms = losses.detailed_balance(scores, log_r, teleport=for_teleport)
        self.opt.zero_grad(set_to_none=True)
        self.fabric.backward(terms["loss/db"])
        if cfg.grad_clip > 0:
            self.fabric.clip_gradients(self.net, self.opt, max_norm=cfg.grad_clip)
        self.opt.step()
        self.trajectories += n + (n if cfg.negatives else 0)  # explorer rollouts + own attempts
        return {**metrics, "loss/db": float(terms["loss/db"].detach()), "train/modes_found": float(len(self.modes))}

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Objects reached when aiming at outcomes drawn from the explorer (or uniformly)."""
        if self.explorer is not None:
            goals = sample_forward(self.env, self.explorer._logits, n).terminals
        else:
            goals = sample_forward(self.env, lambda s, r: torch.zeros(len(s), self.env.n_actions, device=s.device),
                                   n).terminals
        return self.attempt(goals).terminals

    # -- exact evaluation ----------------------------------------------------------------------------------
    @torch.no_grad()
    def success_rate(self, tables=None) -> float:
        env = self.env
        if self._table is None:
            self._table = transition_table(env)
        logp, _, outcomes = tables if tables is not None else conditioned_tables(env, self.net)
        p = terminal_distribution(env, logp, self._table)  # (S, Y)
        hit = p[env.index(outcomes), torch.arange(len(outcomes), device=p.device)]
        return float(hit.mean())

    @torch.no_grad()
    def terminal_distribution(self):
        """(P_T, target, terminal mask) of the exact zero-shot conversion to the environment's reward."""
        from .evaluation import target_distribution
        from .finetune import exact_conversion

        if self._table is None:
            self._table = transition_table(self.env)
        target, terminal = target_distribution(self.env)
        return terminal_distribution(self.env, exact_conversion(self.env, self.net), self._table), target, terminal

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        out = {"modes_found": float(len(self.modes)), "trajectories": float(self.trajectories)}
        if exact_pairs_fit(self.env):
            from .finetune import exact_conversion_metrics

            tables = conditioned_tables(self.env, self.net)
            out["success_rate"] = self.success_rate(tables)
            out.update(exact_conversion_metrics(self.env, self.net, self._table, tables))
        else:
            out["success_rate"] = self.sampled_success_rate(self.config.success_samples)
        return out

    @torch.no_grad()
    def sampled_success_rate(self, n: int) -> float:
        goals = self.evaluation_goals(n)
        return float(self.hits(self.attempt(goals).terminals, goals).float().mean())

    def model_state(self) -> dict:
        """What fine-tuning loads (``model.pt``): the conditioned network and how to rebuild it."""
        return {"kind": "ocgfn", "env": asdict(self.config.env), "network": asdict(self.config.network),
                "net": {k: v.cpu() for k, v in self.net.state_dict().items()}}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict(), "trajectories": self.trajectories,
                "modes": self.modes.state_dict(),
                "explorer": self.explorer.state_dict() if self.explorer is not None else {}}

    def load_state_dict(self, state) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.trajectories = int(state["trajectories"])
        self.modes.load_state_dict(state["modes"])
        if self.explorer is not None:
            self.explorer.load_state_dict(state["explorer"])
