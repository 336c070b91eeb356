"""Config dataclasses of the capprobe job and analyses (every field documented; YAML/overrides fill them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from intarsia.runner.run_config import CheckpointConfig, RunConfig, at_most, check_values

PRIOR_LEVELS = {"low": 0.02, "medium": 0.2, "high": 1.0}
"""Default pre-training frequency of the fine-tuning operand, per named prior (see ``TaskConfig.prior``)."""

LR_LEVELS = {"S": 0.001, "M": 0.01, "L": 0.1}
"""The paper's named fine-tuning LRs as ratios to the pre-training LR: η_L = η_PT/10, η_M = η_PT/100,
η_S = η_PT/1000 (App. C.2: 1e-4, 1e-5, 1e-6 with η_PT = 1e-3)."""
OPERAND_PRIORS = {"low": [0.999, 0.001, 0.0], "medium": [0.9, 0.1, 0.0], "high": [0.5, 0.3, 0.2]}
"""PCFG: pre-training shares of the operands (a, b, c) per named prior, the paper's (App. B.2); b is the
fine-tuning operand, c never appears as an operand at the low and medium priors."""


def _probabilities(name: str, values: Any) -> None:
    """Every entry of a list (or a mapping's values) in [0, 1], or a ``ValueError`` naming the key."""
    for v in values.values() if isinstance(values, dict) else values:
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name}: every entry must be a probability in [0, 1], got {v}")


@dataclass
class TaskConfig:
    """Which procedural task pair (original capability -> fine-tuning task) the data generator makes."""

    kind: str = "counter"
    """``counter`` (Tracr-style: count token a, fine-tune to count b), ``pcfg`` (windows of PCFG strings;
    counting and index-of-occurrence tasks named by a task token and an operand token in the prompt) or
    ``maxid`` (max identifier: name the largest letter, fine-tune to name the smallest)"""
    seq_len: int = 12
    """string length (pcfg: the window, the paper's 250)"""
    max_count: int = 5
    """counter: counts of a and of b are drawn from 0..max_count"""
    letters: int = 6
    """size of the string alphabet (a, b, c, ...); counter: a and b are the operands, the rest distractors"""
    relation: str = "successor"
    """on correlated fine-tuning samples the new task's answer equals f(old answer): ``identity`` (f(n)=n),
    ``successor`` (f(n)=n+1) or ``mirror`` (f(n)=letters-1-n, for ``maxid``); with ``identity`` and the counter's shared prompt a correlated set would
    not change the labels at all, so ``successor`` is the counter's default (a wrapper with something to do)"""
    prior: str = "high"
    """pre-training frequency of the fine-tuning operand: ``low``, ``medium`` or ``high``. counter: the
    probability (``prior_levels``) that token b occurs in a pre-training string at all; pcfg: the operand
    shares (``operand_priors``) of a, b, c in pre-training prompts"""
    prior_levels: dict[str, float] = field(default_factory=lambda: dict(PRIOR_LEVELS))
    """counter: the number behind each prior name (P(b occurs in a pre-training string)); unused by maxid"""
    index_share: float = 0.5
    """pcfg: share of pre-training prompts that ask for the index of an occurrence (rest: count)"""
    min_len: int = 6
    """pcfg: shortest grammar sentence kept (windows are grammar sentences joined and cut to ``seq_len``)"""
    count_window: int = 0
    """count only over the last this many string positions (0: the whole string). The paper's PCFG counts
    over the last 40 of its 250-token windows; a windowed counter (a's in the last 10 of 40 letters) keeps
    the count from being a linear function of the mean embedding, so the count probe discriminates"""
    occurrence: int = 6
    """pcfg: the index task asks for the position of this occurrence of the operand (the paper's 6th;
    ``seq_len`` when the string has fewer)"""
    operand_priors: dict[str, list[float]] = field(default_factory=lambda: {k: list(v) for k, v in OPERAND_PRIORS.items()})
    """pcfg: per prior name, the pre-training shares of the operands a, b, c (normalised; the paper's by default)"""
    next_token: bool = False
    """pcfg: the stages trained on the pre-training split (pre-training, reverse fine-tuning, from scratch)
    score next-token prediction on the whole string as well as the answer (the paper's pre-training);
    false: the answer token only. Fine-tuning always scores the answer only"""
    control_letter: int = 2
    """the letter (0 = a) whose windowed count is the not-in-pretraining probe target (default c: never
    counted by the counter, never an operand at the PCFG's low and medium priors)"""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, positive=("seq_len", "letters", "min_len", "occurrence"),
                     non_negative=("max_count", "count_window", "control_letter"), probabilities=("index_share",))
        at_most(self, "seq_len", 4096)
        _probabilities("prior_levels", self.prior_levels)
        for name, shares in self.operand_priors.items():
            if len(shares) != 3 or min(shares) < 0 or sum(shares) <= 0:
                raise ValueError(f"operand_priors.{name}: expected three non-negative shares (a, b, c), got {shares}")


