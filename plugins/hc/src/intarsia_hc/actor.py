"""The actors: the HyperCombinator (K linear sub-policies chosen by a combinator network) and the MLP baseline,
plus the squashed-Gaussian arithmetic both share.

HyperCombinator, for an input x (the state, or [state, goal]) with interpretable features phi(x):

* the combinator, an MLP on x, gives logits l(x) over K sub-policies;
* sub-policy k is linear in the features: [mu_k, rho_k] = W_k phi(x) + b_k, and log-std
  = min + (max - min) (tanh(rho_k) + 1) / 2 (pytorch_sac's bounded log-std);
* while training, a straight-through Gumbel-softmax sample g picks one sub-policy (the forward uses the
  one-hot hard sample, gradients flow through the soft sample to the logits); at evaluation, the argmax;
* the action is tanh(u), u ~ N(mu_g, sigma_g), so the policy acting in a state is exactly one linear map:
  the active sub-policy's row of W is the explanation of the action.

Actors return a dict from ``forward`` (so Fabric's wrapper sees every call) and the module-level functions
turn it into actions and log-densities.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from intarsia.errors import ConfigError
from torch import nn

from .config import ActorConfig

LOG_2PI = math.log(2 * math.pi)


def mlp(in_dim: int, hidden: list[int], out_dim: int) -> nn.Sequential:
    """ReLU MLP with orthogonal weights and zero biases (pytorch_sac's ``weight_init``)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    net = nn.Sequential(*layers)
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight)
            nn.init.zeros_(m.bias)
    return net


