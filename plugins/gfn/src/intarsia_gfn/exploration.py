"""The reward-free exploratory GFlowNet whose trajectories OC-GFN relabels in hindsight.

GAFlowNet-style (Pan et al., 2023): a TB GFlowNet whose only reward is novelty, measured by random network
distillation (RND: the error of a trained predictor against a fixed random network on the terminal's
features). As terminals become familiar their reward falls, so the explorer keeps moving its mass to
outcomes it has not produced yet.
"""

from __future__ import annotations

import torch
from torch import nn

from . import losses
from .config import ExplorerConfig
from .dag import DAGEnv
from .networks import GFlowNetHeads, mlp_trunk
from .trajectories import Trajectories, sample_forward, score


class RND(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out: int = 32):
        super().__init__()
        self.target = nn.Sequential(mlp_trunk(in_dim, hidden, 2), nn.Linear(hidden, out))
        self.predictor = nn.Sequential(mlp_trunk(in_dim, hidden, 2), nn.Linear(hidden, out))
        self.target.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n,) squared prediction error"""
        return (self.predictor(x) - self.target(x)).pow(2).mean(-1)


class Explorer:
    def __init__(self, config: ExplorerConfig, env: DAGEnv, fabric):
        self.config, self.env, self.fabric = config, env, fabric
        net = GFlowNetHeads(env.feature_dim, env.n_actions, config.hidden, 2).train_only(flow=False, log_z=True)  # TB
        rnd = RND(env.feature_dim, config.hidden)
        opt = torch.optim.Adam([{"params": net.network_parameters(), "lr": config.lr},
                                {"params": [net.log_z], "lr": config.lr_logz},
                                {"params": rnd.predictor.parameters(), "lr": config.lr}])
        self.net, self.rnd = fabric.setup_module(net), fabric.setup_module(rnd)
        self.opt = fabric.setup_optimizers(opt)

    def _logits(self, states, rows=None):
        # rollouts, without gradients: the bare network (the loss's forward goes through the wrapper)
        return self.net.module.forward_logits(self.env.features(states))

    def step(self, n: int) -> tuple[Trajectories, dict[str, float]]:
        """Draw ``n`` trajectories, train on them (TB on novelty + the RND predictor), return them."""
        traj = sample_forward(self.env, self._logits, n, epsilon=self.config.epsilon)
        x = self.env.features(traj.terminals)
        novelty = self.rnd(x)
        log_r = self.config.intrinsic_scale * novelty.detach()
        terms = losses.trajectory_balance(score(self.env, self.net, traj), self.net.log_z, log_r)
        terms["loss/rnd"] = novelty.mean()
        self.opt.zero_grad(set_to_none=True)
        self.fabric.backward(sum(terms.values()))
        self.opt.step()
        return traj, {f"explorer/{k.split('/')[-1]}": float(v.detach()) for k, v in terms.items()}

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "rnd": self.rnd.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state) -> None:
        self.net.load_state_dict(state["net"])
        self.rnd.load_state_dict(state["rnd"])
        self.opt.load_state_dict(state["opt"])
