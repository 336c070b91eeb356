"""Configuration dataclasses of the Motif plugin (cheap to import: no torch, no gymnasium).

Every field carries a comment saying what it does; the defaults follow the paper / official code where it
states a value, and say so. ``omegaconf`` merges recipe YAML and ``a.b=c`` overrides into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from intarsia.runner.run_config import RunConfig, check_values


# --------------------------------------------------------------------------------------------------------------
# Stage 1: caption datasets
# --------------------------------------------------------------------------------------------------------------
@dataclass
class CollectConfig:
    """Run a registered policy in a captioned env and store every step's caption."""

    env: dict[str, Any] = field(default_factory=lambda: {"name": "CaptionedGrid-v0"})
    """env section: name + options"""
    policy: dict[str, Any] = field(default_factory=lambda: {"name": "random"})
    """policy section that acts"""
    steps: int = 20_000
    """env steps to record (summed over envs)"""
    num_envs: int = 4
    """vectorised envs used for collection"""
    seed: int = 0
    """env / policy seed"""

    def __post_init__(self) -> None:
        check_values(self, positive=("steps", "num_envs"))


@dataclass
class PairsConfig:
    """How caption pairs are sampled from the collected dataset."""

    num_pairs: int = 2_000
    """sampled pairs (with repetition): the reward model's training distribution"""
    sampling: str = "steps"
    """"steps": both captions drawn uniformly over recorded steps (the paper's dataset of observation pairs);
    "captions": drawn uniformly over *distinct* captions (rare events are then as frequent as common ones)"""
    include_empty: bool = True
    """keep steps with an empty caption (the paper keeps empty messages)"""
    seed: int = 0
    """sampling seed"""

    def __post_init__(self) -> None:
        check_values(self, positive=("num_pairs",))


# --------------------------------------------------------------------------------------------------------------
# Stage 2: annotation
# --------------------------------------------------------------------------------------------------------------
@dataclass
class PromptConfig:
    """The paper's prompt structure: a judge's system prompt, a goal, two captions and an answer format."""

    game: str = "NetHack"
    """name of the game the judge is told it watches"""
    goal: str = "default"
    """"default" (the env's default goal text), "zeroknowledge" (no goal: the paper's ablation) or "custom"
    (goal_text)"""
    goal_text: str = ""
    """the steering goal when goal == "custom" (or to replace the default goal text)"""
    style: str = "default"
    """"default" (descriptions) or "reworded" (messages): the paper's two templates"""


