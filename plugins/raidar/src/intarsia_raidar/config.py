"""The detector's configuration (cheap to import: the registry reads it when listing components)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intarsia.runner.run_config import check_values


@dataclass
class RaidarConfig:
    """Everything that defines a Raidar detector. Saved inside the model file, so a loaded detector
    rewrites and featurises exactly as the one that was trained."""

    # --- rewriting -------------------------------------------------------------------------------
    prompt_set: str = "prose"
    """Named prompt list: ``prose`` (the paper's 7 text prompts) or ``code`` (its 5 code prompts)."""
    prompts: list[str] = field(default_factory=list)
    """Explicit rewrite prompts; when non-empty they replace ``prompt_set``. In offline mode the prompts
    are the keys of the precomputed records (everything besides ``"input"``), whatever this says."""
    template: str = ""
    """How a prompt and a text become the LLM request, with ``{prompt}`` and ``{text}``; empty uses the
    prompt set's own (``"{prompt}: {text}"`` for prose, as in the paper)."""
    llm: str = "gguf"
    """Name of the ``intarsia-llm`` backend that rewrites (``gguf`` = embedded Gemma 3 270M)."""
    llm_options: dict[str, Any] = field(default_factory=dict)
    """Options for that backend's config (e.g. ``{"model_path": ...}`` or ``{"base_url": ...}``)."""
    chat: bool = True
    """Send the request as one user chat message (the paper used the chat API); False sends a plain
    completion prompt."""
    max_tokens: int = 0
    """Generation budget per rewrite; 0 = automatic (1.6 tokens per input word + 32, at least 64)."""
    temperature: float = 0.0
    """Sampling temperature. The paper used the API default; 0 makes rewrites (and the cache) deterministic."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = off)."""
    rewrite_seed: int = 0
    """Seed passed to the backend for sampled rewrites."""
    max_words: int = 500
    """Texts longer than this many words are truncated (with a warning) before rewriting, so prompt and
    rewrite fit the model's context (500 words + their rewrite fit the embedded model's 2048 tokens);
    features are then computed on the truncated text. Precomputed records are never truncated."""

    # --- features --------------------------------------------------------------------------------
    include_input: bool = True
    """Treat the input itself as one more "rewrite" (the official code does: its loop over the record's
    keys includes ``"input"``). On by default for fidelity."""
    ngram_max: int = 4
    """Largest word n-gram whose shared count is a feature (official: 1..4)."""
    round_similarities: bool = True
    """Round ``ratio``/``token_set_ratio`` to integers as fuzzywuzzy (the paper's library) returns them."""
    similarity_processor: str = "fuzzywuzzy"
    """Pre-processing of ``token_set_ratio``: ``fuzzywuzzy`` (drop U+0080-U+00FF, non-word characters
    to spaces, lower-case, strip: what the paper's library did) or ``rapidfuzz`` (its ``default_process``)."""

    # --- classifier ------------------------------------------------------------------------------
    classifier: str = "logistic"
    """``logistic`` (default), ``gbt`` (gradient-boosted trees), ``mlp`` or ``xgboost`` (if installed)."""
    class_weight: str = "balanced"
    """``balanced`` weights each class by n / (2 n_class) when fitting, so the minority class (often the
    machine-generated one, the positive class of F1) is not ignored at the 0.5 threshold; ``none`` fits
    unweighted, as the official scripts did. The paper does not discuss class imbalance."""
    standardize: bool = True
    """Standardise features before the classifier (the similarities are 0-100, the overlaps 0-1). The
    official scripts fit the logistic regression on unscaled features (``false``)."""
    max_iter: int = 100
    """Iteration cap of the logistic regression's lbfgs solver (scikit-learn's default 100, which the
    official ``LogisticRegression()`` uses; with ``standardize: false`` it may stop unconverged)."""
    seed: int = 42
    """Seed of the classifier (the official scripts used ``random_state=42``)."""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, positive=("max_words", "ngram_max", "max_iter"), non_negative=("max_tokens", "temperature"),
                     probabilities=("top_p",))
        if self.top_p == 0:
            raise ValueError("top_p: must be in (0, 1], got 0")
