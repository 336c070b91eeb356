"""Config dataclasses of the GFlowNet samplers and the ``gfn`` job (cheap to import: no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intarsia.config import component
from intarsia.runner.run_config import (
    CheckpointConfig,
    EvalConfig,
    LogConfig,
    RunConfig,
    at_least,
    at_most,
    check_values,
)


@dataclass
class EnvConfig:
    """A built-in DAG environment (your own DAG: see ``intarsia_gfn.dag``)."""

    name: str = "hypergrid"
    """"hypergrid" (Bengio et al., 2021) or "bitseq" (bit sequences built word by word, in any order)"""
    ndim: int = 2
    """hypergrid: dimension d"""
    height: int = 8
    """hypergrid: side H (coordinates 0..H-1)"""
    reward: str = "default"
    """the reward by name ("default": the env's first). hypergrid: "standard" (R0 + R1 on the outer ring + R2
    on the band, as torchgfn's "original") or "random" (R0 everywhere, R0 + R2 on `modes` cells drawn with
    `modes_seed`: one downstream task per seed); bitseq: "hamming" (below; one task per `modes_seed`)"""
    R0: float = 0.1
    """hypergrid: the floor reward; smaller values make modes harder to find (the TB paper uses 1e-1..1e-3)"""
    R1: float = 0.5
    """hypergrid "standard": added on the outer ring"""
    R2: float = 2.0
    """hypergrid: added on the modes (the band of "standard", the cells of "random")"""
    modes: int = 4
    """hypergrid "random": number of mode cells; bitseq: size of the mode set M"""
    modes_seed: int = 0
    """seed of the random modes (hypergrid "random", bitseq)"""
    length: int = 8
    """bitseq: bits per sequence"""
    word: int = 2
    """bitseq: bits added per action (length must be a multiple)"""
    beta: float = 3.0
    """bitseq: R(x) = exp(-beta * min_m hamming(x, m) / length)"""
    mode_delta: int = 0
    """a mode counts as found once a sampled object lies within this distance of it (hypergrid: L1 between
    cells; bitseq: Hamming between bit strings); 0: exact matches only (``modes_found``)"""
    top_k: int = 100
    """``top_k_reward``: the mean reward of the best ``top_k`` distinct objects sampled so far"""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, positive=("ndim", "height", "R0", "modes", "length", "word", "top_k"),
                     non_negative=("R1", "R2", "beta", "mode_delta"))
        at_most(self, "ndim", 64)
        at_most(self, "length", 1024)


@dataclass
class NetworkConfig:
    hidden: int = 256
    """width of the MLP trunk"""
    layers: int = 2
    """hidden layers of the trunk"""
    uniform_backward: bool = False
    """fix P_B to the uniform distribution over parents instead of learning it"""

    def __post_init__(self) -> None:
        check_values(self, positive=("hidden",), non_negative=("layers",))


@dataclass
class ExplorationConfig:
    epsilon: float = 0.0
    """probability of replacing the policy's action by a uniformly random allowed one (training rollouts)"""
    temperature: float = 1.0
    """training rollouts sample from softmax(logits / temperature)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("temperature",), probabilities=("epsilon",))


@dataclass
class ReplayConfig:
    capacity: int = 0
    """distinct terminal objects kept, highest reward first (0: no replay)"""
    ratio: float = 0.5
    """fraction of each batch made of backward trajectories (drawn with P_B) from stored terminals"""

    def __post_init__(self) -> None:
        check_values(self, non_negative=("capacity",), probabilities=("ratio",))


@dataclass
class GFlowNetConfig:
    """A GFlowNet trained on the environment's reward."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the DAG and its reward"""
    loss: str = "tb"
    """"tb" (trajectory balance), "db" (detailed balance) or "subtb" (sub-trajectory balance)"""
    subtb_lambda: float = 0.9
    """SubTB: weight lambda^(j-i) of the sub-trajectory s_i..s_j, normalised within each trajectory"""
    batch_size: int = 16
    """trajectories per iteration"""
    lr: float = 1e-3
    """Adam learning rate of the networks"""
    lr_logz: float = 1e-1
    """Adam learning rate of log Z (TB)"""
    grad_clip: float = 1.0
    """gradient-norm clip (0: none)"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the trunk and heads"""
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)
    """how training rollouts deviate from the policy"""
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    """replay of the best terminals (off by default)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size", "lr", "lr_logz"), non_negative=("grad_clip",),
                     probabilities=("subtb_lambda",))
        at_most(self, "batch_size", 10**6)


@dataclass
class ExplorerConfig:
    """The reward-free exploratory GFlowNet whose trajectories OC-GFN relabels (GAFlowNet-style)."""

    enabled: bool = True
    """relabel the explorer's trajectories in hindsight (False: only the model's own attempts)"""
    hidden: int = 128
    """width of the explorer's MLP and of the RND networks"""
    lr: float = 1e-3
    """Adam learning rate of the explorer and the RND predictor"""
    lr_logz: float = 1e-1
    """Adam learning rate of the explorer's log Z"""
    intrinsic_scale: float = 10.0
    """the explorer's log-reward is intrinsic_scale * RND error of the terminal (novelty)"""
    epsilon: float = 0.1
    """uniform-action exploration of the explorer's rollouts"""

    def __post_init__(self) -> None:
        check_values(self, positive=("hidden", "lr", "lr_logz"), non_negative=("intrinsic_scale",),
                     probabilities=("epsilon",))