@dataclass
class AnnotatorConfig:
    """Who labels caption pairs. All annotators share one interface (``annotate(pairs) -> records``)."""

    kind: str = "llm"
    """"llm" (any intarsia-llm backend), "oracle" (env event scores) or "random" (random labels)"""
    llm: dict[str, Any] = field(default_factory=lambda: {"name": "gguf"})
    """intarsia-llm backend section"""
    mode: str = "logprobs"
    """"logprobs": score the answer options "1"/"2" (both caption orders, averaged: cancels position bias); "generate":
    let the model write its analysis and parse the answer (the paper), with one retry prompt"""
    both_orders: bool = True
    """logprobs mode: also ask with the captions swapped and average"""
    tie_margin: float = 0.0
    """logprobs mode: |P(first) - 0.5| <= margin is a tie"""
    judge: str = "paper"
    """logprobs mode: what the model is asked (judges.py). "paper": the paper's judge prompt scored on "1"/"2";
    "compact": a one-line task and "Message 1/2 ... More progress:" scored on " 1"/" 2" (room for few-shot examples);
    "pointwise" (not in the paper): a yes/no "Progress:" verdict per caption, pairs compared by the difference of the
    log-odds (order-consistent by construction). README: measured for each"""
    task_text: str = ""
    """compact / pointwise: the one-line task ("" = judges.TASK_TEXTS of prompt.game)"""
    few_shot: list[dict[str, Any]] = field(default_factory=list)
    """compact: labelled example pairs of the same task, [{first, second, label: 1|2}]; a collected pair that is an
    example is never asked (it takes the example's label) nor counted in the agreement statistics"""
    calibrate: bool = False
    """contextual calibration (Zhao et al. 2021): divide out the content-free bias"""
    content_free: list[str] = field(default_factory=lambda: ["N/A", ""])
    """calibration's content-free captions"""
    max_tokens: int = 4096
    """generate mode: completion budget (official: vLLM max_tokens=4096)"""
    temperature: float = 0.1
    """generate mode: sampling temperature (paper: 0.1)"""
    top_p: float = 0.95
    """generate mode: nucleus (paper: 0.95)"""
    batch_size: int = 8
    """pairs per LLM call (and per append to the annotation log)"""
    prompt: PromptConfig = field(default_factory=PromptConfig)
    """the judge's prompt: game, goal and template"""
    oracle_scores: dict[str, float] = field(default_factory=dict)
    """oracle: caption -> score. Keys are substrings (case-insensitive) of captions; the highest matching score wins,
    unmatched captions score 0. Empty means: use the env's own ``caption_scores`` mapping when it has one."""
    seed: int = 0
    """random annotator / LLM sampling seed"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_tokens", "batch_size"), non_negative=("tie_margin", "temperature"),
                     probabilities=("top_p",))


# --------------------------------------------------------------------------------------------------------------
# Stage 3: reward model
# --------------------------------------------------------------------------------------------------------------
@dataclass
class RewardModelConfig:
    """Bradley-Terry reward model over captions, trained with the Lightning Trainer."""

    encoder: str = "char_cnn"
    """"char_cnn" (the paper's byte-level CNN) or "token" (hashed word tokens)"""
    max_len: int = 256
    """bytes per caption (NetHack's message buffer is 256 bytes)"""
    char_embed_dim: int = 32
    """byte embedding width (paper's lt_cnn: 32)"""
    hidden_dim: int = 64
    """conv channels (paper's lt_cnn: 64)"""
    head_dims: list[int] = field(default_factory=lambda: [128, 256, 512])
    """widths of the ReLU MLP between the flattened trunk and the scalar output. Official: lt_cnn's fc (5*64 -> 128),
    then the TorchBeast encoder's fc (-> 256 -> 512), then reward_fn (ReLU, Linear -> 1)"""
    token_vocab: int = 4096
    """token encoder: hash buckets for words"""
    epochs: int = 10
    """passes over the training pairs (paper: 10)"""
    batch_size: int = 256
    """pairs per step (paper: 1024)"""
    lr: float = 3.0e-4
    """Adam learning rate (paper: 1e-5 with 500k pairs; small data needs larger steps)"""
    val_fraction: float = 0.2
    """held-out fraction (paper: 20%)"""
    val_split: str = "random"
    """"random": a random split of the sampled pairs (the paper; a pair may occur on both sides); "pair": hold out whole
    distinct pairs, so held-out accuracy measures generalisation to unseen pairs"""
    unknown_as_tie: bool = False
    """false (official): UNKNOWN (unparsed) labels are dropped before training, as the official ``PairsDataset`` masks
    them out before the training loop turns the remaining labels > 1 (ties) into 0.5; true counts them as ties"""
    init: str = "orthogonal"
    """"orthogonal" (official, sample-factory's ``initialize_weights``): every ``Linear`` weight orthogonal with gain
    ``init_gain`` and its bias zero; the convolutions (``Conv1d``, which that rule's ``Conv2d`` check skips) and the
    embedding keep PyTorch's defaults. "torch": PyTorch's defaults everywhere"""
    init_gain: float = 1.0
    """gain of the orthogonal init (official ``--policy_init_gain`` default 1.0)"""
    seed: int = 0
    """init / split seed"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_len", "char_embed_dim", "hidden_dim", "head_dims", "token_vocab", "epochs",
                                     "batch_size", "lr", "init_gain"), probabilities=("val_fraction",))
        if self.init not in ("orthogonal", "torch"):
            raise ValueError(f"reward_model.init must be 'orthogonal' or 'torch', got {self.init!r}")


# --------------------------------------------------------------------------------------------------------------
# Stage 4: the intrinsic reward (registered as reward "motif")
# --------------------------------------------------------------------------------------------------------------
@dataclass
class MotifRewardConfig:
    """r_int = 1[r_norm > eps] * r_norm / N(c)^beta, with r_norm the normalised reward-model output."""

    reward_model: str = ""
    """path of the trained reward model file (reward_model.pt); required"""
    beta: float = 3.0
    """count exponent (paper: 3)"""
    threshold_quantile: float = 0.5
    """eps = this quantile of r_norm over unique training captions (paper: 0.5)"""
    normalize: bool = True
    """standardise with the mean/std saved at training time (paper: rew_norm)"""
    count_empty: bool = True
    """count empty captions like any other (the paper counts every message)"""
    scored_caption: str = "obs"
    """which caption step t's reward scores. "obs": the caption of the observation the action is taken from (the
    official learner scores mb.obs with its msg_count, so a message pays one step after it appears and an episode's
    last message is never scored); "next": the caption the step produced"""
    message_key: str = ""
    """"obs" mode: decode the caption from this key of the observation (MotifNetHack-v0: "message", the official
    source). Empty: the caption the previous step produced in that env, and "" at an episode's first step (the runner
    does not hand reward terms the reset info; the core gridworld's is "" anyway)"""
    device: str = "cpu"
    """where the reward model runs"""

    def __post_init__(self) -> None:
        check_values(self, non_negative=("beta",), probabilities=("threshold_quantile",))


