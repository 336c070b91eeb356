"""Configuration dataclasses (cheap to import: no torch, no gym).

Defaults follow the official R2I/DreamerV3 configs (``configs.yaml`` of chandar-lab/Recall2Imagine) where a
value is stated there; the network *widths* default to a "small" size that trains on a CPU, and the
recipes set the paper's sizes for GPU runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from intarsia.runner.run_config import at_most, check_values


@dataclass
class WorldModelConfig:
    """Shared by the ``s3m`` (R2I) and ``rssm`` (DreamerV3) world models; SSM fields only affect ``s3m``."""

    stoch: int = 32
    """number of categorical latent variables"""
    classes: int = 32
    """classes per categorical latent"""
    unimix: float = 0.01
    """mix of uniform into latent (and prior) probabilities"""
    deter: int = 512
    """size of the output state h (S3M) / GRU state (RSSM)"""
    units: int = 512
    """width of the input/output projections and the SSM model dimension H"""
    ssm_state: int = 128
    """S3M: states P per S5 layer ("hidden" in the official config)"""
    ssm_layers: int = 4
    """S3M: stacked S5 blocks (official default 4; POPGym 3, Memory Maze 5)"""
    ssm_blocks: int = 8
    """S3M: HiPPO blocks on the diagonal of the initial state matrix"""
    discretization: str = "bilinear"
    """S3M: 'bilinear' (official default) or 'zoh'"""
    dt_min: float = 0.001
    """S3M: lower bound of the initial step sizes"""
    dt_max: float = 0.1
    """S3M: upper bound of the initial step sizes"""
    c_init: str = "trunc_standard_normal"
    """S3M: C init ('trunc_standard_normal' official, 'complex_normal')"""
    conj_sym: bool = False
    """S3M: conjugate-symmetric parameterisation (official default off; halves ssm_state, as officially)"""
    clip_eigs: bool = False
    """S3M: clip Re(Lambda) <= -1e-4"""
    scan: str = "auto"
    """S3M: scan over training chunks, one of scan.SCAN_MODES ('auto' picks by device/size)"""
    mlp_layers: int = 2
    """vector encoder/decoder hidden layers"""
    mlp_units: int = 512
    """vector encoder/decoder width"""
    head_layers: int = 2
    """reward/continue head hidden layers"""
    head_units: int = 512
    """reward/continue head width"""
    cnn_depth: int = 32
    """image encoder/decoder base channels (doubles per stride-2 stage)"""
    cnn_minres: int = 4
    """spatial size where the image encoder stops downsampling"""
    bins: int = 255
    """two-hot symlog bins of the reward head"""
    reward_out_std: float = 0.0
    """init std of the reward heads' output layer (official: 0 = zeros, see README)"""
    free_nats: float = 1.0
    """KL free bits (per time step, summed over latents)"""
    head_inputs: str = "output"
    """what decoder/reward/continue heads read: 'output' (h, z) as in the paper"""
    out_proj_norm: bool = False
    """S3M output projection h = out_proj(y): false is the official Linear(bias) + SiLU; true adds DreamerV3's LayerNorm
    (Linear without bias -> LayerNorm -> SiLU), this plugin's earlier choice"""
    reset_stoch_mid_chunk: bool = False
    """S3M training chunks: at every episode start in a chunk (step 0 included), replace the previous posterior fed
    to the sequence model by the initial latent. Official (false): only the action is masked there and the SSM
    state is reset; the previous posterior is the one given (``policy.chunk_start``) or the old episode's last"""
    action_clip: float = 1.0
    """actions the dynamics read are scaled by sg(clip / max(clip, |a|)) (official ``rssm.action_clip``: 1.0;
    acts on imagined continuous actions); 0 turns it off"""
    encoder: dict = field(default_factory=dict)
    """image observations: a registered encoder (``encoders`` kind) instead of the built-in CNN, as
    ``{name: <encoder>, frozen: true|false, <its options>}`` (e.g. ``{name: crl-slots, checkpoint:
    RUN/encoder.pt, frozen: true}``); its output is flattened into the embedding. ``frozen: true`` keeps its
    weights (and eval mode) fixed; false (the default) fine-tunes it with the world model. ``{}``: the CNN"""

    def __post_init__(self) -> None:
        check_values(self, positive=("stoch", "classes", "deter", "units", "ssm_state", "ssm_layers", "ssm_blocks", "dt_min",
                                     "dt_max", "mlp_units", "head_units", "cnn_depth", "cnn_minres", "bins"),
                     non_negative=("mlp_layers", "head_layers", "reward_out_std", "free_nats", "action_clip"),
                     probabilities=("unimix",))


_NOTICED: set[str] = set()  # deprecated keys already reported in this process

CHUNK_STARTS = ("carry", "initial")
"""``AgentConfig.chunk_start`` values"""


