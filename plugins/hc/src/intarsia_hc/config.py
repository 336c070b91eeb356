"""Config dataclasses of the plugin's actors, agents and environments (cheap to import: no torch, no gymnasium).

Agent defaults are the settings the paper's control experiments inherit from ``denisyarats/pytorch_sac``
(double-Q critic, 2x1024 MLPs, lr 1e-4, tau 0.005, initial temperature 0.1, log-std in [-5, 2], 5,000 seed
steps, batch 1024, critic target update every 2 steps) and, for the goal-conditioned agent, those of
``elliotchanesane31/RIS`` (alpha 0.1, lambda 0.1, 10 imagined subgoals, batch 2048). Recipes shrink them for
a CPU where they say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intarsia.runner.run_config import at_most, check_values


@dataclass
class ActorConfig:
    """The actor: a HyperCombinator (K linear sub-policies picked by a combinator network) or an MLP."""

    kind: str = "hc"
    """"hc" (HyperCombinator) or "mlp" (the usual squashed-Gaussian MLP actor, the baseline)"""
    num_subpolicies: int = 4
    """K: linear sub-policies of the HC actor (K = 1 is a linear policy)"""
    hidden_sizes: list[int] = field(default_factory=lambda: [1024, 1024])
    """widths of the combinator network (HC) or of the actor MLP (mlp); pytorch_sac: 2 x 1024"""
    features: str = "raw"
    """what the sub-policies are linear in: "raw" (the observation as the env gives it; goal-conditioned
    agents: [state, goal]) or "goal_delta" ([state, goal - state], goal-conditioned agents only)"""
    gumbel_temperature: float = 1.0
    """temperature of the straight-through Gumbel-softmax at the start of training"""
    gumbel_temperature_final: float | None = None
    """temperature after ``gumbel_anneal_steps`` updates (linear anneal); None keeps it fixed"""
    gumbel_anneal_steps: int = 100_000
    """gradient updates over which the temperature is annealed"""
    log_prob: str = "selected"
    """log-density of the HC actor: "selected" (the tanh-Gaussian of the sub-policy the straight-through
    sample picked; gradients reach the logits through the soft sample) or "mixture" (the exact marginal
    log sum_k p_k(s) N_k: the categorical's entropy then enters SAC's entropy term)"""
    diversity_coef: float = 0.0
    """weight of the combinator's diversity regulariser in the actor loss (0: off). The paper's exact
    regulariser is not public; this is the mixture-of-experts balance term (see ``diversity``)"""
    diversity: str = "usage"
    """which diversity regulariser: "usage" (minus the entropy of the batch-mean combinator distribution:
    pushes the sub-policies' shares of the batch towards uniform) or "mutual_information" (minus
    I(state; sub-policy) = H(mean_s p(.|s)) - mean_s H(p(.|s)): balanced shares and a confident choice in each state)"""
    log_std_min: float = -5.0
    """lower bound of the log-std (pytorch_sac: -5); log-std = min + (max - min) (tanh(raw) + 1) / 2"""
    log_std_max: float = 2.0
    """upper bound of the log-std (pytorch_sac: 2)"""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, positive=("num_subpolicies", "hidden_sizes", "gumbel_temperature", "gumbel_temperature_final",
                                     "gumbel_anneal_steps"), non_negative=("diversity_coef",))
        if self.diversity not in ("usage", "mutual_information"):
            raise ValueError(f"diversity: must be 'usage' or 'mutual_information', got {self.diversity!r}")
        if not self.log_std_min < self.log_std_max:
            raise ValueError(f"log_std_min: must be < log_std_max ({self.log_std_max}), got {self.log_std_min}")


@dataclass
class SACConfig:
    """Soft actor-critic (pytorch_sac) with a HyperCombinator or an MLP actor."""

    actor: ActorConfig = field(default_factory=ActorConfig)
    """the actor (see ActorConfig); ``actor.kind: mlp`` is the baseline"""
    critic_hidden_sizes: list[int] = field(default_factory=lambda: [1024, 1024])
    """widths of each of the two Q networks (pytorch_sac: 2 x 1024)"""
    actor_lr: float = 1e-4
    """Adam step size of the actor"""
    critic_lr: float = 1e-4
    """Adam step size of the critic"""
    alpha_lr: float = 1e-4
    """Adam step size of the log-temperature"""
    init_temperature: float = 0.1
    """initial entropy temperature alpha"""
    learnable_temperature: bool = True
    """tune alpha towards ``target_entropy`` (pytorch_sac: True)"""
    target_entropy: float | None = None
    """target entropy; None is -dim(action space)"""
    gamma: float = 0.99
    """discount"""
    tau: float = 0.005
    """Polyak rate of the critic's target network"""
    batch_size: int = 1024
    """transitions per gradient step"""
    buffer_size: int = 1_000_000
    """replay capacity, in transitions (per rank)"""
    seed_steps: int = 5000
    """global env steps (all ranks together) of uniformly random actions before learning starts"""
    updates_per_step: int = 1
    """gradient updates per global env step (under DDP each averages the ranks' batches)"""
    actor_update_every: int = 1
    """updates between actor (and temperature) steps"""
    target_update_every: int = 2
    """updates between Polyak target updates (pytorch_sac: 2)"""
    checkpoint_replay: bool = False
    """put the replay buffer in state_dict (large for long runs)"""
    metrics_every: int = 50
    """updates between metric reads (each read waits for the device once)"""
    seed: int | None = None
    """seeds replay sampling and Gumbel noise (None: from torch's RNG)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("critic_hidden_sizes", "actor_lr", "critic_lr", "alpha_lr", "init_temperature",
                                     "batch_size", "buffer_size", "updates_per_step", "actor_update_every",
                                     "target_update_every"),
                     non_negative=("seed_steps",), probabilities=("gamma", "tau"))
        at_most(self, "buffer_size", 10**9)
        at_most(self, "batch_size", 10**7)


@dataclass
class SACMLPConfig(SACConfig):
    """The baseline: the same SAC with pytorch_sac's MLP actor (2 x 1024)."""

    actor: ActorConfig = field(default_factory=lambda: ActorConfig(kind="mlp"))
    """the actor (see ActorConfig); ``actor.kind: hc`` turns it into the HyperCombinator agent"""