# --------------------------------------------------------------------------------------------------------------
# Stage 5: the RL agent (policy "ppo")
# --------------------------------------------------------------------------------------------------------------
@dataclass
class PPOConfig:
    """Recurrent PPO (GRU core) -- a synchronous stand-in for the paper's APPO (sample-factory)."""

    rollout: int = 128
    """steps per env between updates"""
    epochs: int = 4
    """optimisation passes per rollout"""
    minibatches: int = 4
    """minibatches per epoch (split over envs so sequences stay whole for the GRU)"""
    lr: float = 3.0e-4
    """Adam learning rate"""
    gamma: float = 0.99
    """discount"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    clip: float = 0.2
    """policy ratio clip"""
    value_clip: float = 0.2
    """value clip (sample-factory style); 0 disables"""
    value_coef: float = 0.5
    """value loss weight"""
    entropy_coef: float = 0.01
    """entropy bonus weight"""
    max_grad_norm: float = 0.5
    """gradient clipping"""
    hidden: int = 128
    """encoder / GRU width"""
    recurrent: bool = True
    """GRU core (the paper's agent is an LSTM/GRU APPO agent); false = MLP only"""
    reward_scale: float = 1.0
    """sample-factory's --reward_scale and --reward_clip act on the *environment* reward only (actor worker), before the
    learner weights it (extrinsic coef) and adds the intrinsic terms unscaled. So here the extrinsic term becomes
    coef * clip(reward_scale * env_reward, +-reward_clip); other terms are untouched; paper: 0.1 on NetHack"""
    reward_clip: float = 10.0
    """sample-factory's default; 0 disables"""
    normalize_advantage: bool = True
    """standardise advantages per minibatch"""
    seed: int = 0
    """network init seed"""

    def __post_init__(self) -> None:
        check_values(self, positive=("rollout", "epochs", "minibatches", "lr", "hidden"),
                     non_negative=("clip", "value_clip", "value_coef", "entropy_coef", "max_grad_norm", "reward_scale",
                                   "reward_clip"), probabilities=("gamma", "gae_lambda"))


# --------------------------------------------------------------------------------------------------------------
# Environments (NetHack through nle)
# --------------------------------------------------------------------------------------------------------------
@dataclass
class NetHackConfig:
    """A NetHack task from ``nle`` with the in-game message as ``info["caption"]``."""

    task: str = "NetHackScore-v0"
    """nle gymnasium id (NetHackScore-v0, NetHackStaircase-v0, ...)"""
    max_episode_steps: int = 5000
    """episode cap"""
    crop: int = 9
    """side of the character crop around the hero in the compact observation"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_episode_steps", "crop"))


# --------------------------------------------------------------------------------------------------------------
# Stage 6: the end-to-end pipeline job ("motif-pipeline")
# --------------------------------------------------------------------------------------------------------------
@dataclass
class PipelineConfig(RunConfig):
    """collect -> annotate -> train reward model -> train an agent with the composed reward -> report.

    The top-level ``fabric:`` section says where the reward model is fitted; the agent stage is a child run with
    its own ``train.fabric:`` section, and the Motif reward term runs on that run's device."""

    MOVED_KEYS: ClassVar[dict[str, str]] = {"reward_model.accelerator": "fabric.accelerator",
                                            "motif.device": "train.fabric.accelerator"}

    job: str = "motif-pipeline"
    """the job's registered name"""
    name: str = "motif"
    """run name"""
    seed: int = 0
    """seed for every stage (each stage config has its own seed too)"""
    collect: CollectConfig = field(default_factory=CollectConfig)
    """stage 1: the policy and env whose captions are recorded"""
    pairs: PairsConfig = field(default_factory=PairsConfig)
    """how caption pairs are sampled for annotation"""
    annotator: AnnotatorConfig = field(default_factory=AnnotatorConfig)
    """stage 2: who labels the caption pairs"""
    compare_with: list[str] = field(default_factory=lambda: ["oracle"])
    """extra annotators whose labels are compared with the main one (agreement statistics); e.g. ["oracle"]"""
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    """stage 3: the Bradley-Terry reward model over captions (fitted on ``fabric:``)"""
    train: dict[str, Any] = field(default_factory=dict)
    """the core train job's config (env, policy, steps, extrinsic_coef, fabric, ...); the pipeline adds the motif
    term"""
    motif: dict[str, Any] = field(default_factory=lambda: {"coef": 0.1})
    """motif reward section (coef, beta, ...); it runs on the agent run's device (``train.fabric``)"""
    baseline: bool = False
    """also train the same agent on the extrinsic reward alone (for the report)"""
    top_k_captions: int = 10
    """how many highest/lowest rewarded captions the report lists"""
    skip_train: bool = False
    """stop after the reward model (for annotation-only studies)"""