@dataclass
class AgentConfig:
    """DreamerV3-style actor-critic in imagination on top of a world model (R2I or DreamerV3)."""

    world_model: Any = field(default_factory=dict)
    """the world model, built by name from the registry: ``{name: <a registered world model>, <its options>}``
    (``s3m`` and ``rssm`` take :class:`WorldModelConfig`); a plain string is the name alone. Without a name,
    the policy's default: ``s3m`` for ``r2i``, ``rssm`` for ``dreamerv3``"""
    model: Any = None
    """deprecated: the world model's options, now ``world_model``'s; still read (merged under
    ``world_model``) with a one-line notice"""
    critic_bins: int = 255
    """two-hot symlog bins of the critic"""
    policy_inputs: str = "full"
    """actor/critic features: 'output' (h,z), 'hidden' (z, SSM states), 'full'"""
    actor_layers: int = 2
    """actor hidden layers"""
    actor_units: int = 512
    """actor width"""
    critic_layers: int = 2
    """critic hidden layers"""
    critic_units: int = 512
    """critic width"""
    actor_unimix: float = 0.01
    """uniform mix into discrete action probabilities"""
    actor_minstd: float = 0.1
    """continuous actions: minimum std"""
    actor_maxstd: float = 1.0
    """continuous actions: maximum std"""
    model_lr: float = 1.0e-4
    """world-model Adam learning rate"""
    model_eps: float = 1.0e-8
    """world-model Adam epsilon"""
    model_clip: float = 1000.0
    """world-model gradient-norm clip, applied to each parameter group on its own as officially (S3M: Lambda_re,
    Lambda_im, B, C, D, log_step and the rest: 7 groups)"""
    model_wd: float = 0.0
    """world-model weight decay on Linear/conv kernels only (official wd_pattern), not SSM"""
    actor_lr: float = 3.0e-5
    """actor learning rate"""
    critic_lr: float = 3.0e-5
    """critic learning rate"""
    ac_eps: float = 1.0e-5
    """actor/critic Adam epsilon"""
    ac_clip: float = 100.0
    """actor gradient-norm clip (official actor_opt.clip)"""
    critic_clip: float = 100.0
    """critic gradient-norm clip (official critic_opt.clip)"""
    imag_horizon: int = 15
    """imagination length"""
    horizon: float = 333.0
    """discount = 1 - 1/horizon"""
    return_lambda: float = 0.95
    """lambda of the lambda-returns"""
    imag_cont: str = "mode"
    """continue flag of imagined steps: 'mode' (the official cont head's .mode(): 1 if p > 0.5) or 'mean' (p)"""
    actent: float = 3.0e-4
    """actor entropy bonus"""
    retnorm_decay: float = 0.99
    """EMA decay of the return percentiles"""
    retnorm_low: float = 5.0
    """lower return percentile"""
    retnorm_high: float = 95.0
    """upper return percentile"""
    retnorm_max: float = 1.0
    """returns are divided by max(retnorm_max, high - low)"""
    slow_critic_fraction: float = 0.02
    """EMA fraction of the slow critic per update"""
    slow_critic_update: int = 1
    """update the slow critic every this many updates"""
    slowreg: float = 1.0
    """weight of the critic's regulariser towards the slow critic"""
    loss_image: float = 1.0
    """image reconstruction loss weight"""
    loss_vector: float = 1.0
    """vector reconstruction loss weight"""
    loss_reward: float = 1.0
    """reward loss weight (each term's head)"""
    loss_cont: float = 1.0
    """continue loss weight"""
    loss_dyn: float = 0.5
    """KL balancing: dynamics (prior) term"""
    loss_rep: float = 0.1
    """KL balancing: representation (posterior) term"""
    batch_size: int = 16
    """sequences per update"""
    batch_length: int = 64
    """steps per sequence; must cover an episode on memory tasks"""
    train_ratio: float = 32.0
    """replayed steps per global env step (batch_size * batch_length per update)"""
    learning_starts: int = 1024
    """global env steps (all ranks) collected before training"""
    replay_capacity: int = 10_000_000
    """replay size in steps (all envs together; official replay_size 1e7). Memory grows with what is held"""
    replay_episode_starts: bool = False
    """chunks start at episode starts (short CPU runs on memory tasks)"""
    replay_online: bool = False
    """row i of each batch continues row i of the previous batch in the same env stream where those steps
    exist (the official replay's ``online`` mode; official default off: uniformly placed chunks)"""
    chunk_start: str = "carry"
    """state the world model starts each training chunk from. 'carry' (official): each batch row's last posterior
    of the previous update (the official train state; with replay_online the true previous step), with the SSM
    state and the action reset at step 0, which the replay marks is_first as officially; 'initial': the initial
    latent for every chunk"""
    imag_starts: int = 0
    """posterior states used as imagination starts per update (0 = all B*T)"""
    checkpoint_replay: bool = False
    """include the replay buffer in state_dict"""
    metrics_every: int = 16
    """updates between metric reads (each read waits for the device once)"""
    seed: int | None = None
    """network init and replay sampling; None: drawn from the run seed (per rank)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("actor_units", "critic_units", "actor_minstd", "actor_maxstd", "model_lr", "model_eps",
                                     "model_clip", "actor_lr", "critic_lr", "ac_eps", "ac_clip", "critic_clip", "imag_horizon",
                                     "horizon", "retnorm_max", "slow_critic_update", "batch_size", "batch_length", "train_ratio",
                                     "replay_capacity", "metrics_every"),
                     non_negative=("actor_layers", "critic_layers", "model_wd", "actent", "slowreg", "loss_image", "loss_vector",
                                   "loss_reward", "loss_cont", "loss_dyn", "loss_rep", "learning_starts", "imag_starts"),
                     probabilities=("actor_unimix", "return_lambda", "retnorm_decay", "slow_critic_fraction"))
        at_most(self, "replay_capacity", 10**9)
        check_values(self, positive=("critic_bins",))
        if self.chunk_start not in CHUNK_STARTS:
            raise ValueError(f"chunk_start: expected one of {', '.join(CHUNK_STARTS)}, got {self.chunk_start!r}")
        if isinstance(self.world_model, str):
            self.world_model = {"name": self.world_model}
        if self.model is not None:
            if "policy.model" not in _NOTICED:  # once per process, as the core's notice for renamed components
                _NOTICED.add("policy.model")
                print("intarsia: policy.model is now policy.world_model (e.g. policy.world_model.deter=512); "
                      "the old key will be removed", file=sys.stderr)
            old = self.model if isinstance(self.model, dict) else dict(self.model)
            self.world_model = {**old, **dict(self.world_model or {})}
            self.model = None


@dataclass
class MemoryLengthConfig:
    """BSuite memory_length (MemoryChain)."""

    memory_length: int = 10
    """steps between the cue (first observation) and the query (last)"""
    num_bits: int = 1
    """context bits; the query asks for one of them"""
    seed: int | None = None
    """env RNG seed (the runner also seeds through reset)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("memory_length", "num_bits"))


