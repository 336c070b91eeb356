"""Config dataclasses of the plugin's agents and environments (cheap to import: no torch, no gymnasium).

Defaults are the authors' N-chain settings (``panxulab/LSVI-ASE`` ``configs/nchain_*.json``, Tianshou
``offpolicy_trainer``): batch 32, replay 1e4, 10 env steps per collect with one update per env step,
target sync every 100 gradient steps, 1-step returns, gamma 0.99, MSE loss, a 32-32 MLP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from intarsia.runner.run_config import at_least, at_most, check_values


@dataclass
class DQNConfig:
    """Plain DQN with epsilon-greedy exploration (the baseline; Mnih et al., 2015)."""

    # --- network ---
    network: str = "auto"
    """"mlp", "nature_cnn", or "auto" (nature_cnn for 3-D image observations)"""
    hidden_sizes: list[int] = field(default_factory=lambda: [32, 32])
    """MLP widths (authors: 32, 32)"""
    scale_obs: bool = False
    """divide observations by 255 (authors feed raw Atari pixels: False)"""
    # --- optimisation ---
    lr: float = 1e-3
    """Adam step size"""
    adam_eps: float = 1e-8
    """Adam epsilon (torch default, as in Tianshou)"""
    batch_size: int = 32
    """transitions per gradient step"""
    loss: str = "mse"
    """"mse" (authors: clip_loss_grad=False) or "huber" (smooth L1)"""
    max_grad_norm: float = 0.0
    """clip the gradient norm when > 0 (authors: no clipping)"""
    # --- TD target ---
    gamma: float = 0.99
    """discount"""
    n_step: int = 1
    """n-step returns (authors: 1 on N-chain, 3 on Atari)"""
    double_q: bool = False
    """double Q-learning target (online argmax, target evaluation)"""
    target_update_every: int = 100
    """gradient steps between hard target-network syncs (0: no target net)"""
    clip_rewards: bool = False
    """learn from sign(r) (Atari); the runner still reports raw returns"""
    # --- data ---
    buffer_size: int = 10_000
    """uniform replay capacity, in transitions (per rank)"""
    learning_starts: int = 32
    """global env steps (all ranks) before the first update (authors: one batch)"""
    train_every: int = 10
    """global env steps between training rounds (Tianshou step_per_collect)"""
    updates_per_round: int = 10
    """updates per round (= update_per_step * step_per_collect)"""
    checkpoint_replay: bool = False
    """put the replay buffer in state_dict (large for Atari)"""
    # --- exploration (DQN only) ---
    eps_start: float = 1.0
    """epsilon at step 0"""
    eps_end: float = 0.01
    """final epsilon"""
    eps_decay_steps: int = 10_000
    """global env steps of linear decay"""
    eps_eval: float = 0.0
    """epsilon when act(explore=False)"""
    # --- reproducibility ---
    seed: int | None = None
    """seeds replay sampling / exploration / Langevin noise (None: from torch's RNG)"""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, positive=("hidden_sizes", "lr", "adam_eps", "batch_size", "n_step", "buffer_size", "train_every",
                                     "updates_per_round"),
                     non_negative=("max_grad_norm", "target_update_every", "learning_starts", "eps_decay_steps"),
                     probabilities=("gamma", "eps_start", "eps_end", "eps_eval"))
        at_most(self, "buffer_size", 10**9)
        at_most(self, "batch_size", 10**7)


@dataclass
class LMCDQNConfig(DQNConfig):
    """Adam LMCDQN (Ishfaq et al., ICLR 2024): the Q-network is a sample from an approximate posterior,
    drawn by J Adam-preconditioned Langevin steps per update; actions are greedy under that sample."""

    lr: float = 1e-2
    """Langevin step size eta (authors sweep 1e-2, 1e-3 on N-chain)"""
    langevin_steps: int = 4
    """J: Langevin steps per update, each on a fresh minibatch (authors: 4 on N-chain)"""
    bias_factor: float = 1.0
    """a: weight of the Adam drift term (0 gives SGLD; authors sweep 1, 0.1, 0.01)"""
    noise_scale: float = 1e-2
    """sigma = beta_k ** -0.5 (beta_k the inverse temperature)"""
    beta1: float = 0.9
    """Adam first-moment decay"""
    beta2: float = 0.999
    """Adam second-moment decay"""
    eps_start: float = 0.0
    """no epsilon-greedy exploration (the sampled Q-network explores)"""
    """Greedy under the sampled weights; no epsilon (kept at 0: any other value is an ablation)."""
    eps_end: float = 0.0
    """kept at 0 (any other value is an ablation)"""
    eps_decay_steps: int = 1
    """no decay (epsilon is 0 throughout)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_values(self, positive=("langevin_steps",), non_negative=("bias_factor", "noise_scale"),
                     probabilities=("beta1", "beta2"))


@dataclass
class NChainConfig:
    """N-chain: thermometer-encoded chain of n states, start s2, episodes of n + 8 steps."""

    n: int = 25
    """chain length N"""
    terminate_at_horizon: bool = True
    """the horizon ends the task (authors); False: a truncation"""

    def __post_init__(self) -> None:
        at_least(self, "n", 3)  # start s2 and goal sN distinct


@dataclass
class DeepSeaConfig:
    """bsuite Deep Sea: an N x N grid, +1 only for going right all the way down."""

    size: int = 10
    """N"""
    deterministic: bool = True
    """False: "right" fails w.p. 1/N and the corner rewards are noisy"""
    unscaled_move_cost: float = 0.01
    """total cost of the optimal path (per-step cost / N)"""
    randomize_actions: bool = True
    """per-cell random action meaning (the real benchmark)"""
    mapping_seed: int | None = 0
    """seed of that action mapping"""

    def __post_init__(self) -> None:
        check_values(self, positive=("size",), non_negative=("unscaled_move_cost",))


@dataclass
class AtariConfig:
    """Atari through ale-py with gymnasium's AtariPreprocessing + frame stacking."""

    game: str = "Alien"
    """ALE game name (ALE/<game>-v5)"""
    frame_stack: int = 4
    """frames per observation"""
    screen_size: int = 84
    """square frame size after resizing"""
    noop_max: int = 30
    """random no-ops at reset"""
    frame_skip: int = 4
    """action repeat (max-pooled over the last two frames)"""
    clip_rewards: bool = False
    """clip in the env (prefer the agent's clip_rewards)"""
    terminal_on_life_loss: bool = False
    """gymnasium's life-loss termination (ends the game)"""
    max_episode_frames: int = 108_000
    """emulator frames per episode (30 minutes)"""
    full_action_space: bool = False
    """18 actions instead of the game's minimal set"""
    repeat_action_probability: float = 0.0
    """sticky actions (0: the NoFrameskip-v4 protocol)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("frame_stack", "screen_size", "frame_skip", "max_episode_frames"),
                     non_negative=("noop_max",), probabilities=("repeat_action_probability",))