@dataclass
class ModelConfig:
    """A minGPT-style decoder: token + position embeddings, pre-LN blocks (causal attention, GELU MLP)."""

    n_layer: int = 3
    """number of transformer blocks (one probe per block)"""
    n_head: int = 4
    """attention heads per block"""
    d_model: int = 64
    """residual stream width"""
    mlp_ratio: int = 4
    """MLP hidden width / d_model (the MLP hidden units are the neurons pruning scores)"""
    dropout: float = 0.0
    """dropout on embeddings, attention output and MLP output"""

    def __post_init__(self) -> None:
        check_values(self, positive=("n_layer", "n_head", "d_model", "mlp_ratio"), probabilities=("dropout",))
        at_most(self, "d_model", 65536)
        if self.d_model % self.n_head:
            raise ValueError(f"d_model: must be a multiple of n_head ({self.n_head}), got {self.d_model}")


@dataclass
class StageConfig:
    """One supervised stage run with the Lightning Trainer (AdamW, linear warm-up, then a constant or cosine LR)."""

    steps: int = 2000
    """optimizer steps (an upper bound when ``stop_at`` is set)"""
    lr: float = 1.0e-3
    """learning rate; fine-tuning stages multiply the pre-training LR by ``lr_ratio`` instead"""
    lr_ratio: float = 1.0
    """fine-tuning only: LR as a ratio to pre-training's (the paper's FT learning-rate axis)"""
    batch_size: int = 128
    """samples per optimizer step"""
    weight_decay: float = 0.0
    """AdamW weight decay"""
    warmup: int = 50
    """linear LR warm-up steps"""
    samples: int = 50000
    """size of the generated training set (epochs repeat it)"""
    correlation: float = 1.0
    """fine-tuning only: share of training samples whose new-task answer equals f(old answer)"""
    eval_every: int = 100
    """evaluate exact-match accuracy on the stage's eval set every this many steps (the learning curve)"""
    stop_at: float | None = None
    """stop once the eval accuracy reaches this (steps-to-threshold stages); None trains all ``steps``"""
    schedule: str = "constant"
    """LR after the warm-up: ``constant``, or ``cosine`` (decays to 0 at ``steps``; the paper's fine-tuning)"""
    warmup_fraction: float = 0.0
    """warm-up as a share of ``steps`` (the paper's fine-tuning: 0.2); 0 uses ``warmup`` steps instead"""
    lr_level: str = ""
    """the paper's named fine-tuning LR, ``S``, ``M`` or ``L`` (ratios to the pre-training LR in the job's
    ``lr_levels``): replaces ``lr_ratio`` (fine-tuning) or ``lr`` (the other stages) when set"""

    def __post_init__(self) -> None:
        check_values(self, positive=("steps", "lr", "lr_ratio", "batch_size", "samples"),
                     non_negative=("weight_decay", "warmup", "eval_every"),  # eval_every 0: no learning curve
                     probabilities=("correlation", "stop_at", "warmup_fraction"))
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule: expected 'constant' or 'cosine', got {self.schedule!r}")
        at_most(self, "steps", 10**9)
        at_most(self, "batch_size", 10**6)