@dataclass
class DiscountingChainConfig:
    """BSuite discounting_chain."""

    mapping_seed: int | None = None
    """seed of the action->chain permutation (None: random)"""
    reward_delays: list = field(default_factory=lambda: [1, 3, 10, 30, 100])
    """delays of the 5 chains"""

    def __post_init__(self) -> None:
        # the env itself refuses delays over its horizon (100); here: at least two chains to choose from, each
        # paying after a positive delay
        if len(self.reward_delays) < 2:
            raise ValueError(f"reward_delays: expected a delay per chain (at least 2), got {list(self.reward_delays)}")
        check_values(self, positive=("reward_delays",))


@dataclass
class PopGymConfig:
    """A POPGym environment through the flat-observation adapter."""

    env: str = "RepeatPreviousEasy"
    """popgym class name (RepeatPrevious*/Autoencode*/Concentration*...)"""

    def __post_init__(self) -> None:
        if not self.env.isidentifier():
            raise ValueError(f"env: expected a popgym class name such as 'RepeatPreviousEasy', got {self.env!r}")


@dataclass
class AtariConfig:
    """An ALE game, 64x64 RGB, action repeat 4, as DreamerV3/R2I run Atari."""

    game: str = "Pong"
    """ALE game name"""
    size: int = 64
    """square output resolution"""
    repeat: int = 4
    """frameskip"""
    sticky: bool = False
    """sticky actions (Atari100k: off)"""
    max_episode_steps: int = 27000
    """env-step cap (108k frames)"""
    noops: int = 30
    """random no-op frames in [0, noops) after each reset (official atari100k: 30)"""
    time_limit_terminal: bool = True
    """reaching max_episode_steps ends the episode as a terminal (official: is_terminal = is_last); false: a
    truncation (the value bootstraps)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("size", "repeat", "max_episode_steps"), non_negative=("noops",))


@dataclass
class DMCConfig:
    """A DeepMind Control task rendered to pixels."""

    domain: str = "walker"
    """suite domain"""
    task: str = "walk"
    """suite task"""
    size: int = 64
    """square render size"""
    repeat: int = 2
    """action repeat"""
    camera: int = 0
    """camera id"""
    pixels: bool = True
    """image observations (else the flattened proprioceptive state)"""

    def __post_init__(self) -> None:
        check_values(self, positive=("size", "repeat"), non_negative=("camera",))


MEMORY_MAZE_SIZES = ("9x9", "11x11", "13x13", "15x15")
"""the maze sizes Memory Maze registers"""


@dataclass
class MemoryMazeConfig:
    """Memory Maze (Pasukonis et al., 2022) through its gym 0.26 registration."""

    size: str = "9x9"
    """9x9, 11x11, 13x13 or 15x15"""

    def __post_init__(self) -> None:
        if self.size not in MEMORY_MAZE_SIZES:
            raise ValueError(f"size: expected one of {', '.join(MEMORY_MAZE_SIZES)}, got {self.size!r}")
