"""GFlowNet objectives as residuals (tested against hand-computed values) and named loss terms.

Conventions (see :class:`intarsia_gfn.trajectories.Scores`): a trajectory takes ``n`` actions, the last
one being exit; s_{n-1} is the terminal object x. Transition t < n-1 goes s_t -> s_{t+1}; transition n-1
exits, so its "next state flow" is R(x) and its backward probability is 1.
"""

from __future__ import annotations

import torch

from .trajectories import Scores


def _valid(scores: Scores) -> torch.Tensor:
    T = scores.log_pf.shape[1]
    return torch.arange(T, device=scores.lengths.device)[None] < scores.lengths[:, None]


def tb_residuals(scores: Scores, log_z: torch.Tensor, log_reward: torch.Tensor) -> torch.Tensor:
    """(n,) log Z + sum log P_F - log R(x) - sum log P_B  (Malkin et al., 2022)"""
    return log_z + scores.log_pf.sum(1) - log_reward - scores.log_pb.sum(1)


def db_residuals(scores: Scores, log_reward: torch.Tensor, teleport: torch.Tensor | None = None) -> torch.Tensor:
    """(n, T), 0 past the end: log F(s_t) + log P_F(s_{t+1}|s_t) - log F(s_{t+1}) - log P_B(s_t|s_{t+1}) for
    moves and log F(s_{n-1}) + log P_F(exit|s_{n-1}) - log R(x) for the exit (Bengio et al., 2023).

    ``teleport`` (n,), OC-GFN's outcome teleportation: subtracted from every move's residual too, so the
    outcome's reward factor log R(x|y) reaches each transition of the trajectory at once.
    """
    n, T = scores.log_pf.shape
    rows = torch.arange(n, device=scores.lengths.device)
    last = scores.lengths - 1
    next_f = torch.zeros_like(scores.log_f)
    next_f[:, :-1] = scores.log_f[:, 1:]
    next_f[rows, last] = log_reward
    delta = scores.log_f + scores.log_pf - next_f - scores.log_pb
    if teleport is not None:
        moves = torch.arange(T, device=last.device)[None] < last[:, None]
        delta = delta - teleport[:, None] * moves
    return delta * _valid(scores)


def subtb_residuals(scores: Scores, log_reward: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, T+1, T+1) residuals of every sub-trajectory s_i..s_j (i < j <= n, s_n being the sink after exit)
    log F(s_i) + sum_{i<=t<j} (log P_F - log P_B) - log F(s_j), with F(s_n) := R(x) (Madan et al., 2023);
    and the (n, T+1, T+1) mask of the pairs that exist."""
    n, T = scores.log_pf.shape
    rows = torch.arange(n, device=scores.lengths.device)
    g = torch.cat([scores.log_f, scores.log_f.new_zeros(n, 1)], 1)
    g[rows, scores.lengths] = log_reward
    c = torch.cat([scores.log_f.new_zeros(n, 1), (scores.log_pf - scores.log_pb).cumsum(1)], 1)
    delta = g[:, :, None] + c[:, None, :] - c[:, :, None] - g[:, None, :]
    idx = torch.arange(T + 1, device=rows.device)
    pairs = (idx[:, None] < idx[None, :])[None] & (idx[None, None, :] <= scores.lengths[:, None, None])
    return delta * pairs, pairs


def trajectory_balance(scores: Scores, log_z, log_reward) -> dict[str, torch.Tensor]:
    return {"loss/tb": tb_residuals(scores, log_z, log_reward).pow(2).mean()}


def detailed_balance(scores: Scores, log_reward, teleport=None) -> dict[str, torch.Tensor]:
    valid = _valid(scores)
    sq = db_residuals(scores, log_reward, teleport).pow(2)
    return {"loss/db": sq.sum() / valid.sum()}


def subtrajectory_balance(scores: Scores, log_reward, lam: float) -> dict[str, torch.Tensor]:
    """Each trajectory's sub-trajectories weighted by lambda^(j-i), normalised within the trajectory."""
    delta, pairs = subtb_residuals(scores, log_reward)
    idx = torch.arange(delta.shape[1], device=delta.device)
    w = (lam ** (idx[None, :] - idx[:, None]).clamp(min=0).float())[None] * pairs
    per_traj = (w * delta.pow(2)).sum((1, 2)) / w.sum((1, 2))
    return {"loss/subtb": per_traj.mean()}