@dataclass
class SweepConfig:
    """Fine-tuning grid: accuracy on the new task by prior x LR ratio x correlation (one FT run per cell)."""

    priors: list[str] = field(default_factory=lambda: ["low", "high"])
    """priors to pre-train a model for (the main prior's model is shared with the main pipeline)"""
    lr_ratios: list[float] = field(default_factory=lambda: [0.1, 1.0])
    """fine-tuning LR ratios (used when ``lr_levels`` is empty)"""
    correlations: list[float] = field(default_factory=lambda: [0.0, 0.5, 0.8, 1.0])
    """shares of correlated fine-tuning samples"""
    steps: int = 300
    """fine-tuning steps per cell"""
    enabled: bool = True
    """skip the grid (and its extra pre-trainings) when false"""
    lr_levels: list[str] = field(default_factory=list)
    """the paper's named fine-tuning LRs for the grid (``S``, ``M``, ``L``: see the job's ``lr_levels``);
    replace ``lr_ratios`` when given"""

    def __post_init__(self) -> None:
        check_values(self, positive=("lr_ratios", "steps"))
        _probabilities("correlations", self.correlations)


@dataclass
class ProbeConfig:
    """Linear probe per block on the residual stream at the answer position (multinomial logistic regression)."""

    module_pattern: str = r"^(drop|blocks\.\d+)$"
    """regex over ``model.named_modules()`` names: the modules whose outputs are probed (one probe each)"""
    train_fraction: float = 0.7
    """share of the samples the probe is fitted on; accuracy is reported on the rest"""
    max_iter: int = 500
    """L-BFGS iterations of the logistic regression"""
    C: float = 1.0
    """inverse L2 strength of the logistic regression"""
    seed: int = 0
    """seed of the train/test split"""
    batch_size: int = 512
    """forward-pass batch size while collecting activations"""

    def __post_init__(self) -> None:
        check_values(self, positive=("max_iter", "C", "batch_size"), probabilities=("train_fraction",))


@dataclass
class PruneConfig:
    """Saliency pruning: score neurons by weight x gradient of a loss, zero the top K; K random neurons as control.
    The default is the paper's (App. D, Alg. 3): the signed score, computed once, K from 5 to 15."""

    module_pattern: str = r"^blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(fc|proj))$"
    """regex over module names: ``nn.Linear`` layers whose output units are the neurons (row + bias zeroed);
    the default takes every linear layer inside the blocks (MLP hidden units, attention q/k/v units and
    the units the attention and MLP write into the residual stream)"""
    ks: list[int] = field(default_factory=lambda: [0, 5, 8, 10, 12, 15])
    """numbers of neurons pruned (the accuracy-against-neurons-pruned curve; the paper's K is 5 to 15)"""
    score: str = "signed"
    """``signed``: the sum of w x grad over a neuron's row and bias, the paper's score (the first-order estimate
    of how much zeroing the neuron lowers the loss: it ranks neurons whose removal helps, not those whose removal
    hurts); ``abs``: |w x grad| summed per neuron (an option: the magnitude, blind to the direction)"""
    method: str = "one-shot"
    """``one-shot``: score once, prune the top K (the paper's); ``iterative``: recompute the scores on the
    pruned model after every ``chunk`` neurons (an option)"""
    chunk: int = 4
    """``method: iterative`` only: neurons pruned between two scorings (ignored one-shot)"""
    random_repeats: int = 5
    """random-pruning draws averaged per K"""
    seed: int = 0
    """seed of the random control"""
    batch_size: int = 512
    """batch size of the saliency gradient and the evaluation"""

    def __post_init__(self) -> None:
        check_values(self, positive=("random_repeats", "batch_size"), non_negative=("chunk",))
        for k in self.ks:
            if k < 0:
                raise ValueError(f"ks: every entry must be >= 0, got {k}")
        if self.score not in ("abs", "signed"):
            raise ValueError(f"score: expected 'signed' or 'abs', got {self.score!r}")
        if self.method not in ("one-shot", "iterative"):
            raise ValueError(f"method: expected 'one-shot' or 'iterative', got {self.method!r}")
        if self.method == "iterative" and self.chunk < 1:
            raise ValueError(f"chunk: iterative pruning needs chunk >= 1, got {self.chunk}")