@dataclass
class OCGFNConfig:
    """Outcome-conditioned GFlowNet pre-training: no extrinsic reward is queried."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the DAG (its reward is only used to evaluate the zero-shot conversion)"""
    batch_size: int = 64
    """outcomes (and trajectories of each source) per iteration"""
    lr: float = 1e-3
    """Adam learning rate"""
    grad_clip: float = 1.0
    """gradient-norm clip (0: none)"""
    reward_floor: float = 0.0
    """R(x|y) = 1 if x = y else reward_floor (a zero reward has no log); 0: 1e-4 / |X|. The floor biases
    both what DB converges to (success 1 / (1 + floor (|X| - 1))) and the conversion (its target is
    (1 - floor) R(x) + floor Z), so it must stay far below 1/|X|: 1e-4 caps success at 0.71 on 4,096 outcomes"""
    teleport: bool = True
    """outcome teleportation: log R(x|y) enters every transition's DB residual, not only the last"""
    teleport_log_penalty: float = -9.21
    """with teleportation, the log-reward added to each move of a trajectory that missed its outcome (hits
    add 0); separate from the floor, which only sets the exit's target (-9.21 = log 1e-4)"""
    success_goals: str = "uniform"
    """outcomes whose success rate is estimated where it is not computed exactly: "uniform" (uniformly random
    terminal objects) or "explorer" (fresh explorer samples); never the OC-GFN's own samples, which a model
    collapsed on a few outcomes would reach again"""
    success_samples: int = 1024
    """outcomes of that estimate"""
    hindsight: bool = True
    """train on trajectories relabelled with the outcome they reached (successes by construction)"""
    negatives: bool = True
    """train on the model's own attempts at sampled outcomes (failures are contrastive negatives)"""
    attempt_epsilon: float = 0.05
    """uniform-action exploration of the model's own attempts"""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    """the outcome-conditioned trunk and heads"""
    explorer: ExplorerConfig = field(default_factory=ExplorerConfig)
    """the reward-free exploratory GFlowNet"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size", "lr", "success_samples"), non_negative=("grad_clip", "reward_floor"),
                     probabilities=("attempt_epsilon",))
        if self.reward_floor >= 1:
            raise ValueError(f"reward_floor: must lie in [0, 1) (0: 1e-4 / |X|), got {self.reward_floor}")
        if self.teleport_log_penalty > 0:
            raise ValueError(f"teleport_log_penalty: must be a log-reward <= 0, got {self.teleport_log_penalty}")
        if self.success_goals not in ("uniform", "explorer"):
            raise ValueError(f"success_goals: must be uniform or explorer, got {self.success_goals!r}")
        at_most(self, "batch_size", 10**6)


@dataclass
class FinetuneConfig:
    """Amortized fine-tuning of a frozen pre-trained OC-GFN to the environment's reward."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the DAG the model was pre-trained on, with the new reward"""
    pretrained: str = ""
    """the pre-trained OC-GFN: a model.pt file or the run directory holding it (a `gfn` job with a
    `pretrain` section fills this in)"""
    batch_size: int = 16
    """trajectories of the fine-tuned policy per iteration"""
    transitions: str = "sampled"
    """which transitions train the predictor: "sampled" (those the fine-tuned policy took, as the paper) or
    "all" (every allowed action of each visited state: an ablation that trains the numerators of actions not
    taken too, at n_actions times the queries)"""
    outcomes_per_transition: int = 4
    """outcomes y drawn per transition; each is one reward query R(y)"""
    outcome_epsilon: float = 0.2
    """probability that an outcome token is drawn uniformly instead of from the outcome sampler"""
    lr: float = 3e-3
    """Adam learning rate of the numerator network and the outcome sampler"""
    grad_clip: float = 1.0
    """gradient-norm clip (0: none)"""
    hidden: int = 256
    """width of the numerator network and the outcome sampler"""
    layers: int = 2
    """hidden layers of both"""
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)
    """how the fine-tuned policy's training rollouts deviate from it"""
    reference: bool = True
    """also evaluate the exact conversion of the frozen model (``conversion_*``) where it fits: one network
    call per (state, outcome) pair, 2^20 of them on a 32x32 grid"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size", "outcomes_per_transition", "lr", "hidden"),
                     non_negative=("grad_clip", "layers"), probabilities=("outcome_epsilon",))
        if self.transitions not in ("sampled", "all"):
            raise ValueError(f"transitions: must be sampled or all, got {self.transitions!r}")
        at_most(self, "batch_size", 10**6)


@dataclass
class GFNLogConfig(LogConfig):
    """Metric logging every ``every`` iterations and the run directory root."""

    every: int = 100
    """iterations between metric logs"""
    plots: bool = True
    """write learning_curve.png (and heatmap.png on 2-D grids) at the end; many short runs skip them"""


@dataclass
class GFNCheckpointConfig(CheckpointConfig):
    """Checkpoint period in iterations (a resume continues from the last one)."""

    every: int = 1000
    """iterations between checkpoints (0: only at the end)"""


@dataclass
class GFNEvalConfig(EvalConfig):
    """Evaluation period in iterations (exact where the space is enumerable)."""

    every: int = 250
    """iterations between evaluations (exact where the space is enumerable; 0: only at the end)"""


@dataclass
class GFNJobConfig(RunConfig):
    """The ``gfn`` job: train a sampler for ``iterations`` iterations, evaluate, checkpoint, report."""

    job: str = "gfn"
    """the job that runs this config"""
    name: str = "gfn"
    """run name: the folder under log.dir"""
    seed: int = 0
    """seeds torch, numpy and python (plus the rank) before the sampler is built"""
    cpu_threads: int = 1
    """torch intra-op threads (0: torch's default); small networks run fastest with 1"""
    iterations: int = 1000
    """training iterations (one update() each)"""
    sampler: Any = component("samplers")
    """the sampler: {name: REGISTERED_SAMPLER, ...its config fields}"""
    pretrain: Any = component("samplers", required=False)
    """optional sampler trained first (a child gfn run in <run>/pretrain) whose model.pt becomes
    sampler.pretrained"""
    pretrain_iterations: int = 0
    """iterations of the pretrain stage"""
    log: GFNLogConfig = field(default_factory=GFNLogConfig)
    """metric logging and the run directory root"""
    checkpoint: GFNCheckpointConfig = field(default_factory=GFNCheckpointConfig)
    """checkpoint period (resume continues from the last one)"""
    eval: GFNEvalConfig = field(default_factory=GFNEvalConfig)
    """evaluation period"""

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self, "iterations", 0)
        at_least(self, "pretrain_iterations", 0)