@dataclass
class RISConfig:
    """Goal-conditioned SAC with RIS's KL towards a prior policy built from imagined subgoals."""

    actor: ActorConfig = field(default_factory=lambda: ActorConfig(hidden_sizes=[256, 256]))
    """the actor; RIS's actor and critics are 2 x 256 MLPs"""
    critic_hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """widths of each of the two Q networks"""
    subgoal_hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """widths of the high-level (subgoal) policy network"""
    actor_lr: float = 1e-3
    """Adam step size of the actor (RIS pi_lr: 1e-3 in train_ant.py, the script RIS trains with; RIS.py's own
    default is 1e-4)"""
    critic_lr: float = 1e-3
    """Adam step size of the critic (RIS q_lr)"""
    subgoal_lr: float = 1e-4
    """Adam step size of the subgoal policy (RIS h_lr)"""
    alpha: float = 0.1
    """weight of KL(pi(.|s,g) || prior(.|s,g)) in the actor loss"""
    subgoal_lambda: float = 0.1
    """temperature of the advantage weights of the subgoal policy (RIS Lambda)"""
    num_subgoals: int = 10
    """imagined subgoals per state in the prior policy (RIS n_ensemble)"""
    prior_epsilon: float = 1e-16
    """added to the prior's density before the log"""
    gamma: float = 0.99
    """discount"""
    tau: float = 0.005
    """Polyak rate of the target critic and of the target actor (the prior)"""
    batch_size: int = 2048
    """transitions per gradient step"""
    buffer_size: int = 1_000_000
    """replay capacity, in transitions (per rank)"""
    seed_steps: int = 10_000
    """global env steps (all ranks together) of random actions before learning starts (RIS start_timesteps)"""
    updates_per_step: int = 1
    """gradient updates per global env step (under DDP each averages the ranks' batches)"""
    rollout_goal_fraction: float = 0.2
    """share of a batch that keeps the episode's own goal (HER relabelling)"""
    replay_goal_fraction: float = 0.5
    """of the relabelled rest, the share whose goal is a random replay state (the others: a future state)"""
    goal_threshold: float = 0.1
    """distance below which a relabelled goal counts as reached (reward 0 and terminal; else -1)"""
    value_clip: float = 100.0
    """|V| is clipped to [0, value_clip] in the subgoal cost (RIS: 100)"""
    checkpoint_replay: bool = False
    """put the replay buffer in state_dict"""
    metrics_every: int = 50
    """updates between metric reads (each read waits for the device once)"""
    seed: int | None = None
    """seeds replay sampling, relabelling and Gumbel noise (None: from torch's RNG)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("critic_hidden_sizes", "subgoal_hidden_sizes", "actor_lr", "critic_lr", "subgoal_lr",
                                     "subgoal_lambda", "num_subgoals", "prior_epsilon", "batch_size", "buffer_size",
                                     "updates_per_step", "value_clip"),
                     non_negative=("alpha", "seed_steps", "goal_threshold"),
                     probabilities=("gamma", "tau", "rollout_goal_fraction", "replay_goal_fraction"))
        at_most(self, "buffer_size", 10**9)
        at_most(self, "batch_size", 10**7)


@dataclass
class PendulumConfig:
    """gymnasium ``Pendulum-v1`` with named observation features."""

    max_episode_steps: int = 200
    """steps per episode (gymnasium's default: 200)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_episode_steps",))


@dataclass
class DMCConfig:
    """A DeepMind Control suite task from proprioceptive state (flattened observation dict)."""

    domain: str = "cartpole"
    """suite domain: cartpole, reacher, cheetah, walker, ..."""
    task: str = "swingup"
    """task of the domain: swingup, easy, run, walk, ..."""
    action_repeat: int = 1
    """env steps per agent step (pytorch_sac: 1)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("action_repeat",))


@dataclass
class PointNavConfig:
    """A 2-D point that must reach a goal: dict observations (observation, desired_goal, achieved_goal)."""

    size: float = 1.0
    """the arena is [-size, size]^2"""
    step_size: float = 0.1
    """displacement per step at |action| = 1"""
    goal_threshold: float = 0.1
    """distance at which the goal is reached (the episode terminates with success)"""
    max_episode_steps: int = 50
    """steps before truncation"""
    walls: bool = False
    """a wall from the left edge to x = 0.5 at y = 0 (the point must go round it)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("size", "step_size", "goal_threshold", "max_episode_steps"))