@dataclass
class AccuracyConfig:
    """Exact-match accuracy of the answer token, on each named eval set."""

    batch_size: int = 512
    """forward-pass batch size"""

    def __post_init__(self) -> None:
        check_values(self, positive=("batch_size",))


@dataclass
class CapprobeConfig(RunConfig):
    """pre-train -> fine-tune (correlated) -> the control model -> analyses -> reverse fine-tune against
    Scr.+FT and from scratch -> grid -> report.
    Where to run is the ``fabric:`` section (``fabric.accelerator``, ``fabric.precision``)."""

    MOVED_KEYS: ClassVar[dict[str, str]] = {"accelerator": "fabric.accelerator", "precision": "fabric.precision"}

    job: str = "capprobe"
    """the job's registered name"""
    name: str = "capprobe"
    """run name"""
    seed: int = 0
    """seed of the data generators and of every stage's initialisation"""
    task: TaskConfig = field(default_factory=TaskConfig)
    """the procedural task pair"""
    model: ModelConfig = field(default_factory=ModelConfig)
    """the transformer"""
    pretrain: StageConfig = field(default_factory=lambda: StageConfig(steps=3000, eval_every=250))
    """pre-training on the original task"""
    finetune: StageConfig = field(default_factory=lambda: StageConfig(
        steps=300, lr_level="L", schedule="cosine", warmup_fraction=0.2, eval_every=50))
    """fine-tuning on the new task (``correlation`` sets the spurious share): the paper's η_L with a cosine
    schedule and 20 % warm-up"""
    reverse: StageConfig = field(default_factory=lambda: StageConfig(steps=1500, lr_level="L", eval_every=10,
                                                                     stop_at=0.9))
    """reverse fine-tuning: the fine-tuned model trained back on the original task, at an LR at or below
    fine-tuning's (the paper's); the Scr.+FT baseline (a model pre-trained on the new task only, fine-tuned on
    the original task) runs with these same settings"""
    scratch: StageConfig = field(default_factory=lambda: StageConfig(steps=4000, eval_every=25, stop_at=0.9))
    """the second baseline: a fresh model trained on the original task"""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    """the prior x LR x correlation grid"""
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    """the linear-probe analysis"""
    prune: PruneConfig = field(default_factory=PruneConfig)
    """the saliency-pruning analysis"""
    prune_k: int = 15
    """K behind ``pruned_original_acc`` / ``random_pruned_original_acc`` (must be one of ``prune.ks``)"""
    analyses: list[dict] = field(default_factory=list)
    """further analyses built by name from the registry (``[{name: NAME, option: value, ...}]``), run on the
    fine-tuned model with the original-task rows (``input_ids``, ``positions``, ``labels``, ``targets``);
    their metrics are under the report's ``analyses.<name>``"""
    eval_samples: int = 2000
    """size of each generated test set"""
    probe_samples: int = 3000
    """samples the probes are fitted and tested on"""
    threshold: float = 0.9
    """accuracy that ``reverse_ft_steps``, ``scratch_ft_steps`` and ``scratch_steps`` count the steps to"""
    lr_levels: dict[str, float] = field(default_factory=lambda: dict(LR_LEVELS))
    """the paper's named fine-tuning LRs as ratios to ``pretrain.lr``: ``L`` = η_PT/10, ``M`` = η_PT/100,
    ``S`` = η_PT/1000 (a stage's or the grid's ``lr_level``/``lr_levels`` name them)"""
    checkpoint: CheckpointConfig = field(default_factory=lambda: CheckpointConfig(every=100))
    """each stage's fit checkpoints into ``checkpoints/<stage>/`` every ``every`` optimizer steps (a stage
    interrupted mid-fit resumes there); a finished stage's checkpoints are removed"""
    count_b_check_max: float = 0.5
    """before fine-tuning, the low-prior pre-trained model's new-task accuracy (uncorrelated test set)
    should be at most this; the report's ``checks.count_b_before_ft`` says whether it was (a warning if not)"""