@dataclass
class MCMCConfig:
    """Metropolis-Hastings over terminal objects: the from-scratch baseline that needs no DAG policy."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the DAG and its reward"""
    batch_size: int = 16
    """chains, each proposing one move per iteration (one reward query each)"""
    temperature: float = 1.0
    """the chains target R(x)^(1/temperature)"""
    tokens_per_move: int = 1
    """a proposal redraws this many of the object's tokens uniformly (a symmetric proposal)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size", "temperature", "tokens_per_move"))
        at_most(self, "batch_size", 10**6)


@dataclass
class DQNConfig:
    """DQN on the DAG as an episodic MDP whose only reward, R(x), comes at the exit: the RL baseline."""

    env: EnvConfig = field(default_factory=EnvConfig)
    """the DAG and its reward"""
    batch_size: int = 16
    """episodes (trajectories) per iteration"""
    lr: float = 1e-3
    """Adam learning rate"""
    hidden: int = 256
    """width of the Q network"""
    layers: int = 2
    """hidden layers of the Q network"""
    buffer: int = 100_000
    """transitions kept in the replay buffer"""
    train_batch: int = 256
    """transitions per gradient step"""
    updates_per_iteration: int = 1
    """gradient steps per iteration"""
    gamma: float = 1.0
    """discount (1: the episode's return is R(x))"""
    epsilon_start: float = 1.0
    """epsilon-greedy exploration at the first iteration"""
    epsilon_end: float = 0.05
    """... decayed linearly to this"""
    epsilon_iterations: int = 200
    """iterations of the decay"""
    target_every: int = 50
    """iterations between copies of the Q network to its target"""
    grad_clip: float = 1.0
    """gradient-norm clip (0: none)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size", "lr", "hidden", "buffer", "train_batch", "updates_per_iteration",
                                     "epsilon_iterations", "target_every"),
                     non_negative=("layers", "grad_clip"), probabilities=("gamma", "epsilon_start", "epsilon_end"))
        at_most(self, "batch_size", 10**6)