def straight_through_gumbel(logits: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot Gumbel-softmax sample whose gradient is the soft sample's. Returns (gate, index)."""
    u = torch.rand_like(logits).clamp_(1e-10, 1.0 - 1e-7)
    soft = F.softmax((logits - torch.log(-torch.log(u))) / temperature, dim=-1)
    index = soft.argmax(-1)
    hard = F.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft, index


def bound_log_std(raw: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return low + 0.5 * (high - low) * (torch.tanh(raw) + 1.0)


def gaussian_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density, summed over the last axis."""
    z = (u - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * LOG_2PI).sum(-1)


def tanh_log_det(u: torch.Tensor) -> torch.Tensor:
    """log |d tanh(u) / du| summed over the last axis, in the stable form 2 (log 2 - u - softplus(-2u))."""
    return (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)


def sample(out: dict, *, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(action in [-1, 1], pre-tanh u); reparameterised, so gradients reach the actor."""
    if deterministic:
        u = out["mean"]
    else:
        u = out["mean"] + torch.exp(out["log_std"]) * torch.randn_like(out["mean"])
    return torch.tanh(u), u


def log_prob(out: dict, u: torch.Tensor, mode: str = "selected", *, squash: bool = True) -> torch.Tensor:
    """log pi(tanh(u) | x) for the actor output ``out``; ``squash=False`` gives the pre-tanh density (the
    Jacobian cancels in a KL between two policies squashed by the same tanh, as RIS computes it).

    ``mode="selected"``: the Gaussian of the sub-policy the forward pass picked (for an MLP actor, its only
    Gaussian). ``mode="mixture"``: log sum_k softmax(l)_k N(u; mu_k, sigma_k), the marginal over the choice."""
    if mode == "mixture" and out.get("logits") is not None:
        per_k = gaussian_log_prob(u.unsqueeze(-2), out["all_mean"], out["all_log_std"])
        density = torch.logsumexp(F.log_softmax(out["logits"], -1) + per_k, dim=-1)
    elif mode in ("selected", "mixture"):
        density = gaussian_log_prob(u, out["mean"], out["log_std"])
    else:
        raise ConfigError(f"actor.log_prob must be 'selected' or 'mixture', got {mode!r}")
    return density - tanh_log_det(u) if squash else density


def diversity_loss(logits: torch.Tensor, kind: str = "usage") -> torch.Tensor:
    """The combinator's diversity regulariser (to be minimised) on a batch of logits (B, K).

    ``usage``: -H(p_bar), p_bar = mean_b softmax(l_b): the batch's soft shares of the sub-policies; lowest
    (-ln K) when every sub-policy has an equal share (mixture-of-experts balance term, Shazeer et al. 2017's
    importance loss in entropy form). ``mutual_information``: -(H(p_bar) - mean_b H(softmax(l_b))), minus the
    mutual information between the state and the choice: balanced shares *and* a confident choice per state."""
    log_p = F.log_softmax(logits.float(), -1)
    p = log_p.exp()
    p_bar = p.mean(0)
    marginal = -(p_bar * p_bar.clamp_min(1e-12).log()).sum()
    if kind == "usage":
        return -marginal
    if kind == "mutual_information":
        conditional = -(p * log_p).sum(-1).mean()
        return -(marginal - conditional)
    raise ConfigError(f"actor.diversity must be 'usage' or 'mutual_information', got {kind!r}")


class FeatureMap(nn.Module):
    """The interpretable features phi(x) the sub-policies are linear in (no parameters)."""

    def __init__(self, kind: str, in_dim: int, goal_dim: int = 0):
        super().__init__()
        if kind not in ("raw", "goal_delta"):
            raise ConfigError(f"actor.features must be 'raw' or 'goal_delta', got {kind!r}")
        if kind == "goal_delta" and goal_dim <= 0:
            raise ConfigError("actor.features 'goal_delta' needs a goal-conditioned agent (an env with goals)")
        self.kind, self.in_dim, self.goal_dim = kind, in_dim, goal_dim
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "raw":
            return x
        state, goal = x[..., : -self.goal_dim], x[..., -self.goal_dim:]
        return torch.cat([state, goal - state[..., : self.goal_dim]], -1)

    def names(self, input_names: list[str]) -> list[str]:
        if self.kind == "raw":
            return list(input_names)
        state, goal = input_names[: -self.goal_dim], input_names[-self.goal_dim:]
        return state + [f"{g}-{s}" for g, s in zip(goal, state[: self.goal_dim])]


class HyperCombinatorActor(nn.Module):
    """K linear sub-policies and a combinator network that picks one per state."""

    def __init__(self, in_dim: int, action_dim: int, cfg: ActorConfig, goal_dim: int = 0):
        super().__init__()
        if cfg.num_subpolicies < 1:
            raise ConfigError(f"actor.num_subpolicies (K) must be >= 1, got {cfg.num_subpolicies}")
        self.cfg, self.action_dim, self.num_subpolicies = cfg, action_dim, cfg.num_subpolicies
        self.features = FeatureMap(cfg.features, in_dim, goal_dim)
        self.combinator = mlp(in_dim, list(cfg.hidden_sizes), cfg.num_subpolicies)
        k, f = cfg.num_subpolicies, self.features.out_dim
        weight = torch.empty(k, 2 * action_dim, f)
        for w in weight:
            nn.init.orthogonal_(w)
        self.weight = nn.Parameter(weight.transpose(1, 2).contiguous())  # (K, features, 2 * action_dim)
        self.bias = nn.Parameter(torch.zeros(k, 2 * action_dim))
        self.register_buffer("temperature", torch.tensor(float(cfg.gumbel_temperature)))

    def subpolicy_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sub-policy's (mean, raw log-std) at x: two (B, K, A) tensors."""
        params = torch.einsum("bf,kfo->bko", self.features(x), self.weight) + self.bias
        return params[..., : self.action_dim], params[..., self.action_dim:]

    def forward(self, x: torch.Tensor, explore: bool = True) -> dict:
        logits = self.combinator(x)
        all_mean, all_raw = self.subpolicy_params(x)
        if explore:
            gate, choice = straight_through_gumbel(logits, float(self.temperature))
        else:
            choice = logits.argmax(-1)
            gate = F.one_hot(choice, self.num_subpolicies).to(logits.dtype)
        mean = torch.einsum("bk,bka->ba", gate, all_mean)
        raw = torch.einsum("bk,bka->ba", gate, all_raw)
        low, high = self.cfg.log_std_min, self.cfg.log_std_max
        return {"mean": mean, "log_std": bound_log_std(raw, low, high), "logits": logits, "choice": choice,
                "all_mean": all_mean, "all_log_std": bound_log_std(all_raw, low, high)}

    def coefficients(self) -> dict[str, torch.Tensor]:
        """The interpretable parameters: W (K, features, A) and b (K, A) of the mean and of the raw log-std."""
        a = self.action_dim
        w, b = self.weight.detach(), self.bias.detach()
        return {"mean_weight": w[..., :a], "mean_bias": b[:, :a], "log_std_weight": w[..., a:],
                "log_std_bias": b[:, a:]}


class MLPActor(nn.Module):
    """The usual SAC actor: an MLP giving the squashed Gaussian's mean and bounded log-std."""

    def __init__(self, in_dim: int, action_dim: int, cfg: ActorConfig, goal_dim: int = 0):
        super().__init__()
        self.cfg, self.action_dim = cfg, action_dim
        self.net = mlp(in_dim, list(cfg.hidden_sizes), 2 * action_dim)

    def forward(self, x: torch.Tensor, explore: bool = True) -> dict:
        mean, raw = self.net(x).chunk(2, -1)
        return {"mean": mean, "log_std": bound_log_std(raw, self.cfg.log_std_min, self.cfg.log_std_max),
                "logits": None, "choice": None}


def build_actor(cfg: ActorConfig, in_dim: int, action_dim: int, goal_dim: int = 0) -> nn.Module:
    if cfg.kind == "hc":
        return HyperCombinatorActor(in_dim, action_dim, cfg, goal_dim)
    if cfg.kind == "mlp":
        return MLPActor(in_dim, action_dim, cfg, goal_dim)
    raise ConfigError(f"actor.kind must be 'hc' or 'mlp', got {cfg.kind!r}")


def gumbel_temperature(cfg: ActorConfig, updates: int) -> float:
    """The Gumbel-softmax temperature after ``updates`` gradient updates (fixed, or linearly annealed)."""
    if cfg.gumbel_temperature_final is None:
        return cfg.gumbel_temperature
    frac = min(1.0, updates / max(1, cfg.gumbel_anneal_steps))
    return cfg.gumbel_temperature + frac * (cfg.gumbel_temperature_final - cfg.gumbel_temperature)
